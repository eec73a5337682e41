package verify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/ardanlabs/jinja"
	"github.com/ollama/ollama/api"
	ollamatemplate "github.com/ollama/ollama/template"

	"github.com/sattva/sattva/dataset"
	"github.com/sattva/sattva/llamacpp"
)

// Message is one turn of a conversation.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Conversation is one fixed prompt that every renderer must agree on.
type Conversation struct {
	Name     string    `json:"name"`
	Messages []Message `json:"messages"` // ends with a user turn
}

// Conversations returns the fixed prompts of the template checks: with and
// without a system turn, three turns, Russian and English, whitespace
// around the content and empty messages. Each call builds them anew.
func Conversations() []Conversation {
	return []Conversation{
		{Name: "system+user (en)", Messages: []Message{
			{"system", "You are a concise assistant."},
			{"user", "What is the capital of France?"}}},
		{Name: "no system (ru)", Messages: []Message{
			{"user", "Определи число судьбы для даты 29.01.1988."}}},
		{Name: "three turns (ru+en)", Messages: []Message{
			{"system", "Ты — SatTva, помощник по нумерологии."},
			{"user", "Привет! Что такое число Кармы?"},
			{"assistant", "Число Кармы — это сумма цифр дня рождения."},
			{"user", "And in English, please?"}}},
		{Name: "leading/trailing whitespace", Messages: []Message{
			{"system", "  Answer briefly.\n"},
			{"user", "\n  Hello there!  \n"}}},
		{Name: "empty messages", Messages: []Message{
			{"user", "Hi"},
			{"assistant", ""},
			{"user", ""}}},
	}
}

// Render is one way a conversation becomes prompt tokens.
type Render struct {
	Way    string  `json:"way"` // training, hf, gguf, gguf-jinja, modelfile
	Text   string  `json:"text"`
	Tokens []int32 `json:"tokens"`
	Err    string  `json:"error,omitempty"`
}

// Ways, in the order reports list them.
const (
	WayTraining  = "training"   // LLaMA-Factory's template, as the trainer tokenizes it
	WayHF        = "hf"         // tokenizer_config.json's chat_template (Jinja), as transformers renders it
	WayGGUF      = "gguf"       // llama_chat_apply_template over the GGUF's template (sattva run/eval, llama.cpp without --jinja)
	WayGGUFJinja = "gguf-jinja" // the GGUF's template as Jinja, as llama.cpp's --jinja path renders it
	WayModelfile = "modelfile"  // the Modelfile TEMPLATE with Ollama's template package
)

var wayNames = map[string]string{
	WayTraining:  "training format (LLaMA-Factory template)",
	WayHF:        "Hugging Face chat_template",
	WayGGUF:      "GGUF chat template via llama_chat_apply_template",
	WayGGUFJinja: "GGUF chat template as Jinja (llama.cpp --jinja)",
	WayModelfile: "Modelfile TEMPLATE (Ollama)",
}

// renderer holds what the renderings need.
type renderer struct {
	vocab     *llamacpp.Model // the served GGUF, vocabulary only
	train     *dataset.Template
	hfTmpl    *jinja.Template
	hfBOS     string
	hfEOS     string
	ggufTmpl  *jinja.Template
	addBOS    bool
	bosText   string
	eosText   string
	modelfile *ollamatemplate.Template
	system    string // the Modelfile's SYSTEM: Ollama's system turn when a request has none
}

// effective is the conversation as Ollama receives it: the Modelfile's
// SYSTEM first when the request has no system turn (server/routes.go).
func (r *renderer) effective(c Conversation) []Message {
	if r.system != "" && (len(c.Messages) == 0 || c.Messages[0].Role != "system") {
		return append([]Message{{"system", r.system}}, c.Messages...)
	}
	return c.Messages
}

// trainingTokens renders msgs the way LLaMA-Factory tokenizes a prompt:
// BOS, then each segment encoded on its own, up to the assistant header of
// the last user turn. adjust may change the messages first (known
// differences).
func (r *renderer) trainingTokens(msgs []Message) (string, []int32, error) {
	ex := &dataset.Example{}
	i := 0
	if len(msgs) > 0 && msgs[0].Role == "system" {
		ex.System = msgs[0].Content
		i = 1
	}
	var users, answers []string
	for ; i < len(msgs); i++ {
		switch msgs[i].Role {
		case "user":
			users = append(users, msgs[i].Content)
		case "assistant":
			answers = append(answers, msgs[i].Content)
		default:
			return "", nil, fmt.Errorf("role %q", msgs[i].Role)
		}
	}
	if len(users) != len(answers)+1 {
		return "", nil, fmt.Errorf("conversation must alternate user and assistant turns and end with a user turn")
	}
	for j := range answers {
		ex.History = append(ex.History, [2]string{users[j], answers[j]})
	}
	ex.Instruction = users[len(users)-1]
	var text strings.Builder
	var toks []int32
	if r.train.BOS != "" && r.vocab.BOS() >= 0 {
		text.WriteString(r.train.BOS)
		toks = append(toks, r.vocab.BOS())
	}
	segs := r.train.Segments(ex)
	for _, s := range segs[:len(segs)-1] { // the last is the (empty) answer
		t, err := r.vocab.Tokenize(s.Text, false, true)
		if err != nil {
			return "", nil, err
		}
		text.WriteString(s.Text)
		toks = append(toks, t...)
	}
	return text.String(), toks, nil
}

