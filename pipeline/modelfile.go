package pipeline

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Llama3Template is the TEMPLATE Ollama ships for Llama 3 instruct models,
// byte for byte: template/llama3-instruct.gotmpl of github.com/ollama/ollama
// (identical in v0.6.5 and v0.24.0, the versions this module pins). Ollama
// turns SYSTEM into the first message, so system, user and assistant turns
// all go through the one range; BOS comes from the tokenizer.
const Llama3Template = `{{- range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>

{{ .Content }}<|eot_id|>
{{- end }}<|start_header_id|>assistant<|end_header_id|>

`

// llama3Stops are the stop words of template/llama3-instruct.json, in its
// order; TemplateStops hands out copies.
var llama3Stops = []string{"<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"}

// PlainTemplate is sattva's template for base models without chat tokens
// (stories260K): the system prompt and the question joined by a blank line,
// exactly evalrun.RawPrompt (what `sattva eval` sends with chat_template:
// false), then the answer after a space (SentencePiece's word-start marker
// when the answer is tokenized on its own, as the trainer does) and EOS. It
// is meant for one question per conversation.
const PlainTemplate = `{{- if .System }}{{ .System }}

{{ end }}
{{- range .Messages }}
{{- if eq .Role "user" }}{{ .Content }}{{ else if eq .Role "assistant" }} {{ .Content }}</s>{{ end }}
{{- end }}`

// ModelfileSpec is what Modelfile writes.
type ModelfileSpec struct {
	// From is the GGUF the model is built from, usually a path relative to
	// the Modelfile ("./sattva-q4_K_M.gguf").
	From string
	// Adapter is a GGUF LoRA adapter applied on top of From ("" for none).
	Adapter string
	// Template is "llama3" or "plain".
	Template   string
	System     string
	Parameters map[string]float64
	// Stops are stop strings written after the template's own.
	Stops []string
	// Comment lines written at the top (provenance).
	Comment []string
}

// Modelfile renders an Ollama Modelfile: FROM, ADAPTER, TEMPLATE, the stop
// words of the template, the sampling parameters in name order, and SYSTEM.
func Modelfile(s ModelfileSpec) (string, error) {
	var tmpl string
	switch s.Template {
	case "llama3":
		tmpl = Llama3Template
	case "plain":
		tmpl = PlainTemplate
	default:
		return "", fmt.Errorf("pipeline: Modelfile: unknown template %q", s.Template)
	}
	if s.From == "" {
		return "", fmt.Errorf("pipeline: Modelfile: FROM is empty")
	}
	for _, v := range []string{s.From, s.Adapter} {
		if strings.ContainsAny(v, "\n\r") {
			return "", fmt.Errorf("pipeline: Modelfile: path %q has a line break", v)
		}
	}
	if strings.Contains(s.System, `"""`) {
		return "", fmt.Errorf(`pipeline: Modelfile: SYSTEM must not contain """`)
	}
	var b strings.Builder
	for _, c := range s.Comment {
		for _, l := range strings.Split(c, "\n") {
			b.WriteString("# " + l + "\n")
		}
	}
	if len(s.Comment) > 0 {
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "FROM %s\n", quoteArg(s.From))
	if s.Adapter != "" {
		fmt.Fprintf(&b, "ADAPTER %s\n", quoteArg(s.Adapter))
	}
	fmt.Fprintf(&b, "\nTEMPLATE \"\"\"%s\"\"\"\n\n", tmpl)
	stops := TemplateStops(s.Template)
	for _, st := range s.Stops {
		if st != "" && !slices.Contains(stops, st) {
			stops = append(stops, st)
		}
	}
	for _, st := range stops {
		if strings.ContainsAny(st, "\n\"\\") {
			// Ollama's parser takes quoted text literally (no escapes);
			// a triple-quoted value may hold a line break.
			fmt.Fprintf(&b, "PARAMETER stop \"\"\"%s\"\"\"\n", st)
		} else {
			fmt.Fprintf(&b, "PARAMETER stop \"%s\"\n", st)
		}
	}
	names := make([]string, 0, len(s.Parameters))
	for k := range s.Parameters {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(&b, "PARAMETER %s %s\n", k, strconv.FormatFloat(s.Parameters[k], 'g', -1, 64))
	}
	if sys := strings.TrimRight(s.System, "\n"); sys != "" {
		fmt.Fprintf(&b, "\nSYSTEM \"\"\"%s\"\"\"\n", sys)
	}
	return b.String(), nil
}

// quoteArg quotes a FROM/ADAPTER path when it has spaces or quotes.
func quoteArg(s string) string {
	if strings.ContainsAny(s, " \t\"") {
		return strconv.Quote(s)
	}
	return s
}

// RenderPrompt renders a one-turn prompt (system may be empty) the way the
// trainer and the Modelfile's TEMPLATE do, for engines that take raw text
// (llama.cpp with special-token parsing and BOS added by the tokenizer).
func RenderPrompt(template, system, user string) (string, error) {
	switch template {
	case "llama3":
		var b strings.Builder
		if system != "" {
			b.WriteString("<|start_header_id|>system<|end_header_id|>\n\n" + system + "<|eot_id|>")
		}
		b.WriteString("<|start_header_id|>user<|end_header_id|>\n\n" + user + "<|eot_id|>")
		b.WriteString("<|start_header_id|>assistant<|end_header_id|>\n\n")
		return b.String(), nil
	case "plain":
		if system != "" {
			return system + "\n\n" + user, nil
		}
		return user, nil
	}
	return "", fmt.Errorf("pipeline: unknown template %q", template)
}

// TemplateStops returns the stop strings of a template (for raw-text
// engines and the Modelfile), a fresh slice the caller may change. "plain"
// has none: the model ends its answer with EOS, which Ollama and llama.cpp
// stop on by themselves.
func TemplateStops(template string) []string {
	if template == "llama3" {
		return slices.Clone(llama3Stops)
	}
	return nil
}
