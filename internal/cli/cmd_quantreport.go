package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sattva/sattva/evalrun/quality"
	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/internal/atomicfile"
	"github.com/sattva/sattva/llamacpp"
	"github.com/sattva/sattva/quantize"
)

type quantReportOptions struct {
	Model       string
	Data        string
	IMatrixData []string
	IMatrix     string
	Types       []string
	Out         string
	SVG         string
	HTML        string
	Title       string
	MaxExamples int
	Chunk       int
	Chunks      int
	engineFlags
}

func newQuantReportCmd(s *Streams) *cobra.Command {
	o := &quantReportOptions{}
	c := &cobra.Command{
		Use:   "quantize-report MODEL-F16.gguf --data HELDOUT.jsonl (--imatrix-data TRAIN.jsonl | --imatrix FILE)",
		Short: "Measure quantization quality with and without an importance matrix (KL divergence vs F16)",
		Long: "quantize-report quantizes the float model to each --types with the Go quantizer, without\n" +
			"and with the importance matrix (computed from --imatrix-data, or --imatrix), runs every\n" +
			"held-out example through the float model and each quantization, and reports bits per\n" +
			"weight, the mean KL divergence of the next-token distributions from the float model's\n" +
			"and how often both pick the same top token, as a Markdown table (and an SVG chart).",
		Example: "  sattva quantize-report f16.gguf --data heldout.jsonl --imatrix-data train.jsonl -o quality.md --svg quality.svg",
		Args:    cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			o.Model = args[0]
			return runQuantReport(c.Context(), s, o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.Data, "data", "", "held-out examples (JSONL) or text; one sequence per example, or per 256-token piece of text")
	f.StringArrayVar(&o.IMatrixData, "imatrix-data", nil, "data to compute the importance matrix from (repeatable)")
	f.StringVar(&o.IMatrix, "imatrix", "", "an importance-matrix file instead of --imatrix-data")
	f.StringSliceVar(&o.Types, "types", []string{"Q4_K_M", "Q5_K_M", "IQ4_XS", "Q6_K", "Q8_0"}, "file types")
	f.StringVarP(&o.Out, "output", "o", "", "Markdown file (default: stdout)")
	f.StringVar(&o.SVG, "svg", "", "also write the chart as SVG")
	f.StringVar(&o.HTML, "html", "", "also write an HTML report (chart and table)")
	f.StringVar(&o.Title, "title", "", "chart title (default: the model's file name)")
	f.IntVar(&o.MaxExamples, "max-examples", 64, "most held-out sequences")
	f.IntVar(&o.Chunk, "imatrix-chunk", 512, "imatrix chunk size (-c of sattva imatrix)")
	f.IntVar(&o.Chunks, "imatrix-chunks", 0, "most imatrix chunks (0: all)")
	o.engineFlags.bind(f, 0)
	_ = c.MarkFlagRequired("data")
	return c
}

// logitsCtx adapts a llamacpp.Context to quality.Logits.
type logitsCtx struct{ c *llamacpp.Context }

func (l logitsCtx) Logits(toks []int32) ([][]float32, error) { return l.c.Logits(toks) }

func runQuantReport(ctx context.Context, s *Streams, o *quantReportOptions) error {
	if (o.IMatrix == "") == (len(o.IMatrixData) == 0) {
		return usagef("give --imatrix-data or --imatrix (one of them)")
	}
	var fts []gguf.FileType
	for _, t := range o.Types {
		ft, err := gguf.ParseFileType(t)
		if err != nil {
			return usagef("%v", err)
		}
		fts = append(fts, ft)
	}
	log := o.logger(s.ErrOut)
	if _, err := llamacpp.InitBackends(o.BackendDir, log); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "sattva-qreport-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	imPath := o.IMatrix
	if imPath == "" {
		fmt.Fprintf(s.ErrOut, "computing the importance matrix from %s\n", strings.Join(o.IMatrixData, ", "))
		sums, err := computeIMatrix(ctx, imatrixOpts{Model: o.Model, Data: o.IMatrixData, ChunkSize: o.Chunk, Chunks: o.Chunks,
			Threads: o.Threads, GPULayers: o.GPULayers, CPUOnly: o.GPULayers == 0, Logger: log})
		if err != nil {
			return err
		}
		imPath = filepath.Join(dir, "imatrix.gguf")
		if err := quantize.WriteIMatrix(ctx, imPath, sums); err != nil {
			return err
		}
		fmt.Fprintf(s.ErrOut, "importance matrix: %d weights over %d chunks of %d tokens\n", len(sums.Entries), sums.ChunkCount, sums.ChunkSize)
	}
	im, err := quantize.ReadIMatrix(imPath)
	if err != nil {
		return err
	}

	var rows []quality.Row
	var paths []string
	for _, ft := range fts {
		for _, withIM := range []bool{false, true} {
			out := filepath.Join(dir, fmt.Sprintf("%s-%v.gguf", ft, withIM))
			qo := quantize.Options{Threads: o.Threads}
			if withIM {
				qo.IMatrix, qo.IMatrixPath = im, imPath
			}
			sum, err := quantize.QuantizeFile(ctx, o.Model, out, ft, qo)
			if err != nil {
				return fmt.Errorf("%s: %w", ft, err)
			}
			rows = append(rows, quality.Row{Type: ft.String(), IMatrix: withIM, BitsPerWeight: sum.BitsPerWeight()})
			paths = append(paths, out)
		}
	}

	mo := llamacpp.ModelOptions{GPULayers: o.GPULayers, CPUOnly: o.GPULayers == 0, Logger: log}
	ref, err := llamacpp.Load(o.Model, mo)
	if err != nil {
		return err
	}
	defer ref.Close()
	seqs, err := heldOutSequences(ctx, ref, o.Data, o.MaxExamples)
	if err != nil {
		return err
	}
	longest := 0
	for _, sq := range seqs {
		longest = max(longest, len(sq))
	}
	co := llamacpp.ContextOptions{ContextSize: longest, BatchSize: longest, UBatchSize: min(longest, 512), Threads: o.Threads}
	open := func(m *llamacpp.Model) (quality.Logits, error) {
		c, err := m.NewContext(co)
		if err != nil {
			return nil, err
		}
		return logitsCtx{c}, nil
	}
	refL, err := open(ref)
	if err != nil {
		return err
	}
	var cands []quality.Logits
	for _, p := range paths {
		m, err := llamacpp.Load(p, mo)
		if err != nil {
			return err
		}
		defer m.Close()
		l, err := open(m)
		if err != nil {
			return err
		}
		cands = append(cands, l)
	}
	fmt.Fprintf(s.ErrOut, "comparing %d quantizations over %d held-out sequences\n", len(cands), len(seqs))
	res, err := quality.CompareMany(ctx, refL, cands, seqs)
	if err != nil {
		return err
	}
	for i := range rows {
		rows[i].Result = res[i]
	}
	md := quality.Markdown(rows)
	if o.Out == "" {
		fmt.Fprint(s.Out, md)
	} else if err := atomicfile.WriteFile(o.Out, []byte(md), 0o644); err != nil {
		return err
	}
	title := o.Title
	if title == "" {
		title = filepath.Base(o.Model)
	}
	if o.SVG != "" {
		if err := atomicfile.WriteFile(o.SVG, []byte(quality.SVG(title, rows)), 0o644); err != nil {
			return err
		}
	}
	if o.HTML != "" {
		if err := atomicfile.WriteFile(o.HTML, []byte(quality.HTML(title, rows)), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// heldOutSequences tokenizes each held-out example (rendered as sattva
// imatrix renders them) or, for plain text, pieces of 256 tokens.
func heldOutSequences(ctx context.Context, m *llamacpp.Model, path string, most int) ([][]int32, error) {
	var seqs [][]int32
	if strings.HasSuffix(strings.ToLower(path), ".jsonl") {
		exs, err := renderExamples(ctx, m, path)
		if err != nil {
			return nil, err
		}
		for _, ex := range exs {
			toks, err := m.Tokenize(ex, m.ChatTemplate() == "", true)
			if err != nil {
				return nil, err
			}
			seqs = append(seqs, toks)
		}
	} else {
		toks, err := imatrixTokens(ctx, m, path, true, false)
		if err != nil {
			return nil, err
		}
		for i := 0; i+16 <= len(toks); i += 256 {
			seqs = append(seqs, toks[i:min(len(toks), i+256)])
		}
	}
	if most > 0 && len(seqs) > most {
		seqs = seqs[:most]
	}
	if len(seqs) == 0 {
		return nil, fmt.Errorf("quantize-report: no sequences in %s", path)
	}
	return seqs, nil
}
