//go:build !amd64

package quantize

// useAVX2 is false without AVX2: the scalar two-at-a-time searches
// (qkxBlock, qxBlock) are the faster ones there. Tests set it to check
// qkx8 and qx16 (their Go twins here) too.
var useAVX2 = false

func qkxStep8(g *qkx8, num float32, nmax int32) { qkxStep8Go(g, num, nmax) }

func qkxLevels8(g *qkx8, nmax int32) { qkxLevels8Go(g, nmax) }

func qkxInitW8(g *qkx8, qw *[32][8]float32, sigma2 float32, nmax int32, sw *[8]float32) {
	qkxInitW8Go(g, qw, sigma2, nmax, sw)
}
