package convert

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/sattva/sattva/gguf"
)

// Token types as llama.cpp's gguf (llama_token_type / gguf-py TokenType).
const (
	tokenNormal      int32 = 1
	tokenUnknown     int32 = 2
	tokenControl     int32 = 3
	tokenUserDefined int32 = 4
	tokenUnused      int32 = 5
	tokenByte        int32 = 6
)

// Vocab is a tokenizer as llama.cpp's GGUF stores it.
type Vocab struct {
	Model  string // "llama" (SentencePiece) or "gpt2" (byte-level BPE)
	Pre    string // pre-tokenizer name ("default", "llama-bpe", ...)
	Tokens []string
	Scores []float32 // nil for BPE
	Types  []int32
	Merges []string // nil for SentencePiece
	// Special holds the KVs of gguf-py's SpecialVocab in its order: token ids,
	// add_*_token flags and the chat template.
	Special []gguf.KV
}

// KVs returns the tokenizer.* metadata in llama.cpp's converter order.
func (v *Vocab) KVs() []gguf.KV {
	kvs := []gguf.KV{
		{Key: "tokenizer.ggml.model", Value: gguf.String(v.Model)},
		{Key: "tokenizer.ggml.pre", Value: gguf.String(v.Pre)},
		{Key: "tokenizer.ggml.tokens", Value: gguf.Strings(v.Tokens)},
	}
	if v.Scores != nil {
		kvs = append(kvs, gguf.KV{Key: "tokenizer.ggml.scores", Value: gguf.Float32s(v.Scores)})
	}
	kvs = append(kvs, gguf.KV{Key: "tokenizer.ggml.token_type", Value: gguf.Int32s(v.Types)})
	if v.Merges != nil {
		kvs = append(kvs, gguf.KV{Key: "tokenizer.ggml.merges", Value: gguf.Strings(v.Merges)})
	}
	return append(kvs, v.Special...)
}

// LoadVocab reads the tokenizer of a Llama-family checkpoint folder the way
// llama.cpp's LlamaModel.set_vocab does: tokenizer.model (SentencePiece) when
// present, else tokenizer.json (byte-level BPE). vocabSize is config.json's
// vocab_size (0: the tokenizer's own size). hp may be nil (no config.json).
func LoadVocab(fsys fs.FS, dir string, hp *HParams) (*Vocab, error) {
	var vocabSize int64
	if hp != nil {
		vocabSize = hp.VocabSize
	}
	var v *Vocab
	var err error
	var tok *tokenizerJSON // parsed once, shared with the special vocab
	if _, serr := fs.Stat(fsys, "tokenizer.model"); serr == nil {
		v, err = loadSentencePiece(fsys, dir, int(vocabSize))
	} else if _, jerr := fs.Stat(fsys, "tokenizer.json"); jerr == nil {
		if tok, err = readTokenizerJSON(fsys, dir); err != nil {
			return nil, err
		}
		v, err = loadBPE(tok, joinPath(dir, "tokenizer.json"), int(vocabSize))
	} else {
		return nil, &InputError{File: joinPath(dir, "tokenizer.json"), Msg: "missing: the folder has neither tokenizer.model nor tokenizer.json"}
	}
	if err != nil {
		return nil, err
	}
	sv := newSpecialVocab(len(v.Tokens), v.Model == "gpt2")
	if err := sv.load(fsys, dir, hp, tok); err != nil {
		return nil, err
	}
	v.Special = sv.kvs()
	return v, nil
}

// --- SentencePiece -----------------------------------------------------------

// SentencePiece piece types (sentencepiece_model.proto).
const (
	spNormal      = 1
	spUnknown     = 2
	spControl     = 3
	spUserDefined = 4
	spUnused      = 5
	spByte        = 6
)

type spPiece struct {
	piece string
	score float32
	typ   int32
}

