package cli

// The computation behind `sattva imatrix`, export.imatrix auto and
// quantize-report: an importance matrix from the user's own data, as
// llama.cpp's llama-imatrix computes it (the collection itself is
// llamacpp.Model.CollectIMatrix; the file is written by quantize.WriteIMatrix).

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/sattva/sattva/dataset"
	"github.com/sattva/sattva/llamacpp"
	"github.com/sattva/sattva/quantize"
)

// imatrixOpts control computeIMatrix. Flag names of llama-imatrix in brackets.
type imatrixOpts struct {
	Model string             // GGUF model (F16/F32 ideally) [-m]
	LoRA  []llamacpp.Adapter // adapters applied while collecting [--lora]
	// Data are the files whose text the model runs over [-f]: JSONL
	// examples (alpaca form) are rendered with the model's chat template,
	// any other file is read as plain text. The texts are joined.
	Data          []string
	ChunkSize     int  // tokens per chunk [-c]; 0: 512
	Chunks        int  // most chunks [--chunks]; 0: all
	ProcessOutput bool // collect output.weight too [--process-output]
	ParseSpecial  bool // parse special tokens in plain text [--parse-special]; chat-rendered text always is
	Threads       int  // 0: all CPUs
	GPULayers     int  // -1 or 0: all when a GPU is present (as llamacpp.ModelOptions); use CPUOnly for none
	CPUOnly       bool
	Logger        *slog.Logger
	// Progress, if set, is called after each chunk.
	Progress func(done, total int)
	// Reduced, if set, receives the collector's counts of MUL_MATs reduced on
	// the device and of those that reused the sums before them, and of the
	// passes it stopped before the output layer.
	Reduced func(device, shared int64, outputSkipped int)
}

// computeIMatrix loads the model, renders and tokenizes the data, and collects
// the statistics. When ctx is cancelled between chunks it returns the
// chunks done so far (a valid, smaller importance matrix) together with
// ctx's error; the caller decides whether to keep them.
func computeIMatrix(ctx context.Context, o imatrixOpts) (*quantize.IMatrixSums, error) {
	if len(o.Data) == 0 {
		return nil, errors.New("imatrix: no data files")
	}
	m, err := llamacpp.Load(o.Model, llamacpp.ModelOptions{GPULayers: o.GPULayers, CPUOnly: o.CPUOnly, LoRA: o.LoRA, Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	defer m.Close()
	var toks []int32
	for _, path := range o.Data {
		t, err := imatrixTokens(ctx, m, path, len(toks) == 0, o.ParseSpecial)
		if err != nil {
			return nil, err
		}
		toks = append(toks, t...)
	}
	st, err := m.CollectIMatrix(ctx, toks, llamacpp.IMatrixOptions{ChunkSize: o.ChunkSize, Chunks: o.Chunks,
		ProcessOutput: o.ProcessOutput, Threads: o.Threads, Progress: o.Progress})
	if st == nil {
		return nil, err
	}
	if o.Reduced != nil {
		o.Reduced(st.DeviceReduced, st.SharedReduced, st.OutputSkipped)
	}
	return imatrixSums(st, o.Data), err
}

// imatrixSums turns the collector's statistics into what quantize writes, with
// datasets recorded as imatrix.datasets. A LoRA adapter's own matrices
// (NAME.lora_a, NAME.lora_b), which llama-imatrix records too when run with
// --lora, are left out: the merged model has no such tensors, and the
// weight they adapt has its own entry with the same input.
func imatrixSums(st *llamacpp.IMatrixStats, datasets []string) *quantize.IMatrixSums {
	s := &quantize.IMatrixSums{Datasets: datasets, ChunkCount: st.Chunks, ChunkSize: st.ChunkSize}
	for _, e := range st.Entries {
		if strings.HasSuffix(e.Name, ".lora_a") || strings.HasSuffix(e.Name, ".lora_b") {
			continue
		}
		c := make([]float32, len(e.Counts))
		for i, n := range e.Counts {
			c[i] = float32(n)
		}
		s.Entries = append(s.Entries, quantize.IMatrixSum{Name: e.Name, Cols: e.Cols, Sums: e.Sums, Counts: c})
	}
	return s
}

// imatrixTokens returns the tokens of one data file: JSONL examples rendered
// with the model's chat template (each a whole conversation, the
// assistant's answer included), or plain text tokenized as llama-imatrix
// does (BOS first when first and the model adds one). Chunking replaces
// each chunk's first token by BOS in any case.
func imatrixTokens(ctx context.Context, m *llamacpp.Model, path string, first, parseSpecial bool) ([]int32, error) {
	if isJSONLPath(path) {
		text, err := renderJSONL(ctx, m, path)
		if err != nil {
			return nil, err
		}
		// A chat template writes its own BOS text (parsed as the special token).
		return m.Tokenize(text, first && m.ChatTemplate() == "", true)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return m.Tokenize(string(b), first, parseSpecial)
}

func isJSONLPath(path string) bool {
	p := strings.ToLower(path)
	for _, ext := range []string{".gz", ".zst"} {
		p = strings.TrimSuffix(p, ext)
	}
	return filepath.Ext(p) == ".jsonl" || filepath.Ext(p) == ".json"
}

// renderJSONL renders every example of an alpaca JSONL file (plain, gzip
// or zstd) with the model's chat template and joins them.
func renderJSONL(ctx context.Context, m *llamacpp.Model, path string) (string, error) {
	exs, err := renderExamples(ctx, m, path)
	return strings.Join(exs, ""), err
}

// renderExamples renders each example of an alpaca JSONL file with the
// model's chat template: system, history turns, the prompt and the answer.
// A model without a template gets the prompt and the answer separated by
// newlines.
func renderExamples(ctx context.Context, m *llamacpp.Model, path string) ([]string, error) {
	rc, err := dataset.Open(path)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	hasTemplate := m.ChatTemplate() != ""
	var all []string
	br := bufio.NewReaderSize(rc, 1<<16)
	for line := 1; ; line++ {
		if line%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		raw, err := br.ReadBytes('\n')
		if len(strings.TrimSpace(string(raw))) > 0 {
			var ex dataset.Example
			if jerr := json.Unmarshal(raw, &ex); jerr != nil {
				return nil, fmt.Errorf("imatrix: %s line %d: %v", path, line, jerr)
			}
			if !hasTemplate {
				all = append(all, ex.Prompt()+"\n"+ex.Output+"\n\n")
			} else {
				var msgs []llamacpp.ChatMessage
				if ex.System != "" {
					msgs = append(msgs, llamacpp.ChatMessage{Role: "system", Content: ex.System})
				}
				for _, h := range ex.History {
					msgs = append(msgs, llamacpp.ChatMessage{Role: "user", Content: h[0]}, llamacpp.ChatMessage{Role: "assistant", Content: h[1]})
				}
				msgs = append(msgs, llamacpp.ChatMessage{Role: "user", Content: ex.Prompt()}, llamacpp.ChatMessage{Role: "assistant", Content: ex.Output})
				s, terr := m.ApplyChatTemplate(msgs, false)
				if terr != nil {
					return nil, fmt.Errorf("imatrix: %s line %d: %w", path, line, terr)
				}
				all = append(all, s)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	return all, nil
}
