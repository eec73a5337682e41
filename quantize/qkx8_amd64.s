#include "textflag.h"

// The offsets of qkx8's fields (TestQkx8Layout checks them).
#define OFF_XM 0
#define OFF_W 1024
#define OFF_X 2048
#define OFF_LAUX 3072
#define OFF_L 4096
#define OFF_RNG 5120
#define OFF_MIN 5152
#define OFF_MAX 5184
#define OFF_SUMW 5216
#define OFF_SUMX 5248
#define OFF_SCALE 5280
#define OFF_BEST 5312
#define OFF_ACTIVE 5344

// nearest_int's constants: 1.5*2^23, the mantissa mask, 2^22.
DATA qkxMagic<>+0(SB)/4, $0x4B400000
GLOBL qkxMagic<>(SB), RODATA|NOPTR, $4
DATA qkxMant<>+0(SB)/4, $0x007fffff
GLOBL qkxMant<>(SB), RODATA|NOPTR, $4
DATA qkxHalf<>+0(SB)/4, $0x00400000
GLOBL qkxHalf<>(SB), RODATA|NOPTR, $4

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
	MOVL nmax+12(FP), AX
	VMOVD AX, X3
	VPBROADCASTD X3, Y3            // nmax
	VBROADCASTSS qkxMagic<>(SB), Y4
	VPXOR Y5, Y5, Y5               // 0 (int and float)
	VPBROADCASTD qkxMant<>(SB), Y7
	VPBROADCASTD qkxHalf<>(SB), Y8
	VXORPS Y10, Y10, Y10           // sumL
	VXORPS Y11, Y11, Y11           // sumL2
	VXORPS Y12, Y12, Y12           // sumXL
	MOVQ DI, SI
	MOVQ $32, CX

pass:
	VMULPS OFF_XM(SI), Y2, Y6      // iscale*xm
	VADDPS Y4, Y6, Y6              // nearest_int: + 1.5*2^23,
	VPAND Y7, Y6, Y6               // the mantissa,
	VPSUBD Y8, Y6, Y6              // - 2^22
	VPMINSD Y3, Y6, Y6             // clamp to [0, nmax]
	VPMAXSD Y5, Y6, Y6
	VMOVDQU Y6, OFF_LAUX(SI)
	VCVTDQ2PS Y6, Y6               // l
	VMULPS OFF_W(SI), Y6, Y9       // wl = w*l
	VADDPS Y9, Y10, Y10
	VMULPS Y6, Y9, Y13             // wl*l
	VADDPS Y13, Y11, Y11
	VMULPS OFF_X(SI), Y9, Y13      // wl*x
	VADDPS Y13, Y12, Y12
	ADDQ $32, SI
	DECQ CX
	JNZ pass

	VMOVUPS OFF_SUMW(DI), Y0
	VMOVUPS OFF_SUMX(DI), Y1
	VMULPS Y11, Y0, Y14            // D = sumW*sumL2 - sumL*sumL
	VMULPS Y10, Y10, Y15
	VSUBPS Y15, Y14, Y14
	VCMPPS $0x1E, Y5, Y14, Y9      // ok = D > 0 (false on NaN)
	VANDPS OFF_ACTIVE(DI), Y9, Y9  // and the lane active
	VMULPS Y12, Y0, Y6             // scale = (sumW*sumXL - sumX*sumL)/D
	VMULPS Y10, Y1, Y13
	VSUBPS Y13, Y6, Y6
	VDIVPS Y14, Y6, Y6
	VMULPS Y1, Y11, Y13            // min = (sumL2*sumX - sumL*sumXL)/D
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
	VCVTDQ2PS OFF_LAUX(SI), Y11
	VMULPS Y11, Y6, Y11            // scale*l
	VADDPS Y13, Y11, Y11           // + min
	VSUBPS OFF_X(SI), Y11, Y11     // - x
	VMULPS Y11, Y11, Y11           // diff*diff
	VMULPS OFF_W(SI), Y11, Y11     // w*
	VADDPS Y11, Y10, Y10
	ADDQ $32, SI
	DECQ CX
	JNZ err

	VMOVUPS OFF_BEST(DI), Y14
	VCMPPS $0x11, Y14, Y10, Y15    // take = ok && error < best (false on NaN)
	VANDPS Y9, Y15, Y15
	VMOVMSKPS Y15, AX
	TESTL AX, AX
	JZ done

	VBLENDVPS Y15, Y10, Y14, Y14
	VMOVUPS Y14, OFF_BEST(DI)
	VMOVUPS OFF_SCALE(DI), Y11
	VBLENDVPS Y15, Y6, Y11, Y11
	VMOVUPS Y11, OFF_SCALE(DI)
	VMOVUPS OFF_MIN(DI), Y11
	VBLENDVPS Y15, Y13, Y11, Y11
	VMOVUPS Y11, OFF_MIN(DI)
	VMOVUPS OFF_MAX(DI), Y11       // rng = max - min
	VSUBPS Y13, Y11, Y11
	VMOVUPS OFF_RNG(DI), Y12
	VBLENDVPS Y15, Y11, Y12, Y12
	VMOVUPS Y12, OFF_RNG(DI)
	MOVQ DI, SI
	MOVQ $32, CX

take:
	VMOVDQU OFF_L(SI), Y12         // L = laux
	VBLENDVPS Y15, OFF_LAUX(SI), Y12, Y12
	VMOVDQU Y12, OFF_L(SI)
	VMOVUPS OFF_X(SI), Y11         // xm = x - min
	VSUBPS Y13, Y11, Y11
	VMOVUPS OFF_XM(SI), Y12
	VBLENDVPS Y15, Y11, Y12, Y12
	VMOVUPS Y12, OFF_XM(SI)
	ADDQ $32, SI
	DECQ CX
	JNZ take

done:
	VZEROUPPER
	RET
