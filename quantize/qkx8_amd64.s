#include "textflag.h"

// The offsets of qkx8's fields (TestQkx8Layout checks them).
#define OFF_W 0
#define OFF_X 1024
#define OFF_LAUX 2048
#define OFF_RNG 3072
#define OFF_MIN 3104
#define OFF_MAX 3136
#define OFF_SUMW 3168
#define OFF_SUMX 3200
#define OFF_SCALE 3232
#define OFF_BEST 3264
#define OFF_ACTIVE 3296
#define OFF_TISCALE 3328
#define OFF_TMIN 3360

// nearest_int's constants: 1.5*2^23, the mantissa mask, 2^22.
DATA qkxMagic<>+0(SB)/4, $0x4B400000
GLOBL qkxMagic<>(SB), RODATA|NOPTR, $4
DATA qkxMant<>+0(SB)/4, $0x007fffff
GLOBL qkxMant<>(SB), RODATA|NOPTR, $4
DATA qkxHalf<>+0(SB)/4, $0x00400000
GLOBL qkxHalf<>(SB), RODATA|NOPTR, $4

// LEVELS sets Y6 to the levels clamp(nearest_int(Y2*(x - Y1)), 0, nmax)
// of row SI, x in Y14. Y3 holds nmax, Y4 1.5*2^23, Y5 0, Y7 the mantissa
// mask, Y8 2^22.
#define LEVELS \
	VMOVUPS OFF_X(SI), Y14 \
	VSUBPS Y1, Y14, Y6 \
	VMULPS Y6, Y2, Y6 \
	VADDPS Y4, Y6, Y6 \
	VPAND Y7, Y6, Y6 \
	VPSUBD Y8, Y6, Y6 \
	VPMINSD Y3, Y6, Y6 \
	VPMAXSD Y5, Y6, Y6

// CONSTANTS loads what LEVELS needs besides Y1 and Y2, from nmax in AX.
#define CONSTANTS \
	VMOVD AX, X3 \
	VPBROADCASTD X3, Y3 \
	VBROADCASTSS qkxMagic<>(SB), Y4 \
	VPXOR Y5, Y5, Y5 \
	VPBROADCASTD qkxMant<>(SB), Y7 \
	VPBROADCASTD qkxHalf<>(SB), Y8

// ERRTERM adds to Y10 the error term w*(SCALE*l + MIN - x)^2 of row SI,
// the level l as a float in L, x in X (a register or OFF_X(SI)); Y11 is
// scratch.
#define ERRTERM(L, SCALE, MIN, X) \
	VMULPS L, SCALE, Y11 \
	VADDPS MIN, Y11, Y11 \
	VSUBPS X, Y11, Y11 \
	VMULPS Y11, Y11, Y11 \
	VMULPS OFF_W(SI), Y11, Y11 \
	VADDPS Y11, Y10, Y10

// func qkxStep8(q *qkx8, num float32, nmax int32)
//
// qkxStep8Go for the eight lanes at once, one lane per float of a Y
// register. Each instruction is one of qkxStep8Go's float32 operations, on
// the same operands, so every lane rounds as Go and C do; the branches
// become masks (a lane's values where the mask is off are computed and
// dropped).
TEXT ·qkxStep8(SB), NOSPLIT, $0-16
	MOVQ q+0(FP), DI
	VBROADCASTSS num+8(FP), Y0
	VMOVUPS OFF_RNG(DI), Y1
	VDIVPS Y1, Y0, Y2              // iscale = num / rng
	VMOVUPS OFF_MIN(DI), Y1        // min
	MOVL nmax+12(FP), AX
	CONSTANTS
	VXORPS Y10, Y10, Y10           // sumL
	VXORPS Y11, Y11, Y11           // sumL2
	VXORPS Y12, Y12, Y12           // sumXL
	MOVQ DI, SI
	MOVQ $32, CX

