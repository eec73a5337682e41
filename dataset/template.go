package dataset

import (
	"fmt"
	"strings"
)

// Template renders an example the way LLaMA-Factory's supervised stage
// tokenizes it.
type Template struct {
	Name string
	// BOS is the text form of the begin-of-sequence token the template
	// prepends (format_prefix = {"bos_token"}), "" if none.
	BOS string
	// DefaultSystem is used when an example has no system text.
	DefaultSystem string
	userFmt       string // "{{content}}" marks the content
	assistantFmt  string
	systemFmt     string
}

// llama3 is LLaMA-Factory's "llama3" template, copied from
// hiyouga/LLaMA-Factory src/llamafactory/data/template.py (register_template(
// name="llama3", …), read at commit 00577a85): format_user
// "<|start_header_id|>user<|end_header_id|>\n\n{{content}}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
// format_assistant "{{content}}<|eot_id|>", format_system
// "<|start_header_id|>system<|end_header_id|>\n\n{{content}}<|eot_id|>",
// format_prefix {"bos_token"}, no default system. Template._encode puts the
// prefix and the system message before the first message only, and
// _convert_elements_to_ids encodes each formatted string on its own with
// tokenizer.encode(add_special_tokens=False) and the BOS as its id.
var llama3 = Template{
	Name:         "llama3",
	BOS:          "<|begin_of_text|>",
	userFmt:      "<|start_header_id|>user<|end_header_id|>\n\n{{content}}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
	assistantFmt: "{{content}}<|eot_id|>",
	systemFmt:    "<|start_header_id|>system<|end_header_id|>\n\n{{content}}<|eot_id|>",
}

// qwen is LLaMA-Factory's "qwen" template (ChatML), from the same file:
// format_user "<|im_start|>user\n{{content}}<|im_end|>\n<|im_start|>assistant\n",
// format_assistant "{{content}}<|im_end|>\n", format_system
// "<|im_start|>system\n{{content}}<|im_end|>\n", default_system "You are
// Qwen, created by Alibaba Cloud. You are a helpful assistant.", no prefix.
// sattva does not train with it; `sattva verify` knows it to name a
// training template of another family than the model's.
var qwen = Template{
	Name:          "qwen",
	DefaultSystem: "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.",
	userFmt:       "<|im_start|>user\n{{content}}<|im_end|>\n<|im_start|>assistant\n",
	assistantFmt:  "{{content}}<|im_end|>\n",
	systemFmt:     "<|im_start|>system\n{{content}}<|im_end|>\n",
}

// LookupTemplate returns a chat template by its LLaMA-Factory name:
// "llama3" or "qwen".
func LookupTemplate(name string) (*Template, error) {
	switch name {
	case "llama3":
		t := llama3
		return &t, nil
	case "qwen":
		t := qwen
		return &t, nil
	}
	return nil, fmt.Errorf("dataset: unknown chat template %q (known: llama3, qwen)", name)
}

// EndOfTurn is the text that ends an assistant turn in t (the token the
// model must learn to emit): the assistant format's suffix without
// trailing whitespace.
func (t *Template) EndOfTurn() string {
	_, after, _ := strings.Cut(t.assistantFmt, "{{content}}")
	return strings.TrimRight(after, "\n ")
}

// Segment is one string LLaMA-Factory tokenizes on its own.
type Segment struct {
	Text     string
	Response bool // an assistant turn (trained on), else prompt
}

// Segments returns the strings LLaMA-Factory encodes one by one for ex, in
// order; a BOS token (t.BOS != "") comes before them. The token count of the
// example is 1 (BOS) plus the sum of the segments' token counts.
func (t *Template) Segments(ex *Example) []Segment {
	var segs []Segment
	system := ex.System
	if system == "" {
		system = t.DefaultSystem
	}
	if system != "" {
		segs = append(segs, Segment{Text: strings.Replace(t.systemFmt, "{{content}}", system, 1)})
	}
	for _, h := range ex.History {
		segs = append(segs,
			Segment{Text: strings.Replace(t.userFmt, "{{content}}", h[0], 1)},
			Segment{Text: strings.Replace(t.assistantFmt, "{{content}}", h[1], 1), Response: true})
	}
	segs = append(segs,
		Segment{Text: strings.Replace(t.userFmt, "{{content}}", ex.Prompt(), 1)},
		Segment{Text: strings.Replace(t.assistantFmt, "{{content}}", ex.Output, 1), Response: true})
	return segs
}

// Render returns the whole templated text, BOS included as text.
func (t *Template) Render(ex *Example) string {
	var b strings.Builder
	b.WriteString(t.BOS)
	for _, s := range t.Segments(ex) {
		b.WriteString(s.Text)
	}
	return b.String()
}
