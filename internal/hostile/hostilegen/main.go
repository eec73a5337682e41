// Command hostilegen writes sattva's catalogue of hostile input files into a
// folder, with a manifest (manifest.tsv: kind, case name, path) that
// scripts/hostile.sh runs through the sattva binary under a memory limit:
// GGUF models and LoRA adapters (loaded by `sattva run`), Hugging Face
// folders with broken safetensors, config and tokenizer files (`sattva
// convert`), JSONL datasets (`sattva data validate`) and YAML suites
// (`sattva eval`). It also writes tiny.gguf, the valid model the adapter and
// suite cases run against.
//
//	go run ./internal/hostile/hostilegen -o /tmp/hostile
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/zstd"

	"github.com/sattva/sattva/dataset"
	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/gguf/modelcheck"
	"github.com/sattva/sattva/internal/hostile"
	"github.com/sattva/sattva/synth"
)

type gen struct {
	dir      string
	manifest bytes.Buffer
	n        map[string]int
}

func (g *gen) add(kind, name, rel string) {
	fmt.Fprintf(&g.manifest, "%s\t%s\t%s\n", kind, name, rel)
	g.n[kind]++
}

func (g *gen) file(kind, name, ext string, data []byte) {
	rel := filepath.Join(kind, name+ext)
	must(os.MkdirAll(filepath.Join(g.dir, kind), 0o755))
	must(os.WriteFile(filepath.Join(g.dir, rel), data, 0o644))
	g.add(kind, name, rel)
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "hostilegen:", err)
		os.Exit(1)
	}
}

func main() {
	out := flag.String("o", "hostile", "output folder (created)")
	flag.Parse()
	g := &gen{dir: *out, n: map[string]int{}}
	must(os.MkdirAll(g.dir, 0o755))
	must(os.WriteFile(filepath.Join(g.dir, "tiny.gguf"), hostile.TinyLlama().Bytes(), 0o644))
	g.gguf()
	g.safetensors()
	g.jsonl()
	g.yaml()
	must(os.WriteFile(filepath.Join(g.dir, "manifest.tsv"), g.manifest.Bytes(), 0o644))
	total := 0
	for k, n := range g.n {
		fmt.Printf("%-12s %d\n", k, n)
		total += n
	}
	fmt.Printf("%-12s %d\n", "total", total)
}

// refused reports whether sattva's reader or modelcheck refuses data.
func refused(data []byte, kind modelcheck.Kind) bool {
	f, err := gguf.NewReader(bytes.NewReader(data), int64(len(data)), gguf.DefaultLimits())
	if err != nil {
		return true
	}
	return modelcheck.Check(f, kind) != nil
}

func (g *gen) gguf() {
	for _, c := range hostile.GGUFCases() {
		kind := "gguf-model"
		if c.Kind == hostile.AsAdapter {
			kind = "gguf-lora"
		}
		g.file(kind, c.Name, ".gguf", c.Data)
	}
	tiny := hostile.TinyLlama().Bytes()
	f, err := gguf.NewReader(bytes.NewReader(tiny), int64(len(tiny)), gguf.DefaultLimits())
	must(err)
	meta := int(f.DataOffset)
	for _, c := range hostile.Truncations("tiny", tiny[:meta], 41) {
		g.file("gguf-model", c.Name, ".gguf", c.Data)
	}
	// Random byte mutations of the metadata that the check refuses.
	r := rand.New(rand.NewPCG(19, 1))
	for n := 0; n < 160; {
		b := bytes.Clone(tiny)
		for range 1 + r.IntN(4) {
			i := r.IntN(meta)
			switch r.IntN(3) {
			case 0:
				b[i] = byte(r.IntN(256))
			case 1:
				b[i] ^= 1 << r.IntN(8)
			default:
				binary.LittleEndian.PutUint32(b[i&^3:], []uint32{0, 1, 0xffffffff, 1 << 31, 0x7fffffff}[r.IntN(5)])
			}
		}
		if refused(b, modelcheck.Model) {
			g.file("gguf-model", fmt.Sprintf("mutant-%03d", n), ".gguf", b)
			n++
		}
	}
}

