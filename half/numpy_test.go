package half

import (
	"math"
	"testing"
)

// TestFP16Rounding checks FP32ToFP16 on every half value, on each midpoint
// between neighbours (ties to even) and on the floats just beside it.
func TestFP16Rounding(t *testing.T) {
	for h := uint16(0); h < 0x7c00; h++ {
		for _, sign := range []uint16{0, 0x8000} {
			v := ToFloat32(h | sign)
			if got := FromFloat32Numpy(v); got != h|sign {
				t.Fatalf("round trip %#04x -> %v -> %#04x", h|sign, v, got)
			}
			next := float64(ToFloat32((h + 1) | sign))
			if h+1 == 0x7c00 {
				next = math.Copysign(65536, float64(v))
			}
			mid := float32((float64(v) + next) / 2)
			even := h
			if h&1 == 1 {
				even = h + 1
			}
			if got := FromFloat32Numpy(mid); got != even|sign {
				t.Fatalf("midpoint of %#04x and next: %v -> %#04x, want %#04x", h|sign, mid, got, even|sign)
			}
			toward := math.Nextafter32(mid, float32(next))
			away := math.Nextafter32(mid, v)
			if got := FromFloat32Numpy(toward); got != (h+1)|sign {
				t.Fatalf("%v -> %#04x, want %#04x", toward, got, (h+1)|sign)
			}
			if got := FromFloat32Numpy(away); got != h|sign {
				t.Fatalf("%v -> %#04x, want %#04x", away, got, h|sign)
			}
		}
	}
	if FromFloat32Numpy(float32(math.Inf(1))) != 0x7c00 || FromFloat32Numpy(1e10) != 0x7c00 || FromFloat32Numpy(-1e-10) != 0x8000 {
		t.Error("inf/overflow/underflow")
	}
	if h := FromFloat32Numpy(float32(math.NaN())); h&0x7c00 != 0x7c00 || h&0x3ff == 0 {
		t.Errorf("NaN -> %#04x", h)
	}
}

func TestBF16Rounding(t *testing.T) {
	for h := uint32(0); h < 0x7f80; h += 7 {
		v := BF16ToFloat32(uint16(h))
		if BF16FromFloat32(v) != uint16(h) {
			t.Fatalf("round trip %#04x", h)
		}
		lo, hi := math.Float32bits(v), math.Float32bits(BF16ToFloat32(uint16(h+1)))
		mid := math.Float32frombits((lo + hi) / 2)
		even := uint16(h)
		if h&1 == 1 {
			even = uint16(h + 1)
		}
		if got := BF16FromFloat32(mid); got != even {
			t.Fatalf("midpoint after %#04x -> %#04x, want %#04x", h, got, even)
		}
		if got := BF16FromFloat32(math.Float32frombits(math.Float32bits(mid) + 1)); got != uint16(h+1) {
			t.Fatalf("above midpoint after %#04x -> %#04x", h, got)
		}
	}
	if h := BF16FromFloat32(float32(math.NaN())); h&0x7f80 != 0x7f80 || h&0x7f == 0 {
		t.Errorf("NaN -> %#04x", h)
	}
}
