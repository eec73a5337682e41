//go:build unix

package cputime

import "syscall"

// Seconds is the CPU time (user + system) this process has used: the
// honest denominator for a throughput on a machine shared with other work.
func Seconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}