// safetensors writes broken Hugging Face folders, each a copy of a small
// valid checkpoint with one file changed.
func (g *gen) safetensors() {
	base := filepath.Join(g.dir, "hf-base")
	shape := synth.Shape{Name: "h", Hidden: 16, Intermediate: 48, Layers: 2, Heads: 2, KVHeads: 1, Vocab: 512, Context: 2048, RopeTheta: 10000}
	must(synth.WriteShape(context.Background(), shape, base, synth.Options{Seed: 1, DType: "f16"}))
	read := func(n string) []byte {
		b, err := os.ReadFile(filepath.Join(base, n))
		must(err)
		return b
	}
	baseFiles := map[string][]byte{}
	ents, err := os.ReadDir(base)
	must(err)
	for _, e := range ents {
		baseFiles[e.Name()] = read(e.Name())
	}
	folder := func(name string, files map[string][]byte) {
		rel := filepath.Join("hf", name)
		d := filepath.Join(g.dir, rel)
		must(os.MkdirAll(d, 0o755))
		for n, b := range baseFiles {
			if nb, ok := files[n]; ok {
				if nb == nil {
					continue
				}
				b = nb
			}
			must(os.WriteFile(filepath.Join(d, n), b, 0o644))
		}
		for n, b := range files {
			if _, ok := baseFiles[n]; !ok && b != nil {
				must(os.WriteFile(filepath.Join(d, n), b, 0o644))
			}
		}
		g.add("hf", name, rel)
	}
	var cfg map[string]any
	must(json.Unmarshal(baseFiles["config.json"], &cfg))
	config := func(name string, edit func(m map[string]any)) {
		m := map[string]any{}
		for k, v := range cfg {
			m[k] = v
		}
		edit(m)
		b, _ := json.Marshal(m)
		folder("config-"+name, map[string][]byte{"config.json": b})
	}
	for _, v := range []any{-1, 0, "NaN", 1e300, "x", []int{1}} {
		config(fmt.Sprintf("rms-eps-%v", v), func(m map[string]any) { m["rms_norm_eps"] = v })
	}
	for _, k := range []string{"hidden_size", "num_attention_heads", "num_key_value_heads", "num_hidden_layers", "intermediate_size", "vocab_size", "max_position_embeddings"} {
		for _, v := range []any{0, -3, 3, 1 << 40, "16", 1.5} {
			if (k == "intermediate_size" || k == "max_position_embeddings") && v == 3 || k == "vocab_size" && v == 0 {
				continue // valid values (the vocabulary size then comes from the tokenizer)
			}
			config(fmt.Sprintf("%s-%v", k, v), func(m map[string]any) { m[k] = v })
		}
	}
	config("rope-theta-neg", func(m map[string]any) { m["rope_theta"] = -1 })
	config("rope-scaling-garbage", func(m map[string]any) { m["rope_scaling"] = map[string]any{"rope_type": "llama3", "factor": "big"} })
	config("architectures-bert", func(m map[string]any) { m["architectures"] = []string{"BertModel"} })
	config("head-dim-7", func(m map[string]any) { m["head_dim"] = 7 })
	folder("config-not-json", map[string][]byte{"config.json": []byte("{not json")})
	folder("config-array", map[string][]byte{"config.json": []byte("[1,2,3]")})
	folder("config-deep", map[string][]byte{"config.json": []byte(strings.Repeat("[", 100000))})
	folder("config-missing", map[string][]byte{"config.json": nil})

	st := baseFiles["model.safetensors"]
	hlen := binary.LittleEndian.Uint64(st)
	var hdr map[string]any
	must(json.Unmarshal(st[8:8+hlen], &hdr))
	header := func(name string, edit func(h map[string]any)) {
		h := map[string]any{}
		for k, v := range hdr {
			if m, ok := v.(map[string]any); ok {
				c := map[string]any{}
				for kk, vv := range m {
					c[kk] = vv
				}
				v = c
			}
			h[k] = v
		}
		edit(h)
		nh, _ := json.Marshal(h)
		b := binary.LittleEndian.AppendUint64(nil, uint64(len(nh)))
		b = append(append(b, nh...), st[8+hlen:]...)
		folder("st-"+name, map[string][]byte{"model.safetensors": b})
	}
	q := "model.layers.0.self_attn.q_proj.weight"
	header("q-shape", func(h map[string]any) { h[q].(map[string]any)["shape"] = []int{32, 8} })
	header("q-shape-3d", func(h map[string]any) { h[q].(map[string]any)["shape"] = []int{16, 4, 4} })
	header("q-shape-neg", func(h map[string]any) { h[q].(map[string]any)["shape"] = []int{-16, -16} })
	header("q-shape-zero", func(h map[string]any) { h[q].(map[string]any)["shape"] = []int{0, 16} })
	header("q-dtype-f8", func(h map[string]any) { h[q].(map[string]any)["dtype"] = "F8_E4M3" })
	header("q-dtype-i64", func(h map[string]any) { h[q].(map[string]any)["dtype"] = "I64" })
	header("q-dtype-garbage", func(h map[string]any) { h[q].(map[string]any)["dtype"] = "Q" })
	header("q-offsets-past-end", func(h map[string]any) { h[q].(map[string]any)["data_offsets"] = []uint64{0, 1 << 40} })
	header("q-offsets-reversed", func(h map[string]any) { h[q].(map[string]any)["data_offsets"] = []int{512, 0} })
	header("q-offsets-overlap", func(h map[string]any) { h[q].(map[string]any)["data_offsets"] = []int{0, 512} })
	header("q-missing", func(h map[string]any) { delete(h, q) })
	header("extra-tensor", func(h map[string]any) {
		h["model.layers.0.mystery.weight"] = map[string]any{"dtype": "F16", "shape": []int{1}, "data_offsets": []int{0, 2}}
	})
	header("embed-vocab-cut", func(h map[string]any) {
		h["model.embed_tokens.weight"].(map[string]any)["shape"] = []int{256, 32}
	})
	header("metadata-garbage", func(h map[string]any) { h["__metadata__"] = map[string]any{"format": []int{1}} })
	raw := func(name string, b []byte) { folder("st-"+name, map[string][]byte{"model.safetensors": b}) }
	raw("empty", nil)
	raw("seven-bytes", []byte("1234567"))
	raw("header-len-2^63", binary.LittleEndian.AppendUint64(nil, 1<<63))
	raw("header-len-past-end", append(binary.LittleEndian.AppendUint64(nil, 1<<20), '{'))
	raw("header-not-json", append(binary.LittleEndian.AppendUint64(nil, 5), []byte("{abc}")...))
	raw("header-deep", func() []byte {
		h := []byte(strings.Repeat("[", 50000))
		return append(binary.LittleEndian.AppendUint64(nil, uint64(len(h))), h...)
	}())
	raw("truncated-data", st[:len(st)-100])

	var tok map[string]any
	must(json.Unmarshal(baseFiles["tokenizer.json"], &tok))
	tokenizer := func(name string, edit func(m map[string]any)) {
		var m map[string]any
		must(json.Unmarshal(baseFiles["tokenizer.json"], &m))
		edit(m)
		b, _ := json.Marshal(m)
		folder("tok-"+name, map[string][]byte{"tokenizer.json": b})
	}
	tokenizer("added-equals-vocab", func(m map[string]any) {
		m["added_tokens"].([]any)[20].(map[string]any)["content"] = "!"
	})
	tokenizer("added-id-negative", func(m map[string]any) { m["added_tokens"].([]any)[3].(map[string]any)["id"] = -5 })
	tokenizer("added-id-huge", func(m map[string]any) { m["added_tokens"].([]any)[3].(map[string]any)["id"] = 1 << 40 })
	tokenizer("merges-ints", func(m map[string]any) { m["model"].(map[string]any)["merges"] = []int{1, 2, 3} })
	tokenizer("model-unigram", func(m map[string]any) { m["model"].(map[string]any)["type"] = "Unigram" })
	tokenizer("model-array", func(m map[string]any) { m["model"] = []int{1} })
	folder("tok-not-json", map[string][]byte{"tokenizer.json": []byte("{{{")})
	folder("tok-missing", map[string][]byte{"tokenizer.json": nil})
	folder("tok-model-garbage", map[string][]byte{"tokenizer.json": nil, "tokenizer.model": []byte("\x0a\xff\xff\xff\xff\x0f")})
	dup := spModel(512, func(p []string) { p[300] = p[301] })
	folder("tok-spm-duplicate", map[string][]byte{"tokenizer.json": nil, "tokenizer_config.json": nil, "tokenizer.model": dup})
	must(os.RemoveAll(base))
}

