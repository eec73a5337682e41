// Package evalrun runs suites of control prompts against a model and scores the
// answers: the check the user's plan (section 10) asks for after every training
// run. A Suite (YAML or JSONL) holds cases with expectations; each expectation
// becomes a Scorer; a Generator (llama.cpp in process, Ollama, an
// OpenAI-compatible server) produces the answers; Run scores them into a
// Report, which writes JSON, Markdown, HTML and JUnit XML and compares with a
// baseline.
//
// The package builds with CGO_ENABLED=0; the llama.cpp runner then returns
// llamacpp.ErrNoEngine.
package evalrun

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/sattva/sattva/internal/fileguard"
)

// MaxSuiteBytes is the largest suite file LoadSuite reads. A YAML suite is
// parsed whole, at about 30 times its size in memory, so the limit keeps
// LoadSuite under about 250 MB.
const MaxSuiteBytes = 8 << 20

// MaxSuiteCases is the most cases a suite may hold; more is a SuiteError.
const MaxSuiteCases = 20000

// Message is one chat message.
type Message struct {
	Role    string `json:"role"` // "system", "user" or "assistant"
	Content string `json:"content"`
}

// Sampling holds decoding settings. Temperature 0 means greedy decoding; then
// the other fields but RepeatPenalty do not matter.
type Sampling struct {
	Temperature   float64 `json:"temperature"`
	TopK          int     `json:"top_k,omitempty"`
	TopP          float64 `json:"top_p,omitempty"`
	MinP          float64 `json:"min_p,omitempty"`
	RepeatPenalty float64 `json:"repeat_penalty,omitempty"` // 0 means the runner's default (1 for llama.cpp: off)
	Seed          uint32  `json:"seed"`
}

// Defaults are a suite's settings for every case.
type Defaults struct {
	System       string   `json:"system,omitempty"` // system prompt put before each case's messages
	ChatTemplate bool     `json:"chat_template"`    // render messages with the model's chat template (default true)
	MaxTokens    int      `json:"max_tokens"`       // new tokens per case (default 256)
	Stop         []string `json:"stop,omitempty"`
	Sampling     Sampling `json:"sampling"`
}

// Case is one control prompt with its expectations.
type Case struct {
	ID        string    `json:"id"`
	Lang      string    `json:"lang"` // "ru" or "en": the language the answer must be in
	Tags      []string  `json:"tags,omitempty"`
	Messages  []Message `json:"messages"` // the conversation without the suite's system prompt
	System    *string   `json:"system,omitempty"`
	MaxTokens int       `json:"max_tokens,omitempty"` // 0: the suite's
	Reference string    `json:"reference,omitempty"`  // a reference answer (similarity)
	Line      int       `json:"line"`                 // where the case starts in the suite file

	// Scorers are the case's expectations in the order of the file. A case
	// passes when every scorer passes.
	Scorers []Scorer `json:"-"`
}

// Prompt returns the last user message: what the case asks.
func (c *Case) Prompt() string {
	for i := len(c.Messages) - 1; i >= 0; i-- {
		if c.Messages[i].Role == "user" {
			return c.Messages[i].Content
		}
	}
	return ""
}

// Suite is a loaded, validated suite.
type Suite struct {
	Path        string
	Name        string
	Description string
	SHA256      string // of the file's bytes
	Defaults    Defaults
	Cases       []Case
}

// ChatMessages returns the full conversation of c: the system prompt (the
// case's, else the suite's, if not empty) and the case's messages.
func (s *Suite) ChatMessages(c *Case) []Message {
	sys := s.Defaults.System
	if c.System != nil {
		sys = *c.System
	}
	var out []Message
	if sys != "" {
		out = append(out, Message{Role: "system", Content: sys})
	}
	return append(out, c.Messages...)
}

// MaxTokensFor returns the new-token limit for c.
func (s *Suite) MaxTokensFor(c *Case) int {
	if c.MaxTokens > 0 {
		return c.MaxTokens
	}
	return s.Defaults.MaxTokens
}

// ErrSuite is matched by every suite validation error.
var ErrSuite = errors.New("evalrun: invalid suite")

// Problem is one mistake in a suite file.
type Problem struct {
	File  string `json:"file"`
	Line  int    `json:"line"`  // 1-based; 0 when unknown
	Field string `json:"field"` // path such as cases[3].expect.regex[0]
	Msg   string `json:"msg"`
}

