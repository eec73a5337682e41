package quantize

import (
	"os"

	"golang.org/x/sys/cpu"
)

// useAVX2 says whether the Q4_K, Q5_K and Q6_K sub-block searches run all
// the sub-blocks of a super-block at once in AVX2 (qkx8, qx16) or two at a
// time in scalar Go (qkxBlock, qxBlock), the path of CPUs without AVX2,
// which SATTVA_QUANTIZE_SCALAR=1 selects too (the bytes are the same;
// benchmarks time one beside the other). Tests set it to check one against
// the other.
var useAVX2 = cpu.X86.HasAVX2 && os.Getenv("SATTVA_QUANTIZE_SCALAR") == ""

// qkxStep8 is qkxStep8Go in AVX2, all eight lanes at once.
//
//go:noescape
func qkxStep8(q *qkx8, num float32, nmax int32)

// qkxLevels8 is qkxLevels8Go in AVX2.
//
//go:noescape
func qkxLevels8(q *qkx8, nmax int32)

// qkxInitW8 is qkxInitW8Go in AVX2.
//
//go:noescape
func qkxInitW8(q *qkx8, qw *[32][8]float32, sigma2 float32, nmax int32, sw *[8]float32)
