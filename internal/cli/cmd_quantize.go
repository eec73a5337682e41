package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/internal/progress"
	"github.com/sattva/sattva/llamacpp"
	"github.com/sattva/sattva/quantize"
)

type quantizeOptions struct {
	In, Out, Type      string
	Threads            int
	Engine             string
	IMatrix            string
	OutputTensorType   string
	TokenEmbeddingType string
	Pure               bool
	LeaveOutputTensor  bool
	AllowRequantize    bool
	JSON               bool
	Quiet              bool
}

func newQuantizeCmd(s *Streams) *cobra.Command {
	o := &quantizeOptions{}
	c := &cobra.Command{
		Use: "quantize IN.gguf OUT.gguf TYPE",
		Example: "  sattva quantize merged.gguf merged.q4_k_m.gguf Q4_K_M\n" +
			"  sattva quantize merged.gguf merged.q8_0.gguf Q8_0 --engine llamacpp --json",
		Short: "Quantize a GGUF model (Q4_K_M, Q5_K_M, Q6_K, Q8_0, …) like llama-quantize",
		Long: "quantize writes a quantized copy of a GGUF model with the same per-tensor types and the\n" +
			"same bytes as llama.cpp's llama-quantize, in pure Go with all cores. TYPE is a llama-quantize\n" +
			"file type: Q4_K_M, Q4_K_S, Q5_K_M, Q5_K_S, Q6_K, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q3_K_S/M/L,\n" +
			"Q2_K, IQ4_XS, IQ4_NL, F16, BF16, F32. --imatrix (from `sattva imatrix` or llama-imatrix) weights\n" +
			"the rounding by your data's activations, in both engines. --engine llamacpp runs llama.cpp's own llama_model_quantize instead.",
		Args: cobra.ExactArgs(3),
		RunE: func(c *cobra.Command, args []string) error {
			o.In, o.Out, o.Type = args[0], args[1], args[2]
			return runQuantize(c.Context(), s, o)
		},
	}
	f := c.Flags()
	f.IntVar(&o.Threads, "threads", 0, "threads (0: all cores)")
	f.StringVar(&o.Engine, "engine", "go", "quantizer: go or llamacpp")
	f.StringVar(&o.IMatrix, "imatrix", "", "importance matrix from llama-imatrix (GGUF or legacy .dat)")
	f.StringVar(&o.OutputTensorType, "output-tensor-type", "", "type of output.weight (e.g. q8_0, f16)")
	f.StringVar(&o.TokenEmbeddingType, "token-embedding-type", "", "type of token_embd.weight")
	f.BoolVar(&o.Pure, "pure", false, "every quantized tensor in TYPE's default type (no k-quant mixture)")
	f.BoolVar(&o.LeaveOutputTensor, "leave-output-tensor", false, "leave output.weight unquantized")
	f.BoolVar(&o.AllowRequantize, "allow-requantize", false, "accept tensors that are already quantized")
	f.BoolVar(&o.JSON, "json", false, "print the summary as JSON")
	f.BoolVarP(&o.Quiet, "quiet", "q", false, "no progress bar")
	return c
}

// quantizeSummary is what `sattva quantize --json` prints.
type quantizeSummary struct {
	Engine        string         `json:"engine"`
	Input         string         `json:"input"`
	Output        string         `json:"output"`
	FileType      string         `json:"file_type"`
	InputBytes    int64          `json:"input_bytes"`
	OutputBytes   int64          `json:"output_bytes"`
	Params        int64          `json:"params,omitempty"`
	BitsPerWeight float64        `json:"bits_per_weight,omitempty"`
	Tensors       int            `json:"tensors,omitempty"`
	Quantized     int            `json:"quantized,omitempty"`
	Fallbacks     int            `json:"fallbacks,omitempty"`
	Types         map[string]int `json:"types,omitempty"`
	Seconds       float64        `json:"seconds"`
}

func parseTypeFlag(flag, v string) (*gguf.Type, error) {
	if v == "" {
		return nil, nil
	}
	t, err := gguf.ParseType(v)
	if err != nil {
		return nil, usagef("--%s %q: %v", flag, v, err)
	}
	return &t, nil
}