func (p Problem) String() string {
	loc := p.File
	if p.Line > 0 {
		loc += ":" + strconv.Itoa(p.Line)
	}
	if p.Field != "" {
		return loc + ": " + p.Field + ": " + p.Msg
	}
	return loc + ": " + p.Msg
}

// SuiteError lists every mistake LoadSuite found. It matches ErrSuite and
// reports InvalidInput.
type SuiteError struct{ Problems []Problem }

func (e *SuiteError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "invalid suite (%d problem", len(e.Problems))
	if len(e.Problems) != 1 {
		b.WriteString("s")
	}
	b.WriteString("):")
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

func (e *SuiteError) Is(target error) bool { return target == ErrSuite }

// InvalidInput marks the error as a bad input file (exit code 3).
func (e *SuiteError) InvalidInput() bool { return true }

// LoadSuite reads and validates a suite: YAML (.yaml, .yml) or JSONL (.jsonl,
// one case per line; a first line {"suite": {...}} may hold name and defaults).
// Every mistake is reported, with file, line and field, before anything runs.
func LoadSuite(path string) (*Suite, error) {
	f, err := fileguard.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > MaxSuiteBytes {
		return nil, &SuiteError{Problems: []Problem{{File: path, Msg: fmt.Sprintf("file is %d bytes; the limit is %d", st.Size(), MaxSuiteBytes)}}}
	}
	data := make([]byte, 0, st.Size())
	buf := bytes.NewBuffer(data)
	if _, err := buf.ReadFrom(f); err != nil {
		return nil, err
	}
	return ParseSuite(path, buf.Bytes())
}

// ParseSuite parses and validates suite bytes; name is the file name used in
// problems and to choose the format (".jsonl" means JSONL, anything else YAML).
func ParseSuite(name string, data []byte) (*Suite, error) {
	sum := sha256.Sum256(data)
	s := &Suite{
		Path:     name,
		Name:     strings.TrimSuffix(filepath.Base(name), filepath.Ext(name)),
		SHA256:   hex.EncodeToString(sum[:]),
		Defaults: Defaults{ChatTemplate: true, MaxTokens: 256},
	}
	d := &decoder{file: name}
	if strings.EqualFold(filepath.Ext(name), ".jsonl") {
		d.parseJSONL(s, data)
	} else {
		d.parseYAML(s, data)
	}
	d.finish(s)
	if len(d.probs) > 0 {
		return nil, &SuiteError{Problems: d.probs}
	}
	return s, nil
}

type decoder struct {
	file  string
	line  int // added to node lines (JSONL: the line's number - 1)
	probs []Problem
}

