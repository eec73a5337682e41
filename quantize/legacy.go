package quantize

import (
	"encoding/binary"
	"math"

	"github.com/sattva/sattva/half"
)

// Block layouts of ggml's 32-element formats (ggml-common.h):
//
//	Q4_0: d f16, qs[16]                 18 bytes
//	Q4_1: d f16, m f16, qs[16]          20 bytes
//	Q5_0: d f16, qh[4], qs[16]          22 bytes
//	Q5_1: d f16, m f16, qh[4], qs[16]   24 bytes
//	Q8_0: d f16, qs[32] int8            34 bytes

const qk32 = 32

func putF16(b []byte, f float32) { binary.LittleEndian.PutUint16(b, half.FromFloat32GGML(f)) }
func getF16(b []byte) float32    { return half.ToFloat32GGML(binary.LittleEndian.Uint16(b)) }

// f32ToI8 converts like C's (int8_t)f on x86-64: truncate toward zero to
// int32, then keep the low byte.
func f32ToI8(f float32) int8 { return int8(int32(f)) }

func minI(a, b int32) int32 {
	if a < b {
		return a
	}
	return b
}

// quantizeBlockQ4_0 is quantize_row_q4_0_ref for one block.
func quantizeBlockQ4_0(x *[32]float32, y *[18]byte) {
	max, _ := signedAbsMax(x[:])
	d := max / -8
	var id float32
	if d != 0 {
		id = 1 / d
	}
	putF16(y[0:2], d)
	for j := 0; j < 16; j++ {
		x0 := float32(x[j] * id)
		x1 := float32(x[16+j] * id)
		xi0 := uint8(minI(15, int32(f32ToI8(x0+8.5))))
		xi1 := uint8(minI(15, int32(f32ToI8(x1+8.5))))
		y[2+j] = xi0 | xi1<<4
	}
}

// minScale is the shared start of quantize_row_q4_1_ref and q5_1_ref: the
// block's minimum, the step d = (max-min)/levels and its inverse (0 when d is 0).
func minScale(x *[32]float32, levels float32) (min, d, id float32) {
	min = float32(math.MaxFloat32)
	max := float32(-math.MaxFloat32)
	for _, v := range x {
		if v < min {
			min = v
		}
		if v > max {
			max = v
		}
	}
	d = (max - min) / levels
	if d != 0 {
		id = 1 / d
	}
	return min, d, id
}

func quantizeBlockQ4_1(x *[32]float32, y *[20]byte) {
	min, d, id := minScale(x, 15)
	putF16(y[0:2], d)
	putF16(y[2:4], min)
	for j := 0; j < 16; j++ {
		x0 := float32((x[j] - min) * id)
		x1 := float32((x[16+j] - min) * id)
		xi0 := uint8(minI(15, int32(f32ToI8(x0+0.5))))
		xi1 := uint8(minI(15, int32(f32ToI8(x1+0.5))))
		y[4+j] = xi0 | xi1<<4
	}
}

func quantizeBlockQ5_0(x *[32]float32, y *[22]byte) {
	max, _ := signedAbsMax(x[:])
	d := max / -16
	var id float32
	if d != 0 {
		id = 1 / d
	}
	putF16(y[0:2], d)
	var qh uint32
	for j := 0; j < 16; j++ {
		x0 := float32(x[j] * id)
		x1 := float32(x[16+j] * id)
		xi0 := uint8(minI(31, int32(f32ToI8(x0+16.5))))
		xi1 := uint8(minI(31, int32(f32ToI8(x1+16.5))))
		y[6+j] = xi0&0x0F | (xi1&0x0F)<<4
		qh |= uint32(xi0&0x10) >> 4 << j
		qh |= uint32(xi1&0x10) >> 4 << (j + 16)
	}
	binary.LittleEndian.PutUint32(y[2:6], qh)
}

func quantizeBlockQ5_1(x *[32]float32, y *[24]byte) {
	min, d, id := minScale(x, 31)
	putF16(y[0:2], d)
	putF16(y[2:4], min)
	var qh uint32
	for j := 0; j < 16; j++ {
		x0 := float32((x[j] - min) * id)
		x1 := float32((x[16+j] - min) * id)
		xi0 := uint8(int32(x0 + 0.5))
		xi1 := uint8(int32(x1 + 0.5))
		y[8+j] = xi0&0x0F | (xi1&0x0F)<<4
		qh |= uint32(xi0&0x10) >> 4 << j
		qh |= uint32(xi1&0x10) >> 4 << (j + 16)
	}
	binary.LittleEndian.PutUint32(y[4:8], qh)
}

// roundAwayI is (int)roundf(f) for |f| < 2^30: f ± 1/2 is exact in float64,
// and the conversion truncates toward zero, so halves go away from zero.
func roundAwayI(f float32) int32 {
	t := float64(f)
	return int32(t + math.Copysign(0.5, t))
}

// Importance-weighted versions (quantize_row_q*_impl), used when an imatrix
// is given. sigma2 is sum(x^2)/n over the whole row, as ggml computes it.

