package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/sattva/sattva/evalrun"
	"github.com/sattva/sattva/pipeline"
)

type ollamaCreateOptions struct {
	Name      string
	Modelfile string
	Project   string
	Bin       string
	Host      string
}

func newOllamaCmd(s *Streams) *cobra.Command {
	c := &cobra.Command{
		Use:   "ollama",
		Short: "Ship an exported model to Ollama",
		Args:  cobra.NoArgs,
	}
	c.AddCommand(newOllamaCreateCmd(s))
	return c
}

func newOllamaCreateCmd(s *Streams) *cobra.Command {
	o := &ollamaCreateOptions{}
	c := &cobra.Command{
		Use:   "create [NAME]",
		Short: "Register the exported model with Ollama (runs `ollama create NAME -f Modelfile`)",
		Long: `create runs ` + "`ollama create NAME -f MODELFILE`" + ` from the Modelfile's folder, so the
relative FROM and ADAPTER paths that ` + "`sattva export`" + ` writes resolve. NAME defaults to the
project's name; the Modelfile to <output>/export/Modelfile of the project (sattva.yaml).
The Ollama server must be running (` + "`ollama serve`" + `); --host or $OLLAMA_HOST says where.`,
		Example: `  sattva ollama create                       # name and Modelfile from sattva.yaml
  sattva ollama create sattva-v2 -f out/export/Modelfile
  ollama run sattva-llama31-8b`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.Name = args[0]
			}
			return runOllamaCreate(c.Context(), s, o)
		},
	}
	f := c.Flags()
	f.StringVarP(&o.Modelfile, "file", "f", "", "the Modelfile (default: the project's <output>/export/Modelfile)")
	f.StringVarP(&o.Project, "project", "p", "sattva.yaml", "the project file, for the default name and Modelfile")
	f.StringVar(&o.Bin, "ollama", "", "the ollama executable (default: ollama on PATH, else .tools/ollama)")
	f.StringVar(&o.Host, "host", "", "the Ollama server (default $OLLAMA_HOST or 127.0.0.1:11434)")
	return c
}

func runOllamaCreate(ctx context.Context, s *Streams, o *ollamaCreateOptions) error {
	if o.Name == "" || o.Modelfile == "" {
		p, err := pipeline.LoadProject(o.Project)
		if err != nil {
			if o.Name == "" {
				return fmt.Errorf("no NAME given and the project cannot be read: %w", err)
			}
			return fmt.Errorf("no --file given and the project cannot be read: %w", err)
		}
		if o.Name == "" {
			o.Name = p.Name
		}
		if o.Modelfile == "" {
			o.Modelfile = filepath.Join(p.ExportDir(), "Modelfile")
		}
	}
	if _, err := os.Stat(o.Modelfile); err != nil {
		return fmt.Errorf("%w (run `sattva export` first)", err)
	}
	if err := checkOllamaAdapter(ctx, s, o.Modelfile, o.Host); err != nil {
		return err
	}
	bin := o.Bin
	if bin == "" {
		if _, err := pipeline.FindOllama(""); err != nil {
			if local, lerr := filepath.Abs(filepath.Join(".tools", "ollama")); lerr == nil {
				if _, serr := os.Stat(local); serr == nil {
					bin = local
				}
			}
		}
	}
	err := pipeline.OllamaCreate(ctx, o.Name, o.Modelfile, pipeline.OllamaOptions{
		Bin: bin, Host: o.Host,
		OnLine: func(line string, _ bool) { fmt.Fprintln(s.ErrOut, line) },
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(s.Out, "created %s from %s\nrun it: ollama run %s\n", o.Name, o.Modelfile, o.Name)
	return nil
}

// checkOllamaAdapter asks the server's version when the Modelfile has an
// ADAPTER line and refuses, before calling Ollama, the versions that
// reject it.
func checkOllamaAdapter(ctx context.Context, s *Streams, modelfile, host string) error {
	b, err := os.ReadFile(modelfile)
	if err != nil {
		return err
	}
	mf, err := pipeline.ParseModelfile(string(b))
	if err != nil {
		return fmt.Errorf("%s: %w", modelfile, err)
	}
	if mf.Adapter == "" {
		return nil
	}
	if host == "" {
		host = os.Getenv("OLLAMA_HOST")
	}
	u, err := evalrun.OllamaURL(host)
	if err != nil {
		return err
	}
	v, err := pipeline.OllamaVersion(ctx, u.String())
	if err != nil {
		fmt.Fprintf(s.ErrOut, "warning: %v; going on without knowing whether this Ollama accepts ADAPTER\n", err)
		return nil
	}
	if err := pipeline.AdapterSupport(v); err != nil {
		return fmt.Errorf("%s has ADAPTER %s: %w", modelfile, mf.Adapter, err)
	}
	return nil
}
