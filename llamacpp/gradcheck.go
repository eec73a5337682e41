//go:build cgo

package llamacpp

/*
#include "gradcheck.h"
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// gradCheckCases names gradcheck.c's cases, by their SATTVA_GC_* number.
var gradCheckCases = []string{
	C.SATTVA_GC_MUL_MAT_3D:       "mul_mat 3D broadcast",
	C.SATTVA_GC_MUL_MAT_3D_NOBC:  "mul_mat 3D",
	C.SATTVA_GC_MUL_MAT_PERMUTED: "mul_mat permuted",
	C.SATTVA_GC_PERMUTE_CONT:     "permute+cont",
	C.SATTVA_GC_SOFT_MAX:         "soft_max",
	C.SATTVA_GC_SOFT_MAX_EXT:     "soft_max_ext scale+mask",
	C.SATTVA_GC_ROPE:             "rope",
	C.SATTVA_GC_RMS_NORM:         "rms_norm*w",
	C.SATTVA_GC_ATTENTION_CORE:   "attention core",
	C.SATTVA_GC_ATTENTION:        "attention block",
}

// Cases of gradcheck.c that TestGradCheckInPlaceRMSNormBack names.
const (
	gradCheckRMSNorm   = C.SATTVA_GC_RMS_NORM
	gradCheckAttention = C.SATTVA_GC_ATTENTION
)

// gradCheckEval computes gradcheck.c's case kase at the parameters p: the
// loss and, with grad, ggml's gradient (len(p) floats).
func gradCheckEval(kase int, gallocr, guard bool, p []float32, grad bool) (float32, []float32, error) {
	ga, gu := C.int(0), C.int(0)
	if gallocr {
		ga = 1
	}
	if guard {
		gu = 1
	}
	var loss C.float
	var g []float32
	var pg *C.float
	if grad {
		g = make([]float32, len(p))
		pg = (*C.float)(unsafe.Pointer(&g[0]))
	}
	n := C.sattva_gc_eval(C.int(kase), ga, gu, (*C.float)(unsafe.Pointer(&p[0])), pg, &loss)
	if int(n) != len(p) {
		return 0, nil, fmt.Errorf("gradcheck case %d: %d parameters, got %d", kase, int(n), len(p))
	}
	return float32(loss), g, nil
}

// gradCheckSize is the number of parameter floats of case kase, or -1.
func gradCheckSize(kase int) int {
	return int(C.sattva_gc_eval(C.int(kase), 0, 0, nil, nil, nil))
}
