#include "textflag.h"

// The offsets of qx16's fields (TestQx16Layout checks them). A row of
// 16 lanes is 64 bytes: lanes 0-7 at +0, lanes 8-15 at +32.
#define OFF_X 0
#define OFF_W 1024
#define OFF_WX 2048
#define OFF_LAUX 3072
#define OFF_MAX 4096
#define OFF_SCALE 4160
#define OFF_BEST 4224
#define OFF_TISCALE 4288
#define OFF_ACTIVE 4352

// Eight copies each, for memory operands: nearest_int's 2^22, the
// mantissa mask, 1.5*2^23, the absolute-value mask.
DATA qxHalf8<>+0(SB)/8, $0x0040000000400000
DATA qxHalf8<>+8(SB)/8, $0x0040000000400000
DATA qxHalf8<>+16(SB)/8, $0x0040000000400000
DATA qxHalf8<>+24(SB)/8, $0x0040000000400000
GLOBL qxHalf8<>(SB), RODATA|NOPTR, $32
DATA qxMant8<>+0(SB)/8, $0x007fffff007fffff
DATA qxMant8<>+8(SB)/8, $0x007fffff007fffff
DATA qxMant8<>+16(SB)/8, $0x007fffff007fffff
DATA qxMant8<>+24(SB)/8, $0x007fffff007fffff
GLOBL qxMant8<>(SB), RODATA|NOPTR, $32
DATA qxMagic8<>+0(SB)/8, $0x4B4000004B400000
DATA qxMagic8<>+8(SB)/8, $0x4B4000004B400000
DATA qxMagic8<>+16(SB)/8, $0x4B4000004B400000
DATA qxMagic8<>+24(SB)/8, $0x4B4000004B400000
GLOBL qxMagic8<>(SB), RODATA|NOPTR, $32
DATA qxAbs8<>+0(SB)/8, $0x7fffffff7fffffff
DATA qxAbs8<>+8(SB)/8, $0x7fffffff7fffffff
DATA qxAbs8<>+16(SB)/8, $0x7fffffff7fffffff
DATA qxAbs8<>+24(SB)/8, $0x7fffffff7fffffff
GLOBL qxAbs8<>(SB), RODATA|NOPTR, $32
// GROUP_MAX_EPS, 1e-15f
DATA qxEps<>+0(SB)/4, $0x26901d7d
GLOBL qxEps<>(SB), RODATA|NOPTR, $4

// LEVEL sets Y to the level clamp(nearest_int(ISCALE*X), Y2, Y3) of the
// memory operand X (Y2: -nmax, Y3: nmax-1).
#define LEVEL(X, ISCALE, Y) \
	VMULPS X, ISCALE, Y; \
	VADDPS qxMagic8<>(SB), Y, Y; \
	VPAND qxMant8<>(SB), Y, Y; \
	VPSUBD qxHalf8<>(SB), Y, Y; \
	VPMINSD Y3, Y, Y; \
	VPMAXSD Y2, Y, Y

// CLAMPS sets Y2 to -nmax and Y3 to nmax-1 from nmax in AX.
#define CLAMPS \
	VMOVD AX, X3; \
	VPBROADCASTD X3, Y3; \
	VPXOR Y2, Y2, Y2; \
	VPSUBD Y3, Y2, Y2; \
	VPCMPEQD Y9, Y9, Y9; \
	VPADDD Y9, Y3, Y3

// func qxInit16(q *qx16, qw *[16][16]float32, nmax int32)
//
// qxInit16Go for the sixteen lanes, eight at a time (qw nil: the weights
// are x*x).
TEXT ·qxInit16(SB), NOSPLIT, $0-20
	MOVQ q+0(FP), DI
	MOVQ qw+8(FP), BX
	MOVL nmax+16(FP), AX
	CLAMPS
	VCVTDQ2PS Y3, Y1               // nmax-1 as float, then -nmax
	VPXOR Y8, Y8, Y8
	VPSUBD Y2, Y8, Y8              // nmax
	VCVTDQ2PS Y8, Y8
	VXORPS Y1, Y1, Y1
	VSUBPS Y8, Y1, Y1              // -nmax (float)
	MOVQ $2, DX

half:
	VXORPS Y0, Y0, Y0              // amax
	VXORPS Y4, Y4, Y4              // max
	MOVQ DI, SI
	MOVQ $16, CX

absmax:
	VMOVUPS OFF_X(SI), Y10
	VANDPS qxAbs8<>(SB), Y10, Y11  // ax
	VCMPPS $0x1E, Y0, Y11, Y12     // ax > amax:
	VBLENDVPS Y12, Y11, Y0, Y0     // amax = ax,
	VBLENDVPS Y12, Y10, Y4, Y4     // max = x
	ADDQ $64, SI
	DECQ CX
	JNZ absmax
	VMOVUPS Y4, OFF_MAX(DI)

	MOVQ DI, SI
	MOVQ BX, R8
	MOVQ $16, CX

weights:
	VMOVUPS OFF_X(SI), Y10
	TESTQ BX, BX
	JZ squares
	VMOVUPS (R8), Y11              // w = qw
	JMP haveW
squares:
	VMULPS Y10, Y10, Y11           // w = x*x
