package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/sattva/sattva/hfcache"
	"github.com/sattva/sattva/pipeline"
	"github.com/sattva/sattva/scaffold"
)

type initOptions struct {
	Dir      string
	Base     string
	Template string
	Name     string
	Examples int
	Seed     uint64
	JSON     bool
}

func newInitCmd(s *Streams) *cobra.Command {
	o := &initOptions{}
	c := &cobra.Command{
		Use:   "init [DIR]",
		Short: "Lay out a new project: folders, a commented sattva.yaml, starter data, .gitignore",
		Long: "init makes the project layout of the plan in DIR (default: the current folder):\n" +
			"  data/private/datasets  training data (ignored by git), with a starter numerology dataset\n" +
			"  data/private/eval      control prompts (ignored by git), with a starter suite\n" +
			"  configs/train          training configs (in git)\n" +
			"  models/                base models and checkpoints (ignored by git)\n" +
			"  scripts/train          helper scripts (in git)\n" +
			"  sattva.yaml            the project, every key commented\n" +
			"and adds .gitignore entries that keep private data, weights and outputs out of git.\n" +
			"It never overwrites a file: what exists is kept.",
		Example: "  sattva init my-sattva --base meta-llama/Llama-3.1-8B\n  sattva init my-sattva --base ~/models/llama-3.1-8b --examples 50",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			o.Dir = "."
			if len(args) == 1 {
				o.Dir = args[0]
			}
			return runInit(c.Context(), s, o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.Base, "base", "", "base model: a Hugging Face folder or an id in the local cache (org/name[@rev]); default models/llama-3.1-8b")
	f.StringVar(&o.Template, "template", "", "chat template: llama3 (default) or plain (base models without chat tokens)")
	f.StringVar(&o.Name, "name", "", "model name for Ollama and artifacts (default sattva-llama31-8b)")
	f.IntVar(&o.Examples, "examples", 200, "generated numerology examples in the starter dataset (0: none)")
	f.Uint64Var(&o.Seed, "seed", 1, "seed of the generated examples")
	f.BoolVar(&o.JSON, "json", false, "machine-readable output")
	return c
}

type initResult struct {
	Dir     string           `json:"dir"`
	Base    string           `json:"base,omitempty"`
	Entries []scaffold.Entry `json:"entries"`
}

func runInit(ctx context.Context, s *Streams, o *initOptions) error {
	if o.Examples < 0 {
		return usagef("--examples must not be negative")
	}
	if o.Template != "" && o.Template != "llama3" && o.Template != "plain" {
		return usagef("--template must be llama3 or plain")
	}
	base := o.Base
	notYet := false // the base is named but not on this machine yet
	if base != "" {
		m, err := hfcache.Resolve(base, hfcache.Options{})
		switch {
		case errors.Is(err, hfcache.ErrNotFound):
			// Accepted as it is: a Hugging Face id or a folder to download
			// into later; the commands that need the weights say what to run.
			notYet = true
		case err != nil:
			return err
		case m.Kind == hfcache.KindGGUF:
			return usagef("--base %s is a GGUF file; training and merging need the Hugging Face folder (config.json, *.safetensors)", base)
		default:
			base = m.Path
		}
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return err
	}
	entries, err := scaffold.Create(dir, scaffold.Options{Name: o.Name, Base: base, Template: o.Template, Examples: o.Examples, Seed: o.Seed})
	if err != nil {
		return err
	}
	if o.JSON {
		return writeJSON(s.Out, initResult{Dir: dir, Base: base, Entries: entries})
	}
	fmt.Fprintf(s.Out, "project in %s\n", dir)
	for _, e := range entries {
		line := fmt.Sprintf("  %-9s %s", e.Action, e.Path)
		if e.Note != "" {
			line += "  (" + e.Note + ")"
		}
		fmt.Fprintln(s.Out, line)
	}
	fmt.Fprintln(s.Out, "\nnext:")
	if p, err := pipeline.LoadProject(filepath.Join(dir, "sattva.yaml")); err == nil && (base == "" || notYet) {
		fmt.Fprintf(s.Out, "  %s   # the base model (%s); everything below but training and export works without it\n", p.DownloadCommand(), p.Base)
	}
	fmt.Fprintln(s.Out, "  sattva doctor              # what this machine can do")
	fmt.Fprintln(s.Out, "  sattva plan train --vram 12GB   # will the training fit?")
	fmt.Fprintln(s.Out, "  sattva pipeline run        # data → train → export → eval")
	return nil
}
