package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/sattva/sattva/gguf"
)

type ggufInspectOptions struct {
	File string
	JSON bool
}

func newGGUFInspectCmd(s *Streams) *cobra.Command {
	o := &ggufInspectOptions{}
	c := &cobra.Command{
		Use:   "inspect FILE",
		Short: "Show a GGUF file's metadata and tensors",
		Long: "Show a GGUF file's header, every metadata key with its type and value (long\n" +
			"arrays and strings summarised) and every tensor with its type, shape and size,\n" +
			"with the parameter count and bits per weight. --json prints everything in full.",
		Example: "  sattva gguf inspect model.gguf\n  sattva gguf inspect --json model.gguf | jq '.kv[] | select(.key==\"tokenizer.ggml.eos_token_id\")'",
		Args:    ggufArgs(cobra.ExactArgs(1)),
		RunE: func(c *cobra.Command, args []string) error {
			o.File = args[0]
			return runGGUFInspect(c.Context(), s, o)
		},
	}
	c.Flags().BoolVar(&o.JSON, "json", false, "print everything (full arrays) as JSON")
	return c
}

// ggufInspectJSON is the --json form; its field names are stable.
type ggufInspectJSON struct {
	File           string              `json:"file"`
	Version        uint32              `json:"version"`
	Alignment      uint64              `json:"alignment"`
	DataOffset     int64               `json:"data_offset"`
	Size           int64               `json:"size"`
	Architecture   string              `json:"architecture"`
	ParameterCount int64               `json:"parameter_count"`
	TensorBytes    int64               `json:"tensor_bytes"`
	BitsPerWeight  float64             `json:"bits_per_weight"`
	KV             []ggufKVJSON        `json:"kv"`
	Tensors        []ggufTensorJSON    `json:"tensors"`
	TypeCounts     []ggufTypeCountJSON `json:"tensor_types"`
	// Sampling is the recommended sampler (general.sampling.* without the
	// prefix), which llama.cpp's tools and sattva run/chat take as defaults.
	Sampling map[string]any `json:"sampling,omitempty"`
	// SamplingError says why the general.sampling.* keys could not be read.
	SamplingError string `json:"sampling_error,omitempty"`
}

type ggufKVJSON struct {
	Key      string `json:"key"`
	Type     string `json:"type"`                // UINT32, STRING, ARRAY, …
	ElemType string `json:"elem_type,omitempty"` // for arrays
	Len      *int   `json:"len,omitempty"`       // for arrays
	Value    any    `json:"value"`
}

type ggufTensorJSON struct {
	Name     string   `json:"name"`
	Type     string   `json:"type"`
	Shape    []uint64 `json:"shape"` // GGUF order
	Elements int64    `json:"elements"`
	Offset   uint64   `json:"offset"` // relative to data_offset
	Size     int64    `json:"size"`   // bytes
}

type ggufTypeCountJSON struct {
	Type     string `json:"type"`
	Tensors  int    `json:"tensors"`
	Elements int64  `json:"elements"`
	Bytes    int64  `json:"bytes"`
}

func runGGUFInspect(_ context.Context, s *Streams, o *ggufInspectOptions) error {
	f, err := gguf.Open(o.File)
	if err != nil {
		return err
	}
	defer f.Close()
	doc := ggufInspectDoc(o.File, f)
	if o.JSON {
		return writeJSON(s.Out, doc)
	}
	return ggufInspectText(s.Out, doc, f)
}

