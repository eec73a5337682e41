// Package gguf reads and writes GGUF files (versions 2 and 3, little-endian),
// the model format of llama.cpp and Ollama. It is pure Go.
//
// The reader treats every file as hostile: NewReader parses the header,
// metadata and tensor infos eagerly, checking every length against Limits and
// against the bytes left before allocating, with overflow-checked arithmetic;
// anything invalid is a *FormatError (errors.Is(err, ErrFormat)) carrying the
// byte offset and the field. Tensor data stay in the file and are read lazily
// through TensorData.
//
// The writer (Write, WriteFile) takes a Spec of KVs and tensors whose data are
// io.WriterTo, lays the file out as gguf-py and llama.cpp do (header, KVs,
// tensor infos, padding, then each tensor padded to the alignment), keeps the
// caller's order, and writes tensors in parallel at precomputed offsets.
// Reading a file written by llama.cpp's converter and writing it back gives
// the same bytes.
package gguf
