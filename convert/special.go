package convert

import (
	"encoding/json"
	"errors"
	"io/fs"
	"slices"
	"strings"

	"github.com/sattva/sattva/gguf"
)

// specialVocab mirrors gguf-py's SpecialVocab: special token ids, the
// add_*_token flags and the chat template, collected from tokenizer.json's
// post-processor, tokenizer_config.json (with special_tokens_map.json as a
// fallback), config.json and generation_config.json, in that priority.
type specialVocab struct {
	nVocab   int
	merges   bool
	types    []string
	ids      []idEntry   // insertion order
	add      []flagEntry // insertion order
	template any         // string or []map[string]string
}

type idEntry struct {
	typ string
	id  int64
}
type flagEntry struct {
	typ string
	v   bool
}

func newSpecialVocab(nVocab int, merges bool) *specialVocab {
	return &specialVocab{nVocab: nVocab, merges: merges, types: []string{"bos", "eos", "unk", "sep", "pad", "cls", "mask"}}
}

func (s *specialVocab) setID(typ string, id int64) {
	if id < 0 || (s.nVocab > 0 && id >= int64(s.nVocab)) {
		return
	}
	for _, e := range s.ids {
		if e.typ == typ {
			return
		}
	}
	s.ids = append(s.ids, idEntry{typ, id})
}

func (s *specialVocab) setAdd(typ string, v bool) {
	for i, e := range s.add {
		if e.typ == typ {
			s.add[i].v = v
			return
		}
	}
	s.add = append(s.add, flagEntry{typ, v})
}

// tokenContent reads a *_token entry: a string or {"content": string}.
func tokenContent(r json.RawMessage) (string, bool) {
	if isJSONNull(r) {
		return "", false
	}
	var s string
	if json.Unmarshal(r, &s) == nil {
		return s, true
	}
	var d struct {
		Content *string `json:"content"`
	}
	if json.Unmarshal(r, &d) == nil && d.Content != nil {
		return *d.Content, true
	}
	return "", false
}