pass:
	LEVELS
	VMOVDQU Y6, OFF_LAUX(SI)
	VCVTDQ2PS Y6, Y6               // l
	VMULPS OFF_W(SI), Y6, Y9       // wl = w*l
	VADDPS Y9, Y10, Y10
	VMULPS Y6, Y9, Y13             // wl*l
	VADDPS Y13, Y11, Y11
	VMULPS Y14, Y9, Y13            // wl*x
	VADDPS Y13, Y12, Y12
	ADDQ $32, SI
	DECQ CX
	JNZ pass

	VMOVUPS OFF_SUMW(DI), Y0
	VMOVUPS OFF_SUMX(DI), Y3
	VMULPS Y11, Y0, Y14            // D = sumW*sumL2 - sumL*sumL
	VMULPS Y10, Y10, Y15
	VSUBPS Y15, Y14, Y14
	VCMPPS $0x1E, Y5, Y14, Y9      // ok = D > 0 (false on NaN)
	VANDPS OFF_ACTIVE(DI), Y9, Y9  // and the lane active
	VMULPS Y12, Y0, Y6             // scale = (sumW*sumXL - sumX*sumL)/D
	VMULPS Y10, Y3, Y13
	VSUBPS Y13, Y6, Y6
	VDIVPS Y14, Y6, Y6
	VMULPS Y3, Y11, Y13            // min = (sumL2*sumX - sumL*sumXL)/D
	VMULPS Y12, Y10, Y15
	VSUBPS Y15, Y13, Y13
	VDIVPS Y14, Y13, Y13
	VCMPPS $0x1E, Y5, Y13, Y15     // min > 0:
	VDIVPS Y11, Y12, Y14           // scale = sumXL/sumL2,
	VBLENDVPS Y15, Y14, Y6, Y6
	VANDNPS Y13, Y15, Y13          // min = 0

	VXORPS Y10, Y10, Y10           // the error
	MOVQ DI, SI
	MOVQ $32, CX

err:
	VCVTDQ2PS OFF_LAUX(SI), Y12
	ERRTERM(Y12, Y6, Y13, OFF_X(SI))
	ADDQ $32, SI
	DECQ CX
	JNZ err

	VMOVUPS OFF_BEST(DI), Y14
	VCMPPS $0x11, Y14, Y10, Y15    // take = ok && error < best (false on NaN)
	VANDPS Y9, Y15, Y15
	VBLENDVPS Y15, Y10, Y14, Y14
	VMOVUPS Y14, OFF_BEST(DI)
	VMOVUPS OFF_SCALE(DI), Y11
	VBLENDVPS Y15, Y6, Y11, Y11
	VMOVUPS Y11, OFF_SCALE(DI)
	VMOVUPS OFF_TMIN(DI), Y11      // the pass's min and scale
	VBLENDVPS Y15, Y1, Y11, Y11
	VMOVUPS Y11, OFF_TMIN(DI)
	VMOVUPS OFF_TISCALE(DI), Y11
	VBLENDVPS Y15, Y2, Y11, Y11
	VMOVUPS Y11, OFF_TISCALE(DI)
	VBLENDVPS Y15, Y13, Y1, Y1     // min
	VMOVUPS Y1, OFF_MIN(DI)
	VMOVUPS OFF_MAX(DI), Y11       // rng = max - min
	VSUBPS Y13, Y11, Y11
	VMOVUPS OFF_RNG(DI), Y12
	VBLENDVPS Y15, Y11, Y12, Y12
	VMOVUPS Y12, OFF_RNG(DI)
	VZEROUPPER
	RET

// func qkxLevels8(q *qkx8, nmax int32)
//
// laux = clamp(nearest_int(tIscale*(x - tMin)), 0, nmax), lane by lane.
TEXT ·qkxLevels8(SB), NOSPLIT, $0-12
	MOVQ q+0(FP), DI
	VMOVUPS OFF_TISCALE(DI), Y2
	VMOVUPS OFF_TMIN(DI), Y1
	MOVL nmax+8(FP), AX
	CONSTANTS
	MOVQ DI, SI
	MOVQ $32, CX

levels:
	LEVELS
	VMOVDQU Y6, OFF_LAUX(SI)
	ADDQ $32, SI
	DECQ CX
	JNZ levels
	VZEROUPPER
	RET

