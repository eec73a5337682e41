// Package cli is sattva's command tree. cobra only parses: each command is an
// Options struct, a constructor that binds flags, and a run function that calls
// one library function. Exit codes are decided in one place, ExitCode.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// Streams are the I/O streams a command reads and writes. Tests pass buffers.
type Streams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
}

// Main runs sattva with args (without the program name) and returns the
// process exit code. It never calls os.Exit.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	s := &Streams{In: stdin, Out: stdout, ErrOut: stderr}
	root := NewRootCmd(s)
	root.SetArgs(rewriteLlamaDashFlags(args))
	// A command that returns nil after an interrupt finished its work (an
	// atomic write decides cancellation before its rename): exit 0.
	err := root.ExecuteContext(ctx)
	if err != nil {
		if !isSilent(err) {
			fmt.Fprintf(stderr, "sattva: %v\n", err)
		}
	}
	return ExitCode(err)
}

// NewRootCmd builds the whole command tree over the given streams.
func NewRootCmd(s *Streams) *cobra.Command {
	root := &cobra.Command{
		Use:           "sattva",
		Short:         "From fine-tuning data to a fast local Llama you can trust",
		Long:          "sattva checks and generates datasets, runs the LLaMA-Factory training stage,\nconverts Hugging Face checkpoints and LoRA adapters to GGUF, quantizes them,\nruns and evaluates them through llama.cpp, and ships them to Ollama.",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version,
	}
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.ErrOut)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &UsageError{Err: err}
	})
	// Each line adds one command; its constructor lives in its own file.
	root.AddCommand(
		newConvertCmd(s),
		newSynthCmd(s),
		newVersionCmd(s),
		newRunCmd(s), newChatCmd(s), newBenchCmd(s),
		newGGUFCmd(s),
		newEvalCmd(s),
		newNumerologyCmd(s), newDataCmd(s),
		newPlanCmd(s),
		newDoctorCmd(s),
		newInitCmd(s),
		newTrainCmd(s), newOllamaCmd(s), newExportCmd(s), newPipelineCmd(s),
		newQuantizeCmd(s), newIMatrixCmd(s), newQuantReportCmd(s),
		newServeCmd(s),
	)
	root.Args = func(c *cobra.Command, args []string) error {
		if len(args) > 0 {
			return &UsageError{Err: fmt.Errorf("unknown command %q for %q; see 'sattva --help'", args[0], c.CommandPath())}
		}
		return nil
	}
	root.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
	root.SetGlobalNormalizationFunc(normalizeFlagName)
	wrapArgErrors(root)
	return root
}

// wrapArgErrors makes every positional-argument check in the tree return a
// *UsageError, so a wrong argument count exits 2 like a bad flag does.
func wrapArgErrors(c *cobra.Command) {
	if c.Args != nil {
		check := c.Args
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := check(cmd, args); err != nil {
				var u *UsageError
				if errors.As(err, &u) {
					return err
				}
				return &UsageError{Err: err}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		wrapArgErrors(sub)
	}
}