// parseSentencePiece reads the pieces of a SentencePiece ModelProto
// (field 1: repeated SentencePiece {1: piece, 2: score, 3: type}).
func parseSentencePiece(b []byte, file string) ([]spPiece, error) {
	bad := func(off int, field, msg string) error {
		return &InputError{File: file, Field: field, Msg: fmt.Sprintf("%s (at byte %d)", msg, off)}
	}
	var pieces []spPiece
	off := 0
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, bad(off, "ModelProto", "not a SentencePiece model: "+protowire.ParseError(n).Error())
		}
		b, off = b[n:], off+n
		if num == 1 && typ == protowire.BytesType {
			msg, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return nil, bad(off, "pieces", protowire.ParseError(n).Error())
			}
			p := spPiece{typ: spNormal}
			pm, poff := msg, off
			for len(pm) > 0 {
				fnum, ftyp, k := protowire.ConsumeTag(pm)
				if k < 0 {
					return nil, bad(poff, fmt.Sprintf("pieces[%d]", len(pieces)), protowire.ParseError(k).Error())
				}
				pm, poff = pm[k:], poff+k
				switch {
				case fnum == 1 && ftyp == protowire.BytesType:
					s, k := protowire.ConsumeBytes(pm)
					if k < 0 {
						return nil, bad(poff, fmt.Sprintf("pieces[%d].piece", len(pieces)), protowire.ParseError(k).Error())
					}
					p.piece = string(s)
					pm, poff = pm[k:], poff+k
				case fnum == 2 && ftyp == protowire.Fixed32Type:
					u, k := protowire.ConsumeFixed32(pm)
					if k < 0 {
						return nil, bad(poff, fmt.Sprintf("pieces[%d].score", len(pieces)), protowire.ParseError(k).Error())
					}
					p.score = math.Float32frombits(u)
					pm, poff = pm[k:], poff+k
				case fnum == 3 && ftyp == protowire.VarintType:
					u, k := protowire.ConsumeVarint(pm)
					if k < 0 {
						return nil, bad(poff, fmt.Sprintf("pieces[%d].type", len(pieces)), protowire.ParseError(k).Error())
					}
					p.typ = int32(u)
					pm, poff = pm[k:], poff+k
				default:
					k := protowire.ConsumeFieldValue(fnum, ftyp, pm)
					if k < 0 {
						return nil, bad(poff, fmt.Sprintf("pieces[%d]", len(pieces)), protowire.ParseError(k).Error())
					}
					pm, poff = pm[k:], poff+k
				}
			}
			pieces = append(pieces, p)
			b, off = b[n:], off+n
			continue
		}
		k := protowire.ConsumeFieldValue(num, typ, b)
		if k < 0 {
			return nil, bad(off, fmt.Sprintf("field %d", num), protowire.ParseError(k).Error())
		}
		b, off = b[k:], off+k
	}
	if len(pieces) == 0 {
		return nil, &InputError{File: file, Field: "pieces", Msg: "no pieces: not a SentencePiece model"}
	}
	return pieces, nil
}

