package cli

import (
	"fmt"
	"io"

	"github.com/spf13/pflag"

	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/llamacpp"
)

// samplerFlagNames maps llama.cpp's sampler names to the flags that set them.
var samplerFlagNames = map[string]string{
	llamacpp.SamplerTemp: "temp", llamacpp.SamplerTopK: "top-k", llamacpp.SamplerTopP: "top-p",
	llamacpp.SamplerMinP: "min-p", llamacpp.SamplerPenaltyRepeat: "repeat-penalty", llamacpp.SamplerPenaltyLastN: "repeat-last-n",
}

// withModelSampling takes the sampler settings the user did not give on the
// command line from the model's general.sampling.* keys (as llama-cli does)
// and, with verbose, says on w which it took. A model whose metadata cannot
// be read keeps the flags' values; the load that follows reports the file.
func withModelSampling(w io.Writer, flags *pflag.FlagSet, modelPath string, o llamacpp.SamplingOptions, verbose bool) llamacpp.SamplingOptions {
	f, err := gguf.Open(modelPath)
	if err != nil {
		return o
	}
	s, err := gguf.SamplingOf(f)
	f.Close()
	if err != nil {
		if verbose {
			fmt.Fprintf(w, "sampler: the model's general.sampling.* keys are ignored: %v\n", err)
		}
		return o
	}
	userSet := func(name string) bool {
		fl, ok := samplerFlagNames[name]
		return ok && flags != nil && flags.Changed(fl)
	}
	o, notes := llamacpp.ApplyModelSampling(o, s, userSet)
	if verbose {
		for _, n := range notes {
			fmt.Fprintf(w, "sampler default from the model: %s\n", n)
		}
	}
	return o
}