func (d *decoder) addf(n *yaml.Node, field, format string, args ...any) {
	line := d.line
	if n != nil {
		line += n.Line
	}
	d.probs = append(d.probs, Problem{File: d.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (d *decoder) parseYAML(s *Suite, data []byte) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		d.probs = append(d.probs, Problem{File: d.file, Line: yamlErrLine(err), Msg: err.Error()})
		return
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		d.addf(nil, "", "empty suite")
		return
	}
	root := doc.Content[0]
	if !d.isMap(root, "") {
		return
	}
	sawCases := false
	d.eachKey(root, "", func(key string, k, v *yaml.Node) {
		switch key {
		case "name":
			s.Name, _ = d.str(v, key)
		case "description":
			s.Description, _ = d.str(v, key)
		case "version":
			if n, ok := d.integer(v, key); ok && n != 1 {
				d.addf(v, key, "unknown suite version %d (this sattva reads version 1)", n)
			}
		case "defaults":
			d.defaults(&s.Defaults, v, key)
		case "cases":
			sawCases = true
			if v.Kind != yaml.SequenceNode {
				d.addf(v, key, "want a list of cases")
				return
			}
			if len(v.Content) > MaxSuiteCases {
				d.addf(v, key, "%d cases; a suite holds at most %d (MaxSuiteCases)", len(v.Content), MaxSuiteCases)
				return
			}
			for i, cn := range v.Content {
				c := d.caseNode(cn, fmt.Sprintf("cases[%d]", i))
				s.Cases = append(s.Cases, c)
			}
		default:
			d.addf(k, key, "unknown key (want name, description, version, defaults, cases)")
		}
	})
	if !sawCases {
		d.addf(root, "cases", "missing: a suite needs at least one case")
	}
}

func (d *decoder) parseJSONL(s *Suite, data []byte) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), MaxSuiteBytes)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		if len(s.Cases) >= MaxSuiteCases {
			d.probs = append(d.probs, Problem{File: d.file, Line: lineNo, Msg: fmt.Sprintf("more than %d cases (MaxSuiteCases)", MaxSuiteCases)})
			return
		}
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		if !json.Valid(line) {
			var v any
			err := json.Unmarshal(line, &v)
			d.probs = append(d.probs, Problem{File: d.file, Line: lineNo, Msg: "not valid JSON: " + err.Error()})
			continue
		}
		var doc yaml.Node
		if err := yaml.Unmarshal(line, &doc); err != nil || len(doc.Content) == 0 {
			d.probs = append(d.probs, Problem{File: d.file, Line: lineNo, Msg: fmt.Sprintf("cannot read the object: %v", err)})
			continue
		}
		n := doc.Content[0]
		d.line = lineNo - n.Line
		if n.Kind == yaml.MappingNode && len(n.Content) == 2 && n.Content[0].Value == "suite" {
			if len(s.Cases) > 0 {
				d.addf(n, "suite", "the suite header must come before the cases")
			}
			d.eachKey(n.Content[1], "suite", func(key string, k, v *yaml.Node) {
				switch key {
				case "name":
					s.Name, _ = d.str(v, "suite.name")
				case "description":
					s.Description, _ = d.str(v, "suite.description")
				case "defaults":
					d.defaults(&s.Defaults, v, "suite.defaults")
				default:
					d.addf(k, "suite."+key, "unknown key (want name, description, defaults)")
				}
			})
			continue
		}
		c := d.caseNode(n, fmt.Sprintf("cases[%d]", len(s.Cases)))
		s.Cases = append(s.Cases, c)
	}
	if err := sc.Err(); err != nil {
		d.probs = append(d.probs, Problem{File: d.file, Line: lineNo + 1, Msg: err.Error()})
	}
	d.line = 0
	if len(s.Cases) == 0 && len(d.probs) == 0 {
		d.addf(nil, "cases", "missing: a suite needs at least one case")
	}
}

// finish checks what spans cases: unique ids.
func (d *decoder) finish(s *Suite) {
	seen := map[string]int{}
	for i, c := range s.Cases {
		if c.ID == "" {
			continue
		}
		if j, ok := seen[c.ID]; ok {
			d.probs = append(d.probs, Problem{File: d.file, Line: c.Line, Field: fmt.Sprintf("cases[%d].id", i),
				Msg: fmt.Sprintf("duplicate id %q (first at line %d)", c.ID, s.Cases[j].Line)})
			continue
		}
		seen[c.ID] = i
	}
}

func (d *decoder) defaults(df *Defaults, n *yaml.Node, field string) {
	d.eachKey(n, field, func(key string, k, v *yaml.Node) {
		f := field + "." + key
		switch key {
		case "system":
			df.System, _ = d.str(v, f)
		case "chat_template":
			df.ChatTemplate, _ = d.boolean(v, f)
		case "max_tokens":
			if m, ok := d.integer(v, f); ok {
				if m < 1 || m > 1<<20 {
					d.addf(v, f, "must be between 1 and %d", 1<<20)
				}
				df.MaxTokens = m
			}
		case "stop":
			df.Stop = d.strList(v, f, false)
		case "sampling":
			d.sampling(&df.Sampling, v, f)
		default:
			d.addf(k, f, "unknown key (want system, chat_template, max_tokens, stop, sampling)")
		}
	})
}

