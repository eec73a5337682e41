package gguf

import (
	"fmt"
	"strings"
)

// FileType is llama.cpp's llama_ftype: the mix of tensor types of a model
// file, written to general.file_type. Ids are llama.h's.
type FileType int

// The llama_ftype values (llama.h). Those without a Go quantizer (the IQ and
// TQ families, MXFP4_MOE) are listed so that files can be described, but
// package quantize refuses them.
const (
	AllF32        FileType = 0
	MostlyF16     FileType = 1
	MostlyQ4_0    FileType = 2
	MostlyQ4_1    FileType = 3
	MostlyQ8_0    FileType = 7
	MostlyQ5_0    FileType = 8
	MostlyQ5_1    FileType = 9
	MostlyQ2_K    FileType = 10
	MostlyQ3_K_S  FileType = 11
	MostlyQ3_K_M  FileType = 12
	MostlyQ3_K_L  FileType = 13
	MostlyQ4_K_S  FileType = 14
	MostlyQ4_K_M  FileType = 15
	MostlyQ5_K_S  FileType = 16
	MostlyQ5_K_M  FileType = 17
	MostlyQ6_K    FileType = 18
	MostlyIQ2_XXS FileType = 19
	MostlyIQ2_XS  FileType = 20
	MostlyQ2_K_S  FileType = 21
	MostlyIQ3_XS  FileType = 22
	MostlyIQ3_XXS FileType = 23
	MostlyIQ1_S   FileType = 24
	MostlyIQ4_NL  FileType = 25
	MostlyIQ3_S   FileType = 26
	MostlyIQ3_M   FileType = 27
	MostlyIQ2_S   FileType = 28
	MostlyIQ2_M   FileType = 29
	MostlyIQ4_XS  FileType = 30
	MostlyIQ1_M   FileType = 31
	MostlyBF16    FileType = 32
	MostlyTQ1_0   FileType = 36
	MostlyTQ2_0   FileType = 37
	MostlyMXFP4   FileType = 38
)

var fileTypeNames = map[FileType]string{
	AllF32: "F32", MostlyF16: "F16", MostlyBF16: "BF16",
	MostlyQ4_0: "Q4_0", MostlyQ4_1: "Q4_1", MostlyQ5_0: "Q5_0", MostlyQ5_1: "Q5_1", MostlyQ8_0: "Q8_0",
	MostlyQ2_K: "Q2_K", MostlyQ2_K_S: "Q2_K_S",
	MostlyQ3_K_S: "Q3_K_S", MostlyQ3_K_M: "Q3_K_M", MostlyQ3_K_L: "Q3_K_L",
	MostlyQ4_K_S: "Q4_K_S", MostlyQ4_K_M: "Q4_K_M", MostlyQ5_K_S: "Q5_K_S", MostlyQ5_K_M: "Q5_K_M",
	MostlyQ6_K:    "Q6_K",
	MostlyIQ2_XXS: "IQ2_XXS", MostlyIQ2_XS: "IQ2_XS", MostlyIQ2_S: "IQ2_S", MostlyIQ2_M: "IQ2_M",
	MostlyIQ3_XS: "IQ3_XS", MostlyIQ3_XXS: "IQ3_XXS", MostlyIQ3_S: "IQ3_S", MostlyIQ3_M: "IQ3_M",
	MostlyIQ1_S: "IQ1_S", MostlyIQ1_M: "IQ1_M", MostlyIQ4_NL: "IQ4_NL", MostlyIQ4_XS: "IQ4_XS",
	MostlyTQ1_0: "TQ1_0", MostlyTQ2_0: "TQ2_0", MostlyMXFP4: "MXFP4_MOE",
}

// String returns llama-quantize's name of ft ("Q4_K_M").
func (ft FileType) String() string {
	if s, ok := fileTypeNames[ft]; ok {
		return s
	}
	return fmt.Sprintf("FileType(%d)", int(ft))
}