// spModel encodes a SentencePiece model of n pieces (specials, 256 bytes,
// words) after edit.
func spModel(n int, edit func([]string)) []byte {
	p := []string{"<unk>", "<s>", "</s>"}
	types := []uint64{2, 3, 3}
	for b := range 256 {
		p = append(p, fmt.Sprintf("<0x%02X>", b))
		types = append(types, 6)
	}
	for len(p) < n {
		p = append(p, fmt.Sprintf("▁w%d", len(p)))
		types = append(types, 1)
	}
	edit(p)
	var b []byte
	for i, s := range p {
		var m []byte
		m = append(m, 0x0a)
		m = binary.AppendUvarint(m, uint64(len(s)))
		m = append(m, s...)
		m = append(m, 0x15, 0, 0, 0, 0) // score, fixed32
		m = append(m, 0x18)
		m = binary.AppendUvarint(m, types[i])
		b = append(b, 0x0a)
		b = binary.AppendUvarint(b, uint64(len(m)))
		b = append(b, m...)
	}
	return b
}

func (g *gen) jsonl() {
	ok := `{"instruction":"Say hello to the user please","output":"Hello there, dear user!","lang":"en"}`
	cases := map[string]string{
		"empty":            "",
		"blank-lines":      "\n\n   \n\t\n",
		"not-json":         "{not json}\n",
		"array":            "[1,2,3]\n",
		"string":           "\"x\"\n",
		"number":           "42\n",
		"null":             "null\n",
		"trailing":         ok + " x\n",
		"bad-utf8":         "{\"instruction\":\"\xff\xfe\",\"output\":\"b\",\"lang\":\"en\"}\n",
		"nul-bytes":        "{\"instruction\":\"a\x00b\",\"output\":\"c\"}\n",
		"bom":              "\ufeff" + ok + "\n",
		"deep-array":       strings.Repeat("[", 200000) + "\n",
		"deep-object":      strings.Repeat(`{"a":`, 200000) + "\n",
		"instruction-int":  `{"instruction":5,"output":"x","lang":"en"}` + "\n",
		"output-missing":   `{"instruction":"Say hello to the user please","lang":"en"}` + "\n",
		"output-empty":     `{"instruction":"Say hello to the user please","output":"  ","lang":"en"}` + "\n",
		"history-bad":      `{"instruction":"Say hello to the user please","output":"Hello there","history":[[1]]}` + "\n",
		"duplicate":        ok + "\n" + ok + "\n",
		"lang-mismatch":    `{"instruction":"Say hello to the user please","output":"Hello there, dear user!","lang":"ru"}` + "\n",
		"numerology-wrong": `{"instruction":"Определи Дживу и Дхарму для 5 ноября 2004","output":"Джива: 5, Дхарма: 6","lang":"ru"}` + "\n",
		"escapes-bad":      `{"instruction":"\x","output":"x"}` + "\n",
		"cr-only":          strings.ReplaceAll(ok+"\n"+ok+"\n", "\n", "\r"),
		"sharegpt-broken":  `{"conversations":[{"from":"human"},{"value":3}]}` + "\n",
		"messages-broken":  `{"messages":"hi"}` + "\n",
	}
	for name, s := range cases {
		g.file("jsonl", name, ".jsonl", []byte(s))
	}
	// Lines longer than the 16 MiB limit, and long but valid strings.
	g.file("jsonl", "line-17mb", ".jsonl", append(bytes.Repeat([]byte("a"), 17<<20), '\n'))
	g.file("jsonl", "string-15mb-no-output", ".jsonl", []byte(`{"instruction":"`+strings.Repeat("ж", 7<<20)+`"}`+"\n"))
	// Compression: bombs, truncations, wrong magic.
	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		w.Write(b)
		w.Close()
		return buf.Bytes()
	}
	zs := func(write func(w *zstd.Encoder)) []byte {
		var buf bytes.Buffer
		w, _ := zstd.NewWriter(&buf, zstd.WithEncoderLevel(zstd.SpeedBestCompression))
		write(w)
		w.Close()
		return buf.Bytes()
	}
	zeros := make([]byte, 256<<20)
	g.file("jsonl", "gzip-bomb-zeros", ".jsonl.gz", gz(zeros))
	g.file("jsonl", "zstd-bomb-zeros", ".jsonl.zst", zs(func(w *zstd.Encoder) { w.Write(zeros) }))
	g.file("jsonl", "gzip-truncated", ".jsonl.gz", gz([]byte(ok + "\n" + ok + "\n"))[:30])
	g.file("jsonl", "gzip-header-only", ".jsonl.gz", []byte{0x1f, 0x8b})
	g.file("jsonl", "zstd-header-only", ".jsonl.zst", []byte{0x28, 0xb5, 0x2f, 0xfd})
	g.file("jsonl", "zstd-garbage", ".jsonl.zst", append([]byte{0x28, 0xb5, 0x2f, 0xfd}, bytes.Repeat([]byte{0xff}, 100)...))
	g.file("jsonl", "gzip-of-gzip", ".jsonl.gz", gz(gz([]byte(ok+"\n"))))
	// The review's memory case: 20M unique short lines compress to ~10 MB.
	// The last line repeats the first, so the one passing outcome is to read
	// every line within the limits and report that duplicate (exit 1).
	g.file("jsonl", "zstd-20m-unique-lines", ".jsonl.zst", zs(func(w *zstd.Encoder) {
		var line []byte
		for i := range 20_000_000 {
			line = fmt.Appendf(line[:0], `{"instruction":"q%d","output":"a"}`+"\n", i)
			w.Write(line)
		}
		fmt.Fprintf(w, `{"instruction":"q%d","output":"a"}`+"\n", 0)
	}))
	// Random bytes and random mutations of a valid set.
	r := rand.New(rand.NewPCG(19, 2))
	for i := range 20 {
		b := make([]byte, 1+r.IntN(4096))
		for j := range b {
			b[j] = byte(r.IntN(256))
		}
		g.file("jsonl", fmt.Sprintf("random-%02d", i), ".jsonl", b)
	}
	// Mutants of a valid set that the validator finds errors in.
	for i := 0; i < 20; {
		b := []byte(strings.Repeat(ok+"\n", 3))
		for range 1 + r.IntN(3) {
			const junk = "{}[]\",:\\\x00\xff"
			b[r.IntN(len(b))] = junk[r.IntN(len(junk))]
		}
		v := dataset.NewValidator(dataset.Options{})
		if v.Validate(context.Background(), bytes.NewReader(b), "m") != nil || v.Report().Errors > 0 {
			g.file("jsonl", fmt.Sprintf("mutant-%02d", i), ".jsonl", b)
			i++
		}
	}
}

