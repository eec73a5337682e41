package quantize

import (
	"math"
	"sync"

	"github.com/sattva/sattva/half"
)

func abs32(f float32) float32 { return math.Float32frombits(math.Float32bits(f) &^ (1 << 31)) }

// fp16Table holds half.ToFloat32GGML of every half, for decoding whole rows (ggml's
// CPU backend keeps the same table); 256 KiB, built on first use.
var fp16Table = sync.OnceValue(func() *[1 << 16]float32 {
	t := new([1 << 16]float32)
	for i := range t {
		t[i] = half.ToFloat32GGML(uint16(i))
	}
	return t
})

// decodeF16 converts little-endian halves in src to float32 in dst.
func decodeF16(dst []float32, src []byte) {
	t := fp16Table()
	src = src[:2*len(dst)]
	for i := range dst {
		dst[i] = t[uint16(src[2*i])|uint16(src[2*i+1])<<8]
	}
}
