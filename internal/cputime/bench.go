// Package cputime measures the CPU time of the process, for benchmarks on a
// machine shared with other work: bytes per CPU-second stay honest where
// wall-clock MB/s follows the load.
package cputime

import "testing"

// Bench runs body once per b.Loop iteration: b's MB/s is of data, and
// MB/cpu-s divides the same bytes by the process's CPU time (all goroutines,
// from getrusage; not reported where the platform has none), which a
// parallel body spends more of.
func Bench(b *testing.B, data []byte, body func()) {
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	cpu0, n := Seconds(), 0
	for b.Loop() {
		n++
		body()
	}
	if cpu := Seconds() - cpu0; cpu > 0 && n > 0 {
		b.ReportMetric(float64(len(data))*float64(n)/1e6/cpu, "MB/cpu-s")
	}
}
