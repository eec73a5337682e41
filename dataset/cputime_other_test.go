//go:build !unix

package dataset

func cpuSeconds() float64 { return 0 }
