//go:build !amd64

package quantize

func qxInit16(g *qx16, qw *[16][16]float32, nmax int32) { qxInit16Go(g, qw, nmax) }

func qxStep16(g *qx16, num float32, nmax int32) { qxStep16Go(g, num, nmax) }

func qxLevels16(g *qx16, nmax int32) { qxLevels16Go(g, nmax) }
