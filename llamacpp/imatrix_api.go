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
	// Threads and BatchThreads as in ContextOptions; 0: all CPUs.
	Threads int
	// Progress, if set, is called after each chunk with chunks done and the
	// total.
	Progress func(done, total int)

	// reduceMode (tests): 0 sums GPU activations on their device and host
	// ones on the host; 1 copies everything to the host; 2 sums everything
	// with a ggml backend of the activation's device, the CPU's included;
	// 3 (BenchmarkIMatrixChunk) stops the scheduler where mode 0 would and
	// collects nothing.
	reduceMode int
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
	// DeviceReduced counts the matrix multiplications whose column sums
	// were computed on the device holding the activations (a GPU) rather
	// than after copying the activations to the host.
	DeviceReduced int64
	// SharedReduced counts the matrix multiplications on a device that
	// reused the column sums of the one before, because both read the same
	// activation (attn_k and attn_v after attn_q, ffn_up after ffn_gate):
	// the scheduler does not stop at them, which saves a synchronisation each.
	SharedReduced int64
}