func jinjaMessages(msgs []Message) []any {
	out := make([]any, len(msgs))
	for i, m := range msgs {
		out[i] = map[string]any{"role": m.Role, "content": m.Content}
	}
	return out
}

// render renders c one way.
func (r *renderer) render(way string, c Conversation) Render {
	out := Render{Way: way}
	msgs := r.effective(c)
	var err error
	switch way {
	case WayTraining:
		out.Text, out.Tokens, err = r.trainingTokens(msgs)
	case WayHF:
		if r.hfTmpl == nil {
			err = errNoTemplate
			break
		}
		// transformers' apply_chat_template(tokenize=True) encodes with
		// add_special_tokens=False: BOS comes from the template alone.
		out.Text, err = r.hfTmpl.Render(map[string]any{"messages": jinjaMessages(msgs), "bos_token": r.hfBOS, "eos_token": r.hfEOS, "add_generation_prompt": true})
		if err == nil {
			out.Tokens, err = r.vocab.Tokenize(out.Text, false, true)
		}
	case WayGGUF:
		lm := make([]llamacpp.ChatMessage, len(msgs))
		for i, m := range msgs {
			lm[i] = llamacpp.ChatMessage{Role: m.Role, Content: m.Content}
		}
		out.Text, err = r.vocab.ApplyChatTemplate(lm, true)
		if err == nil {
			out.Tokens, err = r.vocab.Tokenize(out.Text, true, true)
		}
	case WayGGUFJinja:
		if r.ggufTmpl == nil {
			err = errNoTemplate
			break
		}
		out.Text, err = r.ggufTmpl.Render(map[string]any{"messages": jinjaMessages(msgs), "bos_token": r.bosText, "eos_token": r.eosText, "add_generation_prompt": true})
		if err == nil {
			// common/chat.cpp: "To avoid double BOS / EOS tokens, we're
			// manually removing beginning / trailing tokens": one leading
			// BOS text goes when the tokenizer adds BOS itself.
			text := out.Text
			if r.addBOS && r.bosText != "" {
				text = strings.TrimPrefix(text, r.bosText)
			}
			out.Tokens, err = r.vocab.Tokenize(text, true, true)
		}
	case WayModelfile:
		if r.modelfile == nil {
			err = errNoTemplate
			break
		}
		am := make([]api.Message, len(msgs))
		for i, m := range msgs {
			am[i] = api.Message{Role: m.Role, Content: m.Content}
		}
		var b bytes.Buffer
		err = r.modelfile.Execute(&b, ollamatemplate.Values{Messages: am})
		out.Text = b.String()
		if err == nil {
			// Ollama's runner tokenizes with the vocabulary's specials
			// added and special-token text parsed.
			out.Tokens, err = r.vocab.Tokenize(out.Text, true, true)
		}
	}
	if err != nil {
		out.Err = err.Error()
	}
	return out
}

var errNoTemplate = fmt.Errorf("no template")

// TokenDiff is the first difference of two renderings.
type TokenDiff struct {
	Conversation string   `json:"conversation"`
	A, B         string   `json:"-"` // ways
	PairA        string   `json:"a"`
	PairB        string   `json:"b"`
	Index        int      `json:"index"`
	ATokens      []string `json:"a_context"` // pieces, from Index-20 to Index+20
	BTokens      []string `json:"b_context"`
	Start        int      `json:"context_start"`
	ALen, BLen   int      `json:"-"`
}