haveW:
	VMOVUPS Y11, OFF_W(SI)
	VMULPS Y10, Y11, Y11           // wx = w*x
	VMOVUPS Y11, OFF_WX(SI)
	ADDQ $64, SI
	ADDQ $64, R8
	DECQ CX
	JNZ weights

	VBROADCASTSS qxEps<>(SB), Y12
	VCMPPS $0x05, Y12, Y0, Y13     // active = !(amax < eps)
	VMOVUPS Y13, OFF_ACTIVE(DI)
	VDIVPS Y4, Y1, Y0              // iscale = -nmax/max
	VXORPS Y5, Y5, Y5              // sumlx
	VXORPS Y6, Y6, Y6              // suml2
	MOVQ DI, SI
	MOVQ $16, CX

first:
	LEVEL(OFF_X(SI), Y0, Y10)
	VCVTDQ2PS Y10, Y10
	VMULPS OFF_WX(SI), Y10, Y11    // wx*l
	VADDPS Y11, Y5, Y5
	VMULPS OFF_W(SI), Y10, Y11     // (w*l)*l
	VMULPS Y10, Y11, Y11
	VADDPS Y11, Y6, Y6
	ADDQ $64, SI
	DECQ CX
	JNZ first

	VXORPS Y12, Y12, Y12
	VCMPPS $0x04, Y12, Y6, Y12     // suml2 != 0 (true on NaN, as C's test):
	VDIVPS Y6, Y5, Y11             // scale = sumlx/suml2, else 0
	VANDPS Y12, Y11, Y11
	VMULPS Y5, Y11, Y12            // best = scale*sumlx
	VANDPS Y13, Y11, Y11           // inactive lanes: 0
	VANDPS Y13, Y12, Y12
	VANDPS Y13, Y0, Y0
	VMOVUPS Y11, OFF_SCALE(DI)
	VMOVUPS Y12, OFF_BEST(DI)
	VMOVUPS Y0, OFF_TISCALE(DI)

	ADDQ $32, DI                   // lanes 8-15
	TESTQ BX, BX
	JZ next
	ADDQ $32, BX
next:
	DECQ DX
	JNZ half
	VZEROUPPER
	RET

// CONSIDER takes, where C does, the candidate of iscale ISCALE and sums
// SLX, SL2 for the lanes at byte offset OFF (0 or 32).
#define CONSIDER(OFF, ISCALE, SLX, SL2) \
	VMULPS SLX, SLX, Y9; \
	VMOVUPS OFF_BEST+OFF(DI), Y13; \
	VMULPS SL2, Y13, Y10; \
	VCMPPS $0x1E, Y10, Y9, Y11; \
	VXORPS Y12, Y12, Y12; \
	VCMPPS $0x1E, Y12, SL2, Y12; \
	VANDPS Y12, Y11, Y11; \
	VANDPS OFF_ACTIVE+OFF(DI), Y11, Y11; \
	VDIVPS SL2, SLX, Y9; \
	VMULPS SLX, Y9, Y10; \
	VBLENDVPS Y11, Y10, Y13, Y13; \
	VMOVUPS Y13, OFF_BEST+OFF(DI); \
	VMOVUPS OFF_SCALE+OFF(DI), Y13; \
	VBLENDVPS Y11, Y9, Y13, Y13; \
	VMOVUPS Y13, OFF_SCALE+OFF(DI); \
	VMOVUPS OFF_TISCALE+OFF(DI), Y13; \
	VBLENDVPS Y11, ISCALE, Y13, Y13; \
	VMOVUPS Y13, OFF_TISCALE+OFF(DI)

// func qxStep16(q *qx16, num float32, nmax int32)
//
// qxStep16Go for the sixteen lanes, the two halves interleaved.
TEXT ·qxStep16(SB), NOSPLIT, $0-16
	MOVQ q+0(FP), DI
	MOVL nmax+12(FP), AX
	CLAMPS
	VBROADCASTSS num+8(FP), Y8
	VDIVPS OFF_MAX(DI), Y8, Y0     // iscale, lanes 0-7
	VDIVPS OFF_MAX+32(DI), Y8, Y1  // lanes 8-15
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	MOVQ DI, SI
	MOVQ $16, CX

pass:
	LEVEL(OFF_X(SI), Y0, Y9)
	LEVEL(OFF_X+32(SI), Y1, Y10)
	VCVTDQ2PS Y9, Y9
	VCVTDQ2PS Y10, Y10
	VMULPS OFF_WX(SI), Y9, Y11
	VMULPS OFF_WX+32(SI), Y10, Y12
	VADDPS Y11, Y4, Y4
	VADDPS Y12, Y6, Y6
	VMULPS OFF_W(SI), Y9, Y11
	VMULPS OFF_W+32(SI), Y10, Y12
	VMULPS Y9, Y11, Y11
	VMULPS Y10, Y12, Y12
	VADDPS Y11, Y5, Y5
	VADDPS Y12, Y7, Y7
	ADDQ $64, SI
	DECQ CX
	JNZ pass

	CONSIDER(0, Y0, Y4, Y5)
	CONSIDER(32, Y1, Y6, Y7)
	VZEROUPPER
	RET

// func qxLevels16(q *qx16, nmax int32)
TEXT ·qxLevels16(SB), NOSPLIT, $0-12
	MOVQ q+0(FP), DI
	MOVL nmax+8(FP), AX
	CLAMPS
	VMOVUPS OFF_TISCALE(DI), Y0
	VMOVUPS OFF_TISCALE+32(DI), Y1
	MOVQ DI, SI
	MOVQ $16, CX

levels:
	LEVEL(OFF_X(SI), Y0, Y9)
	LEVEL(OFF_X+32(SI), Y1, Y10)
	VMOVDQU Y9, OFF_LAUX(SI)
	VMOVDQU Y10, OFF_LAUX+32(SI)
	ADDQ $64, SI
	DECQ CX
	JNZ levels
	VZEROUPPER
	RET
