package cli

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sattva/sattva/internal/progress"
	"github.com/sattva/sattva/pipeline"
)

type exportOptions struct {
	Project   string
	NoAdapter bool
	Threads   int
	Quiet     bool
	JSON      bool
}

func newExportCmd(s *Streams) *cobra.Command {
	o := &exportOptions{}
	c := &cobra.Command{
		Use:   "export [sattva.yaml]",
		Short: "Convert the base and the trained LoRA to GGUF, quantize, write a Modelfile and a manifest",
		Long: `export turns the project's base model and the adapter that ` + "`sattva train`" + ` left in
<output>/adapter into GGUF files in <output>/export:

  export.adapter: merge     the LoRA folded into the weights, one GGUF per export type
  export.adapter: separate  the base quantized per type plus <name>-lora.gguf (Modelfile ADAPTER)

then writes the Ollama Modelfile (FROM, the Llama 3 TEMPLATE Ollama ships, stop words,
the project's parameters and SYSTEM) and manifest.json: sha256 and size of every file,
and their provenance (base, adapter and dataset hashes, sattva's version, the commands),
which also goes into every GGUF's general.* keys. Without a trained adapter it exports
the base model and says so. Register the result with ` + "`sattva ollama create`" + `.`,
		Example: `  sattva export
  sattva export examples/default/sattva.yaml --no-adapter`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			o.Project = "sattva.yaml"
			if len(args) == 1 {
				o.Project = args[0]
			}
			return runExport(c.Context(), s, o, c.CommandPath()+" "+strings.Join(args, " "))
		},
	}
	f := c.Flags()
	f.BoolVar(&o.NoAdapter, "no-adapter", false, "export the base model alone even when an adapter exists")
	f.IntVar(&o.Threads, "threads", 0, "tensors converted and rows quantized at once (0: every CPU)")
	f.BoolVarP(&o.Quiet, "quiet", "q", false, "no progress bars")
	f.BoolVar(&o.JSON, "json", false, "print manifest.json")
	return c
}

func runExport(ctx context.Context, s *Streams, o *exportOptions, cmdline string) error {
	p, err := pipeline.LoadProject(o.Project)
	if err != nil {
		return err
	}
	hc := pipeline.OpenHashCache(filepath.Join(p.OutputDir(), "hashes.json"))
	defer hc.Save()
	res, err := pipeline.Export(ctx, p, pipeline.ExportOptions{
		Tools:     exportTools(s.ErrOut, o.Threads, o.Quiet),
		Version:   Version,
		Command:   strings.TrimSpace(cmdline),
		NoAdapter: o.NoAdapter,
		Hashes:    hc,
	})
	if err != nil {
		return err
	}
	if o.JSON {
		return writeJSON(s.Out, res.Manifest)
	}
	writeExportSummary(s.Out, res)
	return nil
}

func writeExportSummary(w io.Writer, res *pipeline.ExportResult) {
	for _, n := range res.Manifest.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	for _, a := range res.Manifest.Artifacts {
		fmt.Fprintf(w, "%-10s %-8s %12d  %s  %s\n", a.Kind, a.Type, a.Size, a.SHA256[:12], filepath.Join(res.Dir, a.Path))
	}
	fmt.Fprintf(w, "manifest: %s\nnext: sattva ollama create %s -f %s\n", filepath.Join(res.Dir, "manifest.json"), res.Manifest.Name, res.Modelfile)
}

// exportTools are pipeline.ConvertTools with a progress bar per step.
func exportTools(errOut io.Writer, threads int, quiet bool) pipeline.ExportTools {
	t := pipeline.ConvertTools(threads, func(step, out string) (func(done, total int64), func()) {
		bar := progress.New(errOut, step+" "+filepath.Base(out), progress.Bytes, quiet)
		return bar.Func(), bar.Finish
	})
	t.IMatrix = exportIMatrixTool(errOut, threads, quiet)
	return t
}