func loadSentencePiece(fsys fs.FS, dir string, vocabSize int) (*Vocab, error) {
	file := joinPath(dir, "tokenizer.model")
	b, err := fs.ReadFile(fsys, "tokenizer.model")
	if err != nil {
		return nil, err
	}
	pieces, err := parseSentencePiece(b, file)
	if err != nil {
		return nil, err
	}
	if vocabSize <= 0 {
		vocabSize = len(pieces)
	}
	v := &Vocab{Model: "llama", Pre: "default",
		Tokens: make([]string, vocabSize), Scores: make([]float32, vocabSize), Types: make([]int32, vocabSize)}
	for i := range vocabSize {
		v.Tokens[i] = fmt.Sprintf("[PAD%d]", i)
		v.Scores[i] = -10000
		v.Types[i] = tokenUnused
	}
	for i, p := range pieces {
		if i >= vocabSize {
			break
		}
		t := tokenNormal
		switch p.typ {
		case spUnknown:
			t = tokenUnknown
		case spControl:
			t = tokenControl
		case spUnused:
			t = tokenUnused
		case spByte:
			t = tokenByte
		}
		v.Tokens[i], v.Scores[i], v.Types[i] = p.piece, p.score, t
	}
	// added_tokens.json: user-defined tokens.
	if raw, err := readJSONFile(fsys, dir, "added_tokens.json"); err == nil {
		keys := make([]string, 0, len(raw))
		for k := range raw {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		obj := hfObject{file: joinPath(dir, "added_tokens.json"), m: raw}
		for _, k := range keys {
			id64, ok, err := obj.Int(k, 0, math.MaxInt32)
			if err != nil {
				return nil, &InputError{File: joinPath(dir, "added_tokens.json"), Field: k, Msg: "token id is not a non-negative integer"}
			}
			if !ok {
				continue // null: no token
			}
			id := int(id64)
			if id >= vocabSize {
				continue
			}
			v.Tokens[id], v.Scores[id], v.Types[id] = k, -1000, tokenUserDefined
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	// tokenizer_config.json's added_tokens_decoder.
	if raw, err := readJSONFile(fsys, dir, "tokenizer_config.json"); err == nil {
		if atd, ok := raw["added_tokens_decoder"]; ok {
			var dec map[string]*struct { // a null entry is no token
				Content string `json:"content"`
				Special bool   `json:"special"`
			}
			if err := json.Unmarshal(atd, &dec); err != nil {
				return nil, &InputError{File: joinPath(dir, "tokenizer_config.json"), Field: "added_tokens_decoder", Msg: err.Error()}
			}
			ids := make([]int, 0, len(dec))
			for k, d := range dec {
				if d == nil {
					continue
				}
				id, err := strconv.Atoi(k)
				if err != nil || id < 0 {
					return nil, &InputError{File: joinPath(dir, "tokenizer_config.json"), Field: "added_tokens_decoder." + k, Msg: "not a token id"}
				}
				ids = append(ids, id)
			}
			slices.Sort(ids)
			for _, id := range ids {
				if id >= vocabSize {
					continue
				}
				d := dec[strconv.Itoa(id)]
				tok := d.Content
				if d.Special || looksSpecial(tok) {
					v.Types[id] = tokenControl
				} else {
					tok = strings.ReplaceAll(tok, "\u2581", " ")
					v.Types[id] = tokenUserDefined
				}
				v.Scores[id] = -1000
				v.Tokens[id] = tok
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return v, nil
}

// looksSpecial is llama.cpp's does_token_look_special.
func looksSpecial(s string) bool {
	switch s {
	case "<pad>", "<mask>", "<2mass>", "[@BOS@]":
		return true
	}
	return (strings.HasPrefix(s, "<|") && strings.HasSuffix(s, "|>")) ||
		(strings.HasPrefix(s, "<｜") && strings.HasSuffix(s, "｜>")) ||
		(strings.HasPrefix(s, "<unused") && strings.HasSuffix(s, ">"))
}

// --- byte-level BPE (tokenizer.json) -----------------------------------------

type addedToken struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	Special    bool   `json:"special"`
	Normalized bool   `json:"normalized"`
}

type tokenizerJSON struct {
	AddedTokens   []addedToken    `json:"added_tokens"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Model         struct {
		Type   string          `json:"type"`
		Vocab  map[string]int  `json:"vocab"`
		Merges json.RawMessage `json:"merges"`
	} `json:"model"`
}

// readTokenizerJSON parses tokenizer.json; not-JSON is an *InputError naming it.
func readTokenizerJSON(fsys fs.FS, dir string) (*tokenizerJSON, error) {
	b, err := fs.ReadFile(fsys, "tokenizer.json")
	if err != nil {
		return nil, err
	}
	var t tokenizerJSON
	if err := json.Unmarshal(b, &t); err != nil {
		var se *json.SyntaxError
		field := ""
		if errors.As(err, &se) {
			return nil, &InputError{File: joinPath(dir, "tokenizer.json"), Msg: fmt.Sprintf("not JSON (at byte %d): %v", se.Offset, err)}
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			field = te.Field
		}
		return nil, &InputError{File: joinPath(dir, "tokenizer.json"), Field: field, Msg: err.Error()}
	}
	return &t, nil
}

// parseMerges accepts both merge forms: "a b" strings and ["a","b"] pairs
// (whose spaces gguf-py encodes as U+0120).
func parseMerges(raw json.RawMessage, file string) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var strs []string
	if err := json.Unmarshal(raw, &strs); err == nil {
		return strs, nil
	}
	var pairs [][]string
	if err := json.Unmarshal(raw, &pairs); err != nil {
		return nil, &InputError{File: file, Field: "model.merges", Msg: "neither a list of \"a b\" strings nor a list of [a, b] pairs"}
	}
	out := make([]string, len(pairs))
	for i, p := range pairs {
		if len(p) != 2 {
			return nil, &InputError{File: file, Field: fmt.Sprintf("model.merges[%d]", i), Msg: fmt.Sprintf("a pair has 2 parts, not %d", len(p))}
		}
		out[i] = strings.ReplaceAll(p[0], " ", "\u0120") + " " + strings.ReplaceAll(p[1], " ", "\u0120")
	}
	return out, nil
}

// knownPreTokenizers maps a tokenizer.json split regex to llama.cpp's
// pre-tokenizer name.
var knownPreTokenizers = map[string]string{
	// Llama 3 (tiktoken cl100k-style with \p{N}{1,3}); llama.cpp's "llama-bpe".
	`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`: "llama-bpe",
	// Qwen2: single digits.
	`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`: "qwen2",
}

// detectPre finds the pre-tokenizer from tokenizer.json's own pre_tokenizer.
func detectPre(raw json.RawMessage, file string) (string, error) {
	type pt struct {
		Type    string `json:"type"`
		Pattern struct {
			Regex  *string `json:"Regex"`
			String *string `json:"String"`
		} `json:"pattern"`
		UseRegex      *bool `json:"use_regex"`
		Pretokenizers []pt  `json:"pretokenizers"`
	}
	var p pt
	if len(raw) == 0 || string(raw) == "null" {
		return "", &UnsupportedError{File: file, Field: "pre_tokenizer", Msg: "missing; cannot tell which llama.cpp pre-tokenizer this BPE tokenizer needs"}
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return "", &InputError{File: file, Field: "pre_tokenizer", Msg: err.Error()}
	}
	var regexes []string
	gpt2 := false
	var walk func(p pt)
	walk = func(p pt) {
		switch p.Type {
		case "Sequence":
			for _, q := range p.Pretokenizers {
				walk(q)
			}
		case "Split":
			if p.Pattern.Regex != nil {
				regexes = append(regexes, *p.Pattern.Regex)
			}
		case "ByteLevel":
			if p.UseRegex == nil || *p.UseRegex {
				gpt2 = true
			}
		}
	}
	walk(p)
	if len(regexes) == 1 && !gpt2 {
		if name, ok := knownPreTokenizers[regexes[0]]; ok {
			return name, nil
		}
		return "", &UnsupportedError{File: file, Field: "pre_tokenizer", Msg: fmt.Sprintf("unknown split regex %q: no llama.cpp pre-tokenizer is known for it", regexes[0])}
	}
	if len(regexes) == 0 && gpt2 {
		return "gpt-2", nil
	}
	return "", &UnsupportedError{File: file, Field: "pre_tokenizer", Msg: fmt.Sprintf("unrecognised pre-tokenizer (split regexes %q): no llama.cpp pre-tokenizer is known for it", regexes)}
}

func loadBPE(t *tokenizerJSON, file string, vocabSize int) (*Vocab, error) {
	if t.Model.Type != "BPE" {
		return nil, &UnsupportedError{File: file, Field: "model.type", Msg: fmt.Sprintf("%q tokenizers are not supported without tokenizer.model (byte-level BPE is)", t.Model.Type)}
	}
	pre, err := detectPre(t.PreTokenizer, file)
	if err != nil {
		return nil, err
	}
	merges, err := parseMerges(t.Model.Merges, file)
	if err != nil {
		return nil, err
	}
	rev := map[int]string{}
	maxID := -1
	for tok, id := range t.Model.Vocab {
		if id < 0 {
			return nil, &InputError{File: file, Field: fmt.Sprintf("model.vocab[%q]", tok), Msg: "negative id"}
		}
		rev[id] = tok
		maxID = max(maxID, id)
	}
	added := map[int]addedToken{}
	for _, a := range t.AddedTokens {
		if a.ID < 0 {
			return nil, &InputError{File: file, Field: "added_tokens", Msg: fmt.Sprintf("token %q has a negative id", a.Content)}
		}
		rev[a.ID] = a.Content
		added[a.ID] = a
		maxID = max(maxID, a.ID)
	}
	if vocabSize <= 0 {
		vocabSize = len(rev)
	}
	if maxID >= vocabSize {
		return nil, &InputError{File: file, Field: "model.vocab", Msg: fmt.Sprintf("token id %d is not below the vocab size %d of config.json", maxID, vocabSize)}
	}
	v := &Vocab{Model: "gpt2", Pre: pre, Tokens: make([]string, vocabSize), Types: make([]int32, vocabSize), Merges: merges}
	if v.Merges == nil {
		v.Merges = []string{}
	}
	for i := range vocabSize {
		tok, ok := rev[i]
		a, isAdded := added[i]
		switch {
		case !ok:
			v.Tokens[i], v.Types[i] = fmt.Sprintf("[PAD%d]", i), tokenUnused
		case isAdded && (a.Special || looksSpecial(tok)):
			v.Tokens[i], v.Types[i] = tok, tokenControl
		case isAdded:
			v.Tokens[i], v.Types[i] = strings.ReplaceAll(tok, "\u2581", " "), tokenUserDefined
		default:
			v.Tokens[i], v.Types[i] = tok, tokenNormal
		}
	}
	return v, nil
}