// func qkxInitW8(q *qkx8, qw *[32][8]float32, sigma2 float32, nmax int32, sw *[8]float32)
//
// qkxInitW8Go for the eight lanes at once: the weights
// qw*sqrt(sigma2 + x*x) and their sums, then make_qkx3_quants up to its
// candidate loop (weightedRange's min, max and sums, the first levels and
// their error). Lanes whose values are all equal (max <= min) get scale 0,
// best 0, tIscale 0.
TEXT ·qkxInitW8(SB), NOSPLIT, $0-32
	MOVQ q+0(FP), DI
	MOVQ qw+8(FP), BX
	VBROADCASTSS sigma2+16(FP), Y0
	MOVQ sw+24(FP), DX

	// row 0: the sums start from it, as weightedRange's do (sw from 0, as C's)
	VMOVUPS OFF_X(DI), Y14
	VMULPS Y14, Y14, Y6            // x*x
	VADDPS Y6, Y0, Y6              // sigma2 + x*x
	VSQRTPS Y6, Y6
	VMULPS (BX), Y6, Y6            // w = qw*sqrt(...)
	VMOVUPS Y6, OFF_W(DI)
	VXORPS Y9, Y9, Y9
	VADDPS Y6, Y9, Y9              // sw = 0 + w
	VMOVAPS Y6, Y10                // sumW = w
	VMULPS Y14, Y6, Y11            // sumX = w*x
	VMOVAPS Y14, Y12               // min
	VMOVAPS Y14, Y13               // max
	LEAQ 32(DI), SI
	ADDQ $32, BX
	MOVQ $31, CX

weights:
	VMOVUPS OFF_X(SI), Y14
	VMULPS Y14, Y14, Y6
	VADDPS Y6, Y0, Y6
	VSQRTPS Y6, Y6
	VMULPS (BX), Y6, Y6
	VMOVUPS Y6, OFF_W(SI)
	VADDPS Y6, Y9, Y9
	VADDPS Y6, Y10, Y10
	VMULPS Y14, Y6, Y15
	VADDPS Y15, Y11, Y11
	VMINPS Y12, Y14, Y12           // min = x < min ? x : min
	VMAXPS Y13, Y14, Y13           // max = x > max ? x : max
	ADDQ $32, SI
	ADDQ $32, BX
	DECQ CX
	JNZ weights

	VMOVUPS Y9, (DX)
	VMOVUPS Y10, OFF_SUMW(DI)
	VMOVUPS Y11, OFF_SUMX(DI)
	VMOVUPS Y13, OFF_MAX(DI)
	VXORPS Y5, Y5, Y5
	VCMPPS $0x1E, Y5, Y12, Y15     // min > 0: min = 0
	VANDNPS Y12, Y15, Y1
	VMOVUPS Y1, OFF_MIN(DI)
	VMOVUPS Y1, OFF_TMIN(DI)
	VSUBPS Y1, Y13, Y6             // rng = max - min
	VMOVUPS Y6, OFF_RNG(DI)
	VCMPPS $0x06, Y1, Y13, Y9      // active = !(max <= min)
	VMOVUPS Y9, OFF_ACTIVE(DI)
	MOVL nmax+20(FP), AX
	CONSTANTS
	VCVTDQ2PS Y3, Y2
	VDIVPS Y6, Y2, Y2              // iscale = nmax/rng
	MOVL $0x3F800000, AX
	VMOVD AX, X12
	VBROADCASTSS X12, Y12
	VDIVPS Y2, Y12, Y12            // scale = 1/iscale
	VXORPS Y10, Y10, Y10           // the error
	MOVQ DI, SI
	MOVQ $32, CX

first:
	LEVELS
	VCVTDQ2PS Y6, Y6
	ERRTERM(Y6, Y12, Y1, Y14)
	ADDQ $32, SI
	DECQ CX
	JNZ first

	VANDPS Y9, Y10, Y10            // inactive lanes: best, scale and tIscale 0
	VMOVUPS Y10, OFF_BEST(DI)
	VANDPS Y9, Y12, Y12
	VMOVUPS Y12, OFF_SCALE(DI)
	VANDPS Y9, Y2, Y2
	VMOVUPS Y2, OFF_TISCALE(DI)
	VZEROUPPER
	RET
