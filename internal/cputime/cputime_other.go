//go:build !unix

package cputime

func Seconds() float64 { return 0 }