// ParseFileType parses llama-quantize's names, ignoring case: "q4_k_m",
// "Q8_0", "f16"; "Q4_K" and "Q5_K" mean their _M variants as in llama-quantize.
func ParseFileType(s string) (FileType, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	switch u {
	case "Q4_K":
		return MostlyQ4_K_M, nil
	case "Q5_K":
		return MostlyQ5_K_M, nil
	case "Q3_K":
		return MostlyQ3_K_M, nil
	}
	for ft, n := range fileTypeNames {
		if n == u {
			return ft, nil
		}
	}
	return 0, fmt.Errorf("gguf: unknown file type %q (want Q4_K_M, Q5_K_M, Q6_K, Q8_0, Q4_0, F16, …)", s)
}

// DefaultType is the tensor type most of ft's tensors get
// (llama_model_quantize_impl's default_type).
func (ft FileType) DefaultType() (Type, error) {
	switch ft {
	case MostlyQ4_0:
		return TypeQ4_0, nil
	case MostlyQ4_1:
		return TypeQ4_1, nil
	case MostlyQ5_0:
		return TypeQ5_0, nil
	case MostlyQ5_1:
		return TypeQ5_1, nil
	case MostlyQ8_0:
		return TypeQ8_0, nil
	case MostlyF16:
		return TypeF16, nil
	case MostlyBF16:
		return TypeBF16, nil
	case AllF32:
		return TypeF32, nil
	case MostlyMXFP4:
		return TypeMXFP4, nil
	case MostlyQ2_K_S, MostlyQ2_K:
		return TypeQ2_K, nil
	case MostlyIQ3_XS:
		return TypeIQ3_S, nil
	case MostlyQ3_K_S, MostlyQ3_K_M, MostlyQ3_K_L:
		return TypeQ3_K, nil
	case MostlyQ4_K_S, MostlyQ4_K_M:
		return TypeQ4_K, nil
	case MostlyQ5_K_S, MostlyQ5_K_M:
		return TypeQ5_K, nil
	case MostlyQ6_K:
		return TypeQ6_K, nil
	case MostlyTQ1_0:
		return TypeTQ1_0, nil
	case MostlyTQ2_0:
		return TypeTQ2_0, nil
	case MostlyIQ2_XXS:
		return TypeIQ2_XXS, nil
	case MostlyIQ2_XS, MostlyIQ2_S:
		return TypeIQ2_XS, nil
	case MostlyIQ2_M:
		return TypeIQ2_S, nil
	case MostlyIQ3_XXS:
		return TypeIQ3_XXS, nil
	case MostlyIQ1_S:
		return TypeIQ1_S, nil
	case MostlyIQ1_M:
		return TypeIQ1_M, nil
	case MostlyIQ4_NL:
		return TypeIQ4_NL, nil
	case MostlyIQ4_XS:
		return TypeIQ4_XS, nil
	case MostlyIQ3_S, MostlyIQ3_M:
		return TypeIQ3_S, nil
	}
	return 0, fmt.Errorf("gguf: invalid file type %d", int(ft))
}

// FileTypeOf is the general.file_type of a file whose weight matrices are all
// of type t, as llama.cpp's convert_hf_to_gguf.py writes it for --outtype
// (F32 0, F16 1, Q8_0 7, BF16 32; a k-quant type its _M mix); AllF32 for a
// type no file type names.
func FileTypeOf(t Type) FileType {
	switch t {
	case TypeF16:
		return MostlyF16
	case TypeQ4_0:
		return MostlyQ4_0
	case TypeQ4_1:
		return MostlyQ4_1
	case TypeQ8_0:
		return MostlyQ8_0
	case TypeQ5_0:
		return MostlyQ5_0
	case TypeQ5_1:
		return MostlyQ5_1
	case TypeQ2_K:
		return MostlyQ2_K
	case TypeQ3_K:
		return MostlyQ3_K_M
	case TypeQ4_K:
		return MostlyQ4_K_M
	case TypeQ5_K:
		return MostlyQ5_K_M
	case TypeQ6_K:
		return MostlyQ6_K
	case TypeBF16:
		return MostlyBF16
	}
	return AllF32
}