func (d *decoder) sampling(sp *Sampling, n *yaml.Node, field string) {
	d.eachKey(n, field, func(key string, k, v *yaml.Node) {
		f := field + "." + key
		switch key {
		case "temperature":
			if x, ok := d.float(v, f); ok {
				if x < 0 || x > 10 {
					d.addf(v, f, "must be between 0 and 10")
				}
				sp.Temperature = x
			}
		case "top_k":
			if x, ok := d.integer(v, f); ok {
				if x < 0 {
					d.addf(v, f, "must not be negative")
				}
				sp.TopK = x
			}
		case "top_p", "min_p":
			if x, ok := d.float(v, f); ok {
				if x < 0 || x > 1 {
					d.addf(v, f, "must be between 0 and 1")
				}
				if key == "top_p" {
					sp.TopP = x
				} else {
					sp.MinP = x
				}
			}
		case "repeat_penalty":
			if x, ok := d.float(v, f); ok {
				if x <= 0 || x > 10 {
					d.addf(v, f, "must be above 0 and at most 10")
				}
				sp.RepeatPenalty = x
			}
		case "seed":
			if x, ok := d.integer(v, f); ok {
				if x < 0 || int64(x) > 0xFFFFFFFF {
					d.addf(v, f, "must fit in 32 bits unsigned")
				}
				sp.Seed = uint32(x)
			}
		default:
			d.addf(k, f, "unknown key (want temperature, top_k, top_p, min_p, repeat_penalty, seed)")
		}
	})
}

var caseKeys = "id, lang, tags, prompt, messages, system, max_tokens, reference, expect"

func (d *decoder) caseNode(n *yaml.Node, field string) Case {
	c := Case{Line: d.line + n.Line}
	if !d.isMap(n, field) {
		return c
	}
	var expectNode *yaml.Node
	var promptNode, messagesNode *yaml.Node
	d.eachKey(n, field, func(key string, k, v *yaml.Node) {
		f := field + "." + key
		switch key {
		case "id":
			if id, ok := d.str(v, f); ok {
				if id == "" || strings.ContainsAny(id, " \t\n") {
					d.addf(v, f, "must be a non-empty word without spaces")
				}
				c.ID = id
			}
		case "lang":
			if l, ok := d.str(v, f); ok {
				l = strings.ToLower(l)
				if l != "ru" && l != "en" {
					d.addf(v, f, "must be ru or en, not %q", l)
				}
				c.Lang = l
			}
		case "tags":
			c.Tags = d.strList(v, f, false)
		case "prompt":
			promptNode = v
			if p, ok := d.str(v, f); ok {
				if strings.TrimSpace(p) == "" {
					d.addf(v, f, "empty prompt")
				}
				c.Messages = []Message{{Role: "user", Content: p}}
			}
		case "messages":
			messagesNode = v
			c.Messages = d.messages(v, f)
		case "system":
			if sys, ok := d.str(v, f); ok {
				c.System = &sys
			}
		case "max_tokens":
			if m, ok := d.integer(v, f); ok {
				if m < 1 || m > 1<<20 {
					d.addf(v, f, "must be between 1 and %d", 1<<20)
				}
				c.MaxTokens = m
			}
		case "reference":
			c.Reference, _ = d.str(v, f)
		case "expect":
			expectNode = v
		default:
			d.addf(k, f, "unknown key (want %s)", caseKeys)
		}
	})
	if c.ID == "" {
		d.addf(n, field+".id", "missing")
	}
	switch {
	case promptNode != nil && messagesNode != nil:
		d.addf(messagesNode, field+".messages", "give prompt or messages, not both")
	case promptNode == nil && messagesNode == nil:
		d.addf(n, field+".prompt", "missing: a case needs prompt or messages")
	}
	if c.Lang == "" && len(c.Messages) > 0 {
		// The prompt's own script decides.
		c.Lang = DetectScript(c.Prompt()).Lang()
		if c.Lang == "" {
			d.addf(n, field+".lang", "missing, and the prompt has no letters to tell ru from en")
		}
	}
	if expectNode == nil {
		d.addf(n, field+".expect", "missing: a case needs at least one expectation")
	} else {
		c.Scorers = d.expect(expectNode, field+".expect", &c)
	}
	return c
}

func (d *decoder) messages(n *yaml.Node, field string) []Message {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		d.addf(n, field, "want a non-empty list of {role, content}")
		return nil
	}
	var out []Message
	for i, mn := range n.Content {
		f := fmt.Sprintf("%s[%d]", field, i)
		var m Message
		d.eachKey(mn, f, func(key string, k, v *yaml.Node) {
			switch key {
			case "role":
				if r, ok := d.str(v, f+".role"); ok {
					if r != "system" && r != "user" && r != "assistant" {
						d.addf(v, f+".role", "must be system, user or assistant, not %q", r)
					}
					m.Role = r
				}
			case "content":
				m.Content, _ = d.str(v, f+".content")
			default:
				d.addf(k, f+"."+key, "unknown key (want role, content)")
			}
		})
		if m.Role == "" && mn.Kind == yaml.MappingNode {
			d.addf(mn, f+".role", "missing")
		}
		out = append(out, m)
	}
	if last := out[len(out)-1]; last.Role != "user" && last.Role != "" {
		d.addf(n.Content[len(n.Content)-1], fmt.Sprintf("%s[%d].role", field, len(out)-1), "the last message must be the user's, not %q", last.Role)
	}
	return out
}