func rowSigma2(x []float32) float32 {
	var s float32
	for _, v := range x {
		s += float32(v * v)
	}
	return s / float32(len(x))
}

func imatrixWeights(w *[32]float32, x *[32]float32, qw *[32]float32, sigma2 float32) {
	for j := range w {
		w[j] = qw[j] * sqrt32(sigma2+float32(x[j]*x[j]))
	}
}

func quantizeBlockQ4_0W(x *[32]float32, y *[18]byte, qw *[32]float32, sigma2 float32, s *scratch) {
	imatrixWeights(&s.w32, x, qw, sigma2)
	L := s.li8[:32]
	d := makeQxQuants(x[:], L, 8, s.w32[:])
	putF16(y[0:2], d)
	for j := 0; j < 16; j++ {
		y[2+j] = uint8(L[j]) | uint8(L[j+16])<<4
	}
}

func quantizeBlockQ4_1W(x *[32]float32, y *[20]byte, qw *[32]float32, sigma2 float32, s *scratch) {
	imatrixWeights(&s.w32, x, qw, sigma2)
	L := s.lu8[:32]
	var min float32
	d := makeQkx3Quants(x[:], s.w32[:], L, s.laux[:32], 15, &min, -0.9, 0.05, 36)
	putF16(y[0:2], d)
	putF16(y[2:4], -min)
	for j := 0; j < 16; j++ {
		y[4+j] = L[j] | L[j+16]<<4
	}
}

func quantizeBlockQ5_0W(x *[32]float32, y *[22]byte, qw *[32]float32, sigma2 float32, s *scratch) {
	imatrixWeights(&s.w32, x, qw, sigma2)
	L := s.li8[:32]
	d := makeQxQuants(x[:], L, 16, s.w32[:])
	putF16(y[0:2], d)
	var qh uint32
	for j := 0; j < 16; j++ {
		xi0 := uint8(L[j])
		xi1 := uint8(L[j+16])
		y[6+j] = xi0&0x0F | (xi1&0x0F)<<4
		qh |= uint32(xi0&0x10) >> 4 << j
		qh |= uint32(xi1&0x10) >> 4 << (j + 16)
	}
	binary.LittleEndian.PutUint32(y[2:6], qh)
}

func quantizeBlockQ5_1W(x *[32]float32, y *[24]byte, qw *[32]float32, sigma2 float32, s *scratch) {
	imatrixWeights(&s.w32, x, qw, sigma2)
	L := s.lu8[:32]
	var min float32
	d := makeQkx3Quants(x[:], s.w32[:], L, s.laux[:32], 31, &min, -0.9, 0.05, 36)
	putF16(y[0:2], d)
	putF16(y[2:4], -min)
	var qh uint32
	for j := 0; j < 16; j++ {
		xi0 := L[j]
		xi1 := L[j+16]
		y[8+j] = xi0&0x0F | (xi1&0x0F)<<4
		qh |= uint32(xi0&0x10) >> 4 << j
		qh |= uint32(xi1&0x10) >> 4 << (j + 16)
	}
	binary.LittleEndian.PutUint32(y[4:8], qh)
}

func dequantizeBlockQ4_0(x *[18]byte, y *[32]float32) {
	d := getF16(x[0:2])
	for j := 0; j < 16; j++ {
		y[j] = float32(int32(x[2+j]&0x0F)-8) * d
		y[j+16] = float32(int32(x[2+j]>>4)-8) * d
	}
}

func dequantizeBlockQ4_1(x *[20]byte, y *[32]float32) {
	d := getF16(x[0:2])
	m := getF16(x[2:4])
	for j := 0; j < 16; j++ {
		y[j] = float32(float32(x[4+j]&0x0F)*d) + m
		y[j+16] = float32(float32(x[4+j]>>4)*d) + m
	}
}

func dequantizeBlockQ5_0(x *[22]byte, y *[32]float32) {
	d := getF16(x[0:2])
	qh := binary.LittleEndian.Uint32(x[2:6])
	for j := 0; j < 16; j++ {
		xh0 := uint8((qh>>j)<<4) & 0x10
		xh1 := uint8(qh>>(j+12)) & 0x10
		y[j] = float32(int32(x[6+j]&0x0F|xh0)-16) * d
		y[j+16] = float32(int32(x[6+j]>>4|xh1)-16) * d
	}
}

func dequantizeBlockQ5_1(x *[24]byte, y *[32]float32) {
	d := getF16(x[0:2])
	m := getF16(x[2:4])
	qh := binary.LittleEndian.Uint32(x[4:8])
	for j := 0; j < 16; j++ {
		xh0 := uint8((qh>>j)<<4) & 0x10
		xh1 := uint8(qh>>(j+12)) & 0x10
		y[j] = float32(float32(x[8+j]&0x0F|xh0)*d) + m
		y[j+16] = float32(float32(x[8+j]>>4|xh1)*d) + m
	}
}