func (s *specialVocab) load(fsys fs.FS, dir string, hp *HParams, tok *tokenizerJSON) error {
	if _, err := fs.Stat(fsys, "tokenizer.json"); err == nil && tok == nil {
		t, err := readTokenizerJSON(fsys, dir)
		if err != nil {
			return err
		}
		tok = t
	}
	cfg, err := readJSONFile(fsys, dir, "tokenizer_config.json")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	// special_tokens_map.json fills *_token entries tokenizer_config.json lacks.
	if stm, err := readJSONFile(fsys, dir, "special_tokens_map.json"); err == nil {
		if cfg == nil {
			cfg = map[string]json.RawMessage{}
		}
		for k, v := range stm {
			// a null entry of tokenizer_config.json is absent: the map fills it
			if !(hfObject{m: cfg}).has(k) && strings.HasSuffix(k, "_token") {
				cfg[k] = v
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	str := func(k string) string {
		if cfg == nil {
			return ""
		}
		if r, ok := cfg[k]; ok {
			if c, ok := tokenContent(r); ok {
				return c
			}
		}
		return ""
	}
	setStr := func(k, v string) {
		if cfg != nil {
			b, _ := json.Marshal(v)
			cfg[k] = b
		}
	}
	if tok != nil {
		bos, cls, eos, sep := str("bos_token"), str("cls_token"), str("eos_token"), str("sep_token")
		if bos == "" && cls != "" && cfg != nil {
			bos = cls
			setStr("bos_token", cls)
		}
		if eos == "" && sep != "" && cfg != nil {
			eos = sep
			setStr("eos_token", sep)
		}
		s.parsePostProcessor(tok.PostProcessor, cfg, &bos, &cls, &eos, &sep, setStr)
	}
	if cfg != nil {
		tmpl, err := s.chatTemplate(fsys, dir, cfg)
		if err != nil {
			return err
		}
		s.template = tmpl
		var added []addedToken
		if tok != nil {
			added = tok.AddedTokens
		}
		cfgObj := hfObject{file: joinPath(dir, "tokenizer_config.json"), m: cfg}
		for _, typ := range s.types {
			if b, ok, err := cfgObj.Bool("add_" + typ + "_token"); err != nil {
				return err
			} else if ok {
				s.setAdd(typ, b)
			}
			content := str(typ + "_token")
			if content == "" {
				continue
			}
			for _, a := range added {
				if a.Content == content {
					s.setID(typ, int64(a.ID))
					break
				}
			}
		}
	}
	// config.json, then generation_config.json, for ids still unknown.
	if hp != nil {
		for _, p := range []struct {
			typ string
			id  *int64
		}{{"bos", hp.BosTokenID}, {"eos", hp.EosTokenID}, {"unk", hp.UnkTokenID}, {"pad", hp.PadTokenID}} {
			if p.id != nil && slices.Contains(s.types, p.typ) {
				s.setID(p.typ, *p.id)
			}
		}
	}
	if gc, err := readJSONFile(fsys, dir, "generation_config.json"); err == nil {
		gcObj := hfObject{file: joinPath(dir, "generation_config.json"), m: gc}
		for _, typ := range s.types {
			// null, a list of ids or a negative id: none
			id, ok, err := gcObj.TokenID(typ + "_token_id")
			if err != nil {
				return err
			}
			if ok {
				s.setID(typ, id)
			}
		}
	}
	return nil
}

// parsePostProcessor is gguf-py's crude reading of TemplateProcessing and
// RobertaProcessing to learn whether BOS/EOS/SEP are added.
func (s *specialVocab) parsePostProcessor(raw json.RawMessage, cfg map[string]json.RawMessage, bos, cls, eos, sep *string, setStr func(k, v string)) {
	if len(raw) == 0 || string(raw) == "null" {
		return
	}
	type piece struct {
		SpecialToken *struct {
			ID string `json:"id"`
		} `json:"SpecialToken"`
		Sequence *struct {
			ID string `json:"id"`
		} `json:"Sequence"`
	}
	type proc struct {
		Type       string            `json:"type"`
		Single     []piece           `json:"single"`
		Pair       []piece           `json:"pair"`
		Processors []json.RawMessage `json:"processors"`
		Cls        []json.RawMessage `json:"cls"`
		Sep        []json.RawMessage `json:"sep"`
	}
	var top proc
	if json.Unmarshal(raw, &top) != nil {
		return
	}
	procs := []proc{top}
	if top.Processors != nil {
		procs = procs[:0]
		for _, r := range top.Processors {
			var p proc
			if json.Unmarshal(r, &p) == nil {
				procs = append(procs, p)
			}
		}
	}
	special := func(p piece) string {
		if p.SpecialToken != nil {
			return p.SpecialToken.ID
		}
		return ""
	}
	seqID := func(p piece) string {
		if p.Sequence != nil {
			return p.Sequence.ID
		}
		return ""
	}
	for _, p := range procs {
		if p.Type == "RobertaProcessing" {
			s.setAdd("bos", true)
			s.setAdd("eos", true)
			s.setAdd("sep", true)
			if *cls == "" && cfg != nil {
				*cls = *bos
				if len(p.Cls) > 0 {
					json.Unmarshal(p.Cls[0], cls)
				}
				setStr("cls_token", *cls)
			}
			if *sep == "" && cfg != nil {
				*sep = *eos
				if len(p.Sep) > 0 {
					json.Unmarshal(p.Sep[0], sep)
				}
				setStr("sep_token", *sep)
			}
			continue
		}
		if p.Type != "TemplateProcessing" {
			continue
		}
		var first, last string
		if len(p.Single) > 1 {
			if first = special(p.Single[0]); first != "" {
				if cfg == nil {
					*bos = first
				}
				s.setAdd("bos", first == *bos || first == *cls)
			}
			if last = special(p.Single[len(p.Single)-1]); last != "" {
				if cfg == nil {
					*eos = last
				} else if last != *eos {
					if !slices.Contains(s.types, "eot") {
						s.types = append(s.types, "eot")
						setStr("eot_token", *eos)
					} else if !slices.Contains(s.types, "eom") {
						s.types = append(s.types, "eom")
						setStr("eom_token", *eos)
					}
					setStr("eos_token", last)
					*eos = last
				}
				s.setAdd("eos", last == *eos)
			}
		}
		pair := p.Pair
		if len(pair) == 0 {
			continue
		}
		start, stop := 0, len(pair)
		if first != "" && special(pair[0]) == first {
			start = 1
		}
		if last != "" && special(pair[len(pair)-1]) == last {
			stop = len(pair) - 1
		}
		if start >= stop {
			continue
		}
		pair = pair[start:stop]
		a, b := seqID(pair[0]), seqID(pair[len(pair)-1])
		if a == "A" && b == "B" && len(pair) > 2 {
			letters := pair[1 : len(pair)-1]
			addSep := false
			if e := special(letters[0]); e != "" {
				if (e == *sep || e == *eos) && last == "" {
					addSep = true
				}
			}
			if len(letters) == 2 {
				if e := special(letters[1]); e != "" && (e == *sep || e == *eos) {
					addSep = true
				}
			}
			s.setAdd("sep", addSep)
			if addSep && *sep == "" && cfg != nil {
				setStr("sep_token", *eos)
			}
		}
	}
}

// chatTemplate reads tokenizer_config.json's chat_template, else
// chat_template.jinja, else chat_template.json.
func (s *specialVocab) chatTemplate(fsys fs.FS, dir string, cfg map[string]json.RawMessage) (any, error) {
	var alt any
	if b, err := fs.ReadFile(fsys, "chat_template.jinja"); err == nil {
		alt = string(b)
	} else if raw, err := readJSONFile(fsys, dir, "chat_template.json"); err == nil {
		if r, ok := (hfObject{m: raw}).raw("chat_template"); ok {
			alt = decodeTemplate(r)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if r, ok := (hfObject{m: cfg}).raw("chat_template"); ok { // null: absent
		return decodeTemplate(r), nil
	}
	return alt, nil
}

func decodeTemplate(r json.RawMessage) any {
	var s string
	if json.Unmarshal(r, &s) == nil {
		return s
	}
	var list []map[string]string
	if json.Unmarshal(r, &list) == nil {
		return list
	}
	return nil
}

var specialKeyName = map[string]string{
	"bos": "bos", "eos": "eos", "unk": "unknown", "sep": "seperator", "pad": "padding",
	"cls": "cls", "mask": "mask", "eot": "eot", "eom": "eom",
}

// kvs renders the special vocab in gguf-py's add_to_gguf order.
func (s *specialVocab) kvs() []gguf.KV {
	var out []gguf.KV
	for _, e := range s.ids {
		out = append(out, gguf.KV{Key: "tokenizer.ggml." + specialKeyName[e.typ] + "_token_id", Value: gguf.Uint32(uint32(e.id))})
	}
	for _, e := range s.add {
		out = append(out, gguf.KV{Key: "tokenizer.ggml.add_" + e.typ + "_token", Value: gguf.Bool(e.v)})
	}
	switch t := s.template.(type) {
	case string:
		out = append(out, gguf.KV{Key: "tokenizer.chat_template", Value: gguf.String(t)})
	case []map[string]string:
		var names []string
		def := ""
		hasDef := false
		for _, c := range t {
			name := sanitizeTemplateName(c["name"])
			tmpl, ok := c["template"]
			if name == "" || !ok {
				continue
			}
			if name == "default" {
				def, hasDef = tmpl, true
				continue
			}
			names = append(names, name)
			out = append(out, gguf.KV{Key: "tokenizer.chat_template." + name, Value: gguf.String(tmpl)})
		}
		if len(names) > 0 {
			out = append(out, gguf.KV{Key: "tokenizer.chat_templates", Value: gguf.Strings(names)})
		}
		if hasDef {
			out = append(out, gguf.KV{Key: "tokenizer.chat_template", Value: gguf.String(def)})
		}
	}
	return out
}

func sanitizeTemplateName(n string) string {
	b := []byte(n)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '0'+9) {
			b[i] = '_'
		}
	}
	return string(b)
}