func ggufInspectDoc(path string, f *gguf.File) *ggufInspectJSON {
	doc := &ggufInspectJSON{
		File: path, Version: f.Version, Alignment: f.Alignment, DataOffset: f.DataOffset, Size: f.Size,
		Architecture: f.Architecture(), ParameterCount: f.ParameterCount(), TensorBytes: f.TensorBytes(),
		KV: []ggufKVJSON{}, Tensors: []ggufTensorJSON{}, TypeCounts: []ggufTypeCountJSON{},
	}
	if doc.ParameterCount > 0 {
		doc.BitsPerWeight = float64(doc.TensorBytes) * 8 / float64(doc.ParameterCount)
	}
	for _, kv := range f.KVs {
		k := ggufKVJSON{Key: kv.Key, Type: kv.Value.Type.String(), Value: ggufJSONValue(kv.Value)}
		if kv.Value.Type == gguf.ValueArray {
			k.ElemType = kv.Value.Elem.String()
			n := kv.Value.Len()
			k.Len = &n
		}
		doc.KV = append(doc.KV, k)
	}
	if sm, err := gguf.SamplingOf(f); err != nil {
		doc.SamplingError = err.Error()
	} else {
		for _, kv := range sm.KVs() {
			if doc.Sampling == nil {
				doc.Sampling = map[string]any{}
			}
			doc.Sampling[strings.TrimPrefix(kv.Key, "general.sampling.")] = kv.Value.V
		}
	}
	byType := map[gguf.Type]*ggufTypeCountJSON{}
	var order []gguf.Type
	for _, ti := range f.Tensors {
		doc.Tensors = append(doc.Tensors, ggufTensorJSON{
			Name: ti.Name, Type: ti.Type.String(), Shape: ti.Dims, Elements: ti.NumElements(), Offset: ti.Offset, Size: ti.Size(),
		})
		tc := byType[ti.Type]
		if tc == nil {
			tc = &ggufTypeCountJSON{Type: ti.Type.String()}
			byType[ti.Type] = tc
			order = append(order, ti.Type)
		}
		tc.Tensors++
		tc.Elements += ti.NumElements()
		tc.Bytes += ti.Size()
	}
	slices.Sort(order)
	for _, t := range order {
		doc.TypeCounts = append(doc.TypeCounts, *byType[t])
	}
	return doc
}

func ggufInspectText(w io.Writer, doc *ggufInspectJSON, f *gguf.File) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "file\t%s\n", doc.File)
	fmt.Fprintf(tw, "format\tGGUF v%d, alignment %d, data at offset %d\n", doc.Version, doc.Alignment, doc.DataOffset)
	fmt.Fprintf(tw, "size\t%s (%s bytes)\n", ggufBytes(doc.Size), ggufCount(doc.Size))
	if doc.Architecture != "" {
		fmt.Fprintf(tw, "architecture\t%s\n", ggufName(doc.Architecture))
	}
	fmt.Fprintf(tw, "parameters\t%s in %d tensors, %s of tensor data", ggufCount(doc.ParameterCount), len(doc.Tensors), ggufBytes(doc.TensorBytes))
	if doc.ParameterCount > 0 {
		fmt.Fprintf(tw, ", %.2f bits per weight", doc.BitsPerWeight)
	}
	fmt.Fprintln(tw)
	for _, tc := range doc.TypeCounts {
		fmt.Fprintf(tw, "  %s\t%d tensors, %s parameters, %s\n", tc.Type, tc.Tensors, ggufCount(tc.Elements), ggufBytes(tc.Bytes))
	}
	if sm, err := gguf.SamplingOf(f); err != nil {
		fmt.Fprintf(tw, "sampler\t%v\n", err)
	} else if !sm.IsZero() {
		fmt.Fprintf(tw, "sampler\t%s (general.sampling.*: the defaults of llama.cpp and sattva run/chat)\n", sm)
	}
	fmt.Fprintf(tw, "\nKEY\tTYPE\tVALUE\n")
	for _, kv := range f.KVs {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", ggufName(kv.Key), kv.Value.TypeName(), ggufValueText(kv.Value, 60))
	}
	if len(f.Tensors) > 0 {
		fmt.Fprintf(tw, "\nTENSOR\tTYPE\tSHAPE\tELEMENTS\tSIZE\n")
		for _, t := range doc.Tensors {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", ggufName(t.Name), t.Type, ggufShape(t.Shape), ggufCount(t.Elements), ggufBytes(t.Size))
		}
	}
	return tw.Flush()
}