// firstDiff returns the index of the first differing token, or -1.
func firstDiff(a, b []int32) int {
	for i := 0; i < min(len(a), len(b)); i++ {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}

func (r *renderer) diff(conv string, a, b Render) *TokenDiff {
	i := firstDiff(a.Tokens, b.Tokens)
	if i < 0 {
		return nil
	}
	d := &TokenDiff{Conversation: conv, A: a.Way, B: b.Way, PairA: wayNames[a.Way], PairB: wayNames[b.Way], Index: i, Start: max(0, i-20), ALen: len(a.Tokens), BLen: len(b.Tokens)}
	piece := func(toks []int32) []string {
		var out []string
		for j := d.Start; j < min(len(toks), i+21); j++ {
			out = append(out, r.vocab.TokenPiece(toks[j]))
		}
		return out
	}
	d.ATokens, d.BTokens = piece(a.Tokens), piece(b.Tokens)
	return d
}

// String prints the diff: the context of each side with the first
// differing token in [brackets].
func (d *TokenDiff) String() string {
	side := func(toks []string) string {
		var b strings.Builder
		for j, p := range toks {
			if d.Start+j == d.Index {
				b.WriteString("[" + p + "]")
			} else {
				b.WriteString(p)
			}
		}
		if d.Start+len(toks) == d.Index {
			b.WriteString("[<end>]")
		}
		return fmt.Sprintf("%q", b.String())
	}
	return fmt.Sprintf("%q: first difference at token %d (%s has %d tokens, %s %d):\n    %-10s %s\n    %-10s %s",
		d.Conversation, d.Index, d.A, d.ALen, d.B, d.BLen, d.A, side(d.ATokens), d.B, side(d.BTokens))
}

// knownDifference is a documented way a renderer departs from the
// training format; apply turns the conversation into what that renderer
// is expected to produce from the training template.
type knownDifference struct {
	Name   string
	Reason string
	apply  func([]Message) []Message
}

var dateBlock = regexp.MustCompile(`Cutting Knowledge Date: [^\n]*\nToday Date: [^\n]*\n\n`)

// knownFor lists the documented differences of way against the training
// format, given one rendering of that way (to read the date it wrote).
func knownFor(way, rendered string) []knownDifference {
	trim := knownDifference{Name: "trim",
		Reason: "the template trims each message (Jinja `| trim`, llama.cpp's built-in llama3 `trim()`); LLaMA-Factory's llama3 template keeps the whitespace",
		apply: func(m []Message) []Message {
			out := make([]Message, len(m))
			for i, x := range m {
				out[i] = Message{x.Role, strings.TrimSpace(x.Content)}
			}
			return out
		}}
	var out []knownDifference
	switch way {
	case WayHF, WayGGUFJinja:
		out = append(out, trim)
		if blk := dateBlock.FindString(rendered); blk != "" {
			out = append(out, knownDifference{Name: "date block",
				Reason: "Llama 3.1's template always writes a system turn starting with \"Cutting Knowledge Date: … Today Date: …\"; LLaMA-Factory's llama3 template does not",
				apply: func(m []Message) []Message {
					if len(m) > 0 && m[0].Role == "system" {
						out := append([]Message{{"system", blk + m[0].Content}}, m[1:]...)
						return out
					}
					return append([]Message{{"system", blk}}, m...)
				}})
		}
	case WayGGUF:
		out = append(out, trim)
	}
	return out
}

// family names a chat format by its markers.
func family(text string) string {
	switch {
	case strings.Contains(text, "<|start_header_id|>"):
		return "Llama 3"
	case strings.Contains(text, "<|im_start|>"):
		return "ChatML"
	case strings.Contains(text, "[INST]"):
		return "Llama 2/Mistral"
	case strings.Contains(text, "<start_of_turn>"):
		return "Gemma"
	}
	return "plain"
}

// hfChatTemplate reads chat_template, bos_token and eos_token from a
// tokenizer_config.json (the first of dirs that has one with a template).
func hfChatTemplate(dirs ...string) (src, bos, eos, path string, err error) {
	tokText := func(v any) string {
		switch t := v.(type) {
		case string:
			return t
		case map[string]any:
			s, _ := t["content"].(string)
			return s
		}
		return ""
	}
	for _, d := range dirs {
		if d == "" {
			continue
		}
		p := filepath.Join(d, "tokenizer_config.json")
		b, rerr := os.ReadFile(p)
		if rerr != nil {
			continue
		}
		var cfg map[string]any
		if err := json.Unmarshal(b, &cfg); err != nil {
			return "", "", "", p, err
		}
		switch ct := cfg["chat_template"].(type) {
		case string:
			src = ct
		case []any: // named templates: take "default"
			for _, x := range ct {
				if m, ok := x.(map[string]any); ok && m["name"] == "default" {
					src, _ = m["template"].(string)
				}
			}
		}
		if src == "" {
			if b, err := os.ReadFile(filepath.Join(d, "chat_template.jinja")); err == nil {
				src = string(b)
			}
		}
		if src != "" {
			return src, tokText(cfg["bos_token"]), tokText(cfg["eos_token"]), p, nil
		}
	}
	return "", "", "", "", nil
}
