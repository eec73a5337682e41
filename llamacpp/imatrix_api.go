package llamacpp

// IMatrixOptions control Model.CollectIMatrix, with llama-imatrix's flags
// in brackets.
type IMatrixOptions struct {
	// ChunkSize is the tokens of one chunk, each evaluated from an empty
	// cache with the first token replaced by BOS when the model adds one
	// [-c, --ctx-size]; 0: 512.
	ChunkSize int
	// Chunks is the most chunks to process [--chunks]; 0 or negative: all
	// whole chunks of the tokens.
	Chunks int
	// ProcessOutput collects output.weight as well [--process-output].
	ProcessOutput bool
	// Threads as in ContextOptions (for generation and batches); 0: all
	// CPUs, or 4 when every layer of the model is on a GPU.
	Threads int
	// Progress, if set, is called after each chunk with chunks done and the
	// total.
	Progress func(done, total int)

	// reduceMode (tests): 0 sums GPU activations on their device, on a
	// second stream beside the graph's, and the others on the host; 1 sums
	// everything on the host; 2 is 0 on every backend, the CPU's included
	// (there at the last node before each activation may be overwritten);
	// 3 is 0 on the graph's own stream, without the second one; 4
	// (BenchmarkIMatrixChunk) collects nothing: the pass and its stop
	// before the output layer alone; 5 is 0 with ggml's kernels on the
	// second stream even where libsattva-cuda's is loaded.
	reduceMode int
	// uBatchSize (tests): the context's ubatch; 0: min(ChunkSize, 512).
	uBatchSize int
}

// IMatrixEntry is the statistics of one weight: for each of NMat matrices
// (experts; 1 for a dense weight) the sums over all rows of the squared
// input activations of each of the Cols columns, and the rows counted.
type IMatrixEntry struct {
	Name   string
	Cols   int
	Sums   []float32 // NMat*Cols, matrix-major
	Counts []int64   // NMat
}

// IMatrixStats is what CollectIMatrix gathered: entries sorted by name,
// the chunks processed and the chunk size (llama-imatrix's
// imatrix.chunk_count and imatrix.chunk_size).
type IMatrixStats struct {
	Entries   []IMatrixEntry
	Chunks    int
	ChunkSize int
	// DeviceReduced counts the activations whose column sums were computed
	// on the device holding them (a GPU), once for every weight that reads
	// the activation, rather than after copying them to the host.
	DeviceReduced int64
	// SharedReduced counts the matrix multiplications on a device that
	// shared the sums of another reading the same activation (attn_k and
	// attn_v with attn_q, ffn_up with ffn_gate).
	SharedReduced int64
	// OutputSkipped counts the chunks whose pass stopped after the last
	// weight collected, before the output layer (every chunk unless
	// ProcessOutput is set). The logits are then neither computed nor
	// copied.
	OutputSkipped int

	schedReduced  int64 // device reductions on the graph's own stream
	sideReduced   int64 // device reductions on the second stream
	kernelReduced int64 // of those, by libsattva-cuda's kernel
	graphsReused  int   // decodes that reused llama.cpp's graph of the one before
}
