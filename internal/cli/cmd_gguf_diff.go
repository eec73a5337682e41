package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/internal/progress"
)

type ggufDiffOptions struct {
	A, B  string
	JSON  bool
	Quiet bool
}

func newGGUFDiffCmd(s *Streams) *cobra.Command {
	o := &ggufDiffOptions{}
	c := &cobra.Command{
		Use:   "diff A B",
		Short: "Compare two GGUF files: metadata and tensor contents",
		Long: "Compare two GGUF files: header, every metadata key (type and value), and every\n" +
			"tensor (type, shape and the sha256 of its bytes; offsets do not matter).\n" +
			"Exits 0 when they are equivalent, 1 when they differ.",
		Example: "  sattva gguf diff ours.gguf llama-cpp.gguf",
		Args:    ggufArgs(cobra.ExactArgs(2)),
		RunE: func(c *cobra.Command, args []string) error {
			o.A, o.B = args[0], args[1]
			return runGGUFDiff(c.Context(), s, o)
		},
	}
	c.Flags().BoolVar(&o.JSON, "json", false, "print the differences as JSON")
	c.Flags().BoolVarP(&o.Quiet, "quiet", "q", false, "no progress bar")
	return c
}

type ggufDiffJSON struct {
	A                  string         `json:"a"`
	B                  string         `json:"b"`
	Equal              bool           `json:"equal"`
	Header             []string       `json:"header"`
	KV                 []ggufKVDiff   `json:"kv"`
	KeyOrderDiffers    bool           `json:"key_order_differs"`
	Tensors            []ggufTensDiff `json:"tensors"`
	TensorOrderDiffers bool           `json:"tensor_order_differs"`
	SameTensors        int            `json:"same_tensors"`
}

type ggufKVDiff struct {
	Key   string `json:"key"`
	TypeA string `json:"type_a,omitempty"` // absent: the key is not in A
	TypeB string `json:"type_b,omitempty"`
	A     any    `json:"a,omitempty"`
	B     any    `json:"b,omitempty"`
}

type ggufTensDiff struct {
	Name    string   `json:"name"`
	TypeA   string   `json:"type_a,omitempty"`
	TypeB   string   `json:"type_b,omitempty"`
	ShapeA  []uint64 `json:"shape_a,omitempty"`
	ShapeB  []uint64 `json:"shape_b,omitempty"`
	SHA256A string   `json:"sha256_a,omitempty"`
	SHA256B string   `json:"sha256_b,omitempty"`
}

func runGGUFDiff(ctx context.Context, s *Streams, o *ggufDiffOptions) error {
	a, err := gguf.Open(o.A)
	if err != nil {
		return err
	}
	defer a.Close()
	b, err := gguf.Open(o.B)
	if err != nil {
		return err
	}
	defer b.Close()
	bar := progress.New(s.ErrOut, "hashing tensors", progress.Bytes, o.Quiet || ggufSmall(o.A) && ggufSmall(o.B))
	d, err := gguf.DiffFiles(ctx, a, b, gguf.DiffOptions{Progress: bar.Func()})
	bar.Finish()
	if err != nil {
		return err
	}
	if o.JSON {
		if err := writeJSON(s.Out, ggufDiffDoc(o, d)); err != nil {
			return err
		}
	} else {
		ggufDiffText(s.Out, o, d)
	}
	if !d.Equal() {
		return ExitWith(ExitFailure)
	}
	return nil
}

func ggufDiffDoc(o *ggufDiffOptions, d *gguf.Diff) *ggufDiffJSON {
	doc := &ggufDiffJSON{A: o.A, B: o.B, Equal: d.Equal(), Header: d.Header, KV: []ggufKVDiff{}, Tensors: []ggufTensDiff{},
		KeyOrderDiffers: d.KeyOrderDiffers, TensorOrderDiffers: d.TensorOrderDiffers, SameTensors: d.SameTensors}
	if doc.Header == nil {
		doc.Header = []string{}
	}
	for _, k := range d.KVs {
		j := ggufKVDiff{Key: k.Key}
		if k.A != nil {
			j.TypeA, j.A = k.A.TypeName(), ggufJSONValue(*k.A)
		}
		if k.B != nil {
			j.TypeB, j.B = k.B.TypeName(), ggufJSONValue(*k.B)
		}
		doc.KV = append(doc.KV, j)
	}
	for _, t := range d.Tensors {
		j := ggufTensDiff{Name: t.Name, SHA256A: t.SHA256A, SHA256B: t.SHA256B}
		if t.A != nil {
			j.TypeA, j.ShapeA = t.A.Type.String(), t.A.Dims
		}
		if t.B != nil {
			j.TypeB, j.ShapeB = t.B.Type.String(), t.B.Dims
		}
		doc.Tensors = append(doc.Tensors, j)
	}
	return doc
}

func ggufDiffText(w io.Writer, o *ggufDiffOptions, d *gguf.Diff) {
	fmt.Fprintf(w, "--- %s\n+++ %s\n", o.A, o.B)
	for _, h := range d.Header {
		fmt.Fprintf(w, "~ %s\n", h)
	}
	for _, k := range d.KVs {
		switch {
		case k.B == nil:
			fmt.Fprintf(w, "- %s %s = %s\n", ggufName(k.Key), k.A.TypeName(), ggufValueText(*k.A, 60))
		case k.A == nil:
			fmt.Fprintf(w, "+ %s %s = %s\n", ggufName(k.Key), k.B.TypeName(), ggufValueText(*k.B, 60))
		default:
			fmt.Fprintf(w, "~ %s: %s %s → %s %s\n", ggufName(k.Key), k.A.TypeName(), ggufValueText(*k.A, 60), k.B.TypeName(), ggufValueText(*k.B, 60))
		}
	}
	if d.KeyOrderDiffers {
		fmt.Fprintln(w, "~ metadata keys are the same but in another order")
	}
	for _, t := range d.Tensors {
		switch {
		case t.B == nil:
			fmt.Fprintf(w, "- tensor %s %s %s\n", ggufName(t.Name), t.A.Type, ggufShape(t.A.Dims))
		case t.A == nil:
			fmt.Fprintf(w, "+ tensor %s %s %s\n", ggufName(t.Name), t.B.Type, ggufShape(t.B.Dims))
		case t.SHA256A != "":
			fmt.Fprintf(w, "~ tensor %s: content differs (sha256 %.12s… → %.12s…)\n", ggufName(t.Name), t.SHA256A, t.SHA256B)
		default:
			fmt.Fprintf(w, "~ tensor %s: %s %s → %s %s\n", ggufName(t.Name), t.A.Type, ggufShape(t.A.Dims), t.B.Type, ggufShape(t.B.Dims))
		}
	}
	if d.TensorOrderDiffers {
		fmt.Fprintln(w, "~ tensors are the same but in another order")
	}
	verdict := "files differ"
	if d.Equal() {
		verdict = "files are equivalent"
	}
	fmt.Fprintf(w, "%d keys differ, %d tensors differ, %d tensors identical: %s\n", len(d.KVs), len(d.Tensors), d.SameTensors, verdict)
}
