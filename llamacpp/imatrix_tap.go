//go:build cgo

package llamacpp

/*
#include <stdint.h>
*/
import "C"

import (
	"runtime/cgo"
	"unsafe"
)

// matMulInput is the input (src1) of one MUL_MAT as the activation tap sees
// it: Data holds NE[1]*NE[2]*NE[3] rows of NE[0] floats (nil when src1 is
// not F32); WeightMats is the weight's ne[2], ne[3].
type matMulInput struct {
	Weight     string
	Type       int
	NE         [4]int64
	WeightMats [2]int64
	Data       []float32
}

//export sattvaGoTap
func sattvaGoTap(h C.uintptr_t, name *C.char, typ C.int, data *C.float, ne0, ne1, ne2, ne3, wne2, wne3 C.int64_t) {
	fn := cgo.Handle(h).Value().(func(matMulInput))
	in := matMulInput{Weight: C.GoString(name), Type: int(typ),
		NE: [4]int64{int64(ne0), int64(ne1), int64(ne2), int64(ne3)}, WeightMats: [2]int64{int64(wne2), int64(wne3)}}
	if data != nil {
		n := int(ne0 * ne1 * ne2 * ne3)
		in.Data = append([]float32(nil), unsafe.Slice((*float32)(unsafe.Pointer(data)), n)...)
	}
	fn(in)
}