func (g *gen) yaml() {
	caseLine := "  - {prompt: \"hi\", expect: {contains: \"x\"}}\n"
	cases := map[string]string{
		"empty":          "",
		"null":           "~\n",
		"list":           "- 1\n- 2\n",
		"scalar":         "hello\n",
		"no-cases":       "name: x\n",
		"cases-map":      "cases: {a: 1}\n",
		"cases-string":   "cases: hi\n",
		"case-int":       "cases:\n  - 5\n",
		"prompt-list":    "cases:\n  - {prompt: [1], expect: {contains: x}}\n",
		"bad-regex":      "cases:\n  - {prompt: hi, expect: {regex: \"(unclosed\"}}\n",
		"unknown-key":    "colour: red\ncases:\n" + caseLine,
		"unknown-expect": "cases:\n  - {prompt: hi, expect: {telepathy: yes}}\n",
		"tabs":           "cases:\n\t- {prompt: hi}\n",
		"unclosed":       "cases: [\n",
		"binary":         "\x00\x01\x02\xff\xfe",
		"bad-utf8":       "cases:\n  - {prompt: \"\xff\xfe\", expect: {contains: x}}\n",
		"max-tokens-neg": "defaults: {max_tokens: -5}\ncases:\n" + caseLine,
		"max-tokens-big": "defaults: {max_tokens: 99999999999999999999}\ncases:\n" + caseLine,
		"temp-nan":       "defaults: {temperature: .nan}\ncases:\n" + caseLine,
		"temp-inf":       "defaults: {temperature: .inf}\ncases:\n" + caseLine,
		"messages-bad":   "cases:\n  - {messages: [{role: alien, content: hi}], expect: {contains: x}}\n",
		"numerology-bad": "cases:\n  - {prompt: hi, expect: {numerology: \"31.02.1990\"}}\n",
		"similarity-bad": "cases:\n  - {prompt: hi, expect: {similarity: {min: 2}}}\n",
		"duplicate-ids":  "cases:\n  - {id: a, prompt: hi, expect: {contains: x}}\n  - {id: a, prompt: ho, expect: {contains: x}}\n",
		"merge-key-loop": "a: &a {b: *a}\ncases:\n" + caseLine,
		"anchor-undef":   "cases:\n  - *nope\n",
		"deep-flow":      "cases: " + strings.Repeat("[", 100000) + "\n",
		"deep-block":     "cases:\n" + strings.Repeat(" - ", 5000) + "x\n",
		"huge-scalar":    "cases:\n  - {prompt: \"" + strings.Repeat("x", 9<<20) + "\"}\n",
		"too-many-cases": "cases:\n" + strings.Repeat(caseLine, 20001),
	}
	laughs := "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
	prev := "a"
	for i := range 9 {
		n := fmt.Sprintf("b%d", i)
		laughs += fmt.Sprintf("%s: &%s [*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s]\n", n, n, prev, prev, prev, prev, prev, prev, prev, prev, prev)
		prev = n
	}
	cases["billion-laughs"] = laughs + "cases:\n  - {prompt: *" + prev + "}\n"
	for name, s := range cases {
		g.file("yaml", name, ".yaml", []byte(s))
	}
	r := rand.New(rand.NewPCG(19, 3))
	valid := "name: s\ndefaults: {max_tokens: 8}\ncases:\n  - id: a\n    prompt: \"hi\"\n    expect: {contains: \"x\"}\n"
	for i := range 20 {
		b := []byte(valid)
		for range 1 + r.IntN(3) {
			const junk = ":-[]{}&*!|>'\"\t\n#%@`"
			b[r.IntN(len(b))] = junk[r.IntN(len(junk))]
		}
		g.file("yaml", fmt.Sprintf("mutant-%02d", i), ".yaml", b)
	}
}
