package quantize

// qxInit16, qxStep16 and qxLevels16 are qxInit16Go, qxStep16Go and
// qxLevels16Go in AVX2 (qx16_amd64.s).
//
//go:noescape
func qxInit16(q *qx16, qw *[16][16]float32, nmax int32)

//go:noescape
func qxStep16(q *qx16, num float32, nmax int32)

//go:noescape
func qxLevels16(q *qx16, nmax int32)
