package cli

import (
	"strings"

	"github.com/spf13/pflag"
)

// llama.cpp spells some flags with one dash and several letters (-ngl, -fa,
// -np), which pflag would read as a cluster of one-letter flags. These are
// rewritten to their long form before parsing, so that a command line copied
// from llama.cpp's documentation works unchanged.
var llamaDashFlags = map[string]string{
	"-ngl": "--n-gpu-layers",
	"-fa":  "--flash-attn",
	"-np":  "--parallel",
}

// flagAliases maps the older and other tools' names of a flag to the one
// sattva shows in --help (llama.cpp's name). They stay accepted, hidden.
var flagAliases = map[string]string{
	"ngl":         "n-gpu-layers",
	"gpu-layers":  "n-gpu-layers",
	"fa":          "flash-attn",
	"temperature": "temp",
	"max-tokens":  "n-predict",
	"ctx":         "ctx-size",
	"ubatch":      "ubatch-size",
}

// rewriteLlamaDashFlags returns args with llama.cpp's one-dash long flags
// (-ngl 99, -ngl=99, -fa on) in their two-dash form. Nothing after "--" is
// touched, and neither is the value of a flag that takes one (`-p -ngl`
// keeps "-ngl" as the prompt).
func rewriteLlamaDashFlags(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			out = append(out, args[i:]...)
			break
		}
		name, value, hasValue := strings.Cut(a, "=")
		if long, ok := llamaDashFlags[name]; ok {
			if hasValue {
				out = append(out, long+"="+value)
			} else {
				out = append(out, long)
			}
			continue
		}
		out = append(out, a)
		// The value of a one-letter flag given apart (-p TEXT, -m FILE)
		// is copied as it is, whatever it looks like.
		if len(a) == 2 && a[0] == '-' && a[1] != '-' && strings.ContainsRune("pmsocnt", rune(a[1])) && i+1 < len(args) {
			i++
			out = append(out, args[i])
		}
	}
	return out
}

// normalizeFlagName is the flag set's normalisation function: aliases become
// the canonical name, so --temperature and --temp are one flag.
func normalizeFlagName(_ *pflag.FlagSet, name string) pflag.NormalizedName {
	if canon, ok := flagAliases[name]; ok {
		return pflag.NormalizedName(canon)
	}
	return pflag.NormalizedName(name)
}