func runQuantize(ctx context.Context, s *Streams, o *quantizeOptions) error {
	ft, err := gguf.ParseFileType(o.Type)
	if err != nil {
		return usagef("%v", err)
	}
	outT, err := parseTypeFlag("output-tensor-type", o.OutputTensorType)
	if err != nil {
		return err
	}
	embT, err := parseTypeFlag("token-embedding-type", o.TokenEmbeddingType)
	if err != nil {
		return err
	}
	if err := guardOutputs([]string{o.In, o.IMatrix}, o.Out); err != nil {
		return err
	}
	if _, err := os.Stat(o.In); err != nil {
		return err
	}
	if err := ensureOutDir(o.Out); err != nil {
		return err
	}
	st, err := os.Stat(o.In)
	if err != nil {
		return err
	}
	var im *quantize.IMatrix
	if o.IMatrix != "" {
		if im, err = quantize.ReadIMatrix(o.IMatrix); err != nil {
			return err
		}
	}
	res := quantizeSummary{Engine: o.Engine, Input: o.In, Output: o.Out, FileType: ft.String(), InputBytes: st.Size()}
	start := time.Now()
	switch strings.ToLower(o.Engine) {
	case "go":
		qo := quantize.Options{
			Threads: o.Threads,
			PlanOptions: quantize.PlanOptions{OutputTensorType: outT, TokenEmbeddingType: embT,
				Pure: o.Pure, LeaveOutputTensor: o.LeaveOutputTensor},
			AllowRequantize: o.AllowRequantize,
		}
		if im != nil {
			qo.IMatrix, qo.IMatrixPath = im, o.IMatrix
		}
		bar := progress.New(s.ErrOut, "quantize "+ft.String(), progress.Bytes, o.Quiet || o.JSON)
		qo.Progress = bar.Func()
		sum, err := quantize.QuantizeFile(ctx, o.In, o.Out, ft, qo)
		bar.Finish()
		if err != nil {
			return err
		}
		res.OutputBytes = sum.FileSize
		res.Params = sum.Params
		res.BitsPerWeight = sum.BitsPerWeight()
		res.Tensors, res.Quantized, res.Fallbacks = sum.Tensors, sum.Quantized, sum.Fallbacks
		res.Types = map[string]int{}
		for t, n := range sum.TypeCounts {
			res.Types[t.String()] = n
		}
	case "llamacpp":
		lo := llamacpp.QuantizeOptions{FileType: ft.String(), Threads: o.Threads,
			OutputTensorType: strings.ToUpper(o.OutputTensorType), TokenEmbeddingType: strings.ToUpper(o.TokenEmbeddingType),
			Pure: o.Pure, LeaveOutputTensor: o.LeaveOutputTensor, AllowRequantize: o.AllowRequantize}
		if im != nil {
			lo.IMatrix = &llamacpp.QuantizeIMatrix{Entries: im.Entries, File: o.IMatrix, Chunks: im.ChunkCount}
			if len(im.Datasets) > 0 {
				lo.IMatrix.Dataset = im.Datasets[0]
			}
		}
		if err := llamacpp.Quantize(ctx, o.In, o.Out, lo); err != nil {
			return err
		}
		if st, err := os.Stat(o.Out); err == nil {
			res.OutputBytes = st.Size()
		}
		if f, err := gguf.Open(o.Out); err == nil {
			res.Params = f.ParameterCount()
			if res.Params > 0 {
				res.BitsPerWeight = float64(f.TensorBytes()) * 8 / float64(res.Params)
			}
			res.Tensors = len(f.Tensors)
			res.Types = map[string]int{}
			for _, ti := range f.Tensors {
				res.Types[ti.Type.String()]++
			}
			f.Close()
		}
	default:
		return usagef("--engine %q: want go or llamacpp", o.Engine)
	}
	res.Seconds = time.Since(start).Seconds()
	if o.JSON {
		return writeJSON(s.Out, res)
	}
	printQuantizeSummary(s.Out, res)
	return nil
}

func printQuantizeSummary(w io.Writer, r quantizeSummary) {
	fmt.Fprintf(w, "wrote %s (%s, engine %s) in %.1fs\n", r.Output, r.FileType, r.Engine, r.Seconds)
	ratio := 0.0
	if r.OutputBytes > 0 {
		ratio = float64(r.InputBytes) / float64(r.OutputBytes)
	}
	fmt.Fprintf(w, "size: %s -> %s (%.2fx smaller)\n", progress.FormatBytes(r.InputBytes), progress.FormatBytes(r.OutputBytes), ratio)
	if r.Params > 0 {
		fmt.Fprintf(w, "%d tensors, %s parameters, %.2f bits per weight\n", r.Tensors, progress.FormatCount(r.Params), r.BitsPerWeight)
	}
	if len(r.Types) > 0 {
		names := make([]string, 0, len(r.Types))
		for n := range r.Types {
			names = append(names, n)
		}
		sort.Strings(names)
		parts := make([]string, len(names))
		for i, n := range names {
			parts[i] = fmt.Sprintf("%s %d", n, r.Types[n])
		}
		fmt.Fprintf(w, "tensor types: %s\n", strings.Join(parts, ", "))
	}
	if r.Fallbacks > 0 {
		fmt.Fprintf(w, "%d tensors used a fallback type (rows not a multiple of 256)\n", r.Fallbacks)
	}
}
