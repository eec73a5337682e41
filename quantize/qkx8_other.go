//go:build !amd64

package quantize

// useQkx8 is false without AVX2: the scalar two-at-a-time search
// (qkxBlock) is the faster one there. Tests set it to check qkx8 too.
var useQkx8 = false

func qkxStep8(g *qkx8, num float32, nmax int32) { qkxStep8Go(g, num, nmax) }