// --- node helpers ---

func (d *decoder) isMap(n *yaml.Node, field string) bool {
	if n.Kind != yaml.MappingNode {
		d.addf(n, field, "want a mapping of keys, got %s", kindName(n))
		return false
	}
	return true
}

// eachKey calls fn for every key of mapping n, reporting duplicate keys and
// non-string keys.
func (d *decoder) eachKey(n *yaml.Node, field string, fn func(key string, k, v *yaml.Node)) {
	if !d.isMap(n, field) {
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.addf(k, field, "a key must be a plain string")
			continue
		}
		f := k.Value
		if field != "" {
			f = field + "." + k.Value
		}
		if seen[k.Value] {
			d.addf(k, f, "duplicate key")
			continue
		}
		seen[k.Value] = true
		fn(k.Value, k, v)
	}
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "null"
		case "!!int", "!!float":
			return "a number"
		case "!!bool":
			return "a boolean"
		}
		return "a string"
	}
	return "nothing"
}

func (d *decoder) str(n *yaml.Node, field string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		d.addf(n, field, "want a string, got %s (quote it)", kindName(n))
		return "", false
	}
	return n.Value, true
}

// scalarText accepts any scalar as text (dates written as 05112004 are ints to YAML).
func (d *decoder) scalarText(n *yaml.Node, field string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		d.addf(n, field, "want a value, got %s", kindName(n))
		return "", false
	}
	return n.Value, true
}

func (d *decoder) integer(n *yaml.Node, field string) (int, bool) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		d.addf(n, field, "want an integer, got %s", kindName(n))
		return 0, false
	}
	v, err := strconv.ParseInt(n.Value, 0, 64)
	if err != nil || v > 1<<40 || v < -(1<<40) {
		d.addf(n, field, "integer %s out of range", n.Value)
		return 0, false
	}
	return int(v), true
}

func (d *decoder) float(n *yaml.Node, field string) (float64, bool) {
	if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!float" && n.ShortTag() != "!!int") {
		d.addf(n, field, "want a number, got %s", kindName(n))
		return 0, false
	}
	v, err := strconv.ParseFloat(n.Value, 64)
	if err != nil {
		d.addf(n, field, "bad number %q", n.Value)
		return 0, false
	}
	return v, true
}

func (d *decoder) boolean(n *yaml.Node, field string) (bool, bool) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
		d.addf(n, field, "want true or false, got %s", kindName(n))
		return false, false
	}
	var b bool
	if err := n.Decode(&b); err != nil {
		d.addf(n, field, "want true or false: %v", err)
		return false, false
	}
	return b, true
}

// strList reads a list of strings; a single string is a list of one.
func (d *decoder) strList(n *yaml.Node, field string, nonEmpty bool) []string {
	if n.Kind == yaml.ScalarNode {
		s, ok := d.str(n, field)
		if !ok {
			return nil
		}
		if nonEmpty && s == "" {
			d.addf(n, field, "empty string")
		}
		return []string{s}
	}
	if n.Kind != yaml.SequenceNode {
		d.addf(n, field, "want a list of strings, got %s", kindName(n))
		return nil
	}
	if len(n.Content) == 0 {
		d.addf(n, field, "empty list")
	}
	out := make([]string, 0, len(n.Content))
	for i, e := range n.Content {
		f := fmt.Sprintf("%s[%d]", field, i)
		if s, ok := d.str(e, f); ok {
			if nonEmpty && s == "" {
				d.addf(e, f, "empty string")
			}
			out = append(out, s)
		}
	}
	return out
}

func yamlErrLine(err error) int {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return 0
	}
	// yaml.v3 syntax errors read "yaml: line N: ...".
	msg := err.Error()
	if i := strings.Index(msg, "line "); i >= 0 {
		rest := msg[i+5:]
		j := 0
		for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
			j++
		}
		if n, err := strconv.Atoi(rest[:j]); err == nil {
			return n
		}
	}
	return 0
}
