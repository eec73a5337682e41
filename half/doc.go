// Package half converts between float32 and the 16-bit floats of GGUF files
// (IEEE binary16 "F16" and bfloat16 "BF16").
//
// Two libraries round F16 differently on the edges, and sattva must match
// each byte for byte where it reproduces that library, so both are here
// under names that say which: the Numpy functions are what llama.cpp's
// Python converter writes (numpy's astype(np.float16)), the GGML functions
// what ggml's C code computes (llama-quantize, ggml's row converters). They
// agree on every number and differ on NaNs only. BF16 has one rule: gguf-py
// and ggml agree on every input.
package half
