package pipeline

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ollama/ollama/api"
	"github.com/ollama/ollama/parser"
	otemplate "github.com/ollama/ollama/template"
	"github.com/sattva/sattva/evalrun"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (go test -update to accept):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func exampleModelfileSpec(template string) ModelfileSpec {
	return ModelfileSpec{
		From:       "./sattva-llama31-8b-q4_K_M.gguf",
		Template:   template,
		System:     "You are SatTva — a local assistant.\nCommunicate in Russian by default.\n",
		Parameters: map[string]float64{"num_ctx": 4096, "temperature": 0.7, "top_p": 0.9, "top_k": 40},
		Comment:    []string{"sattva-llama31-8b, written by sattva export"},
	}
}

func TestModelfileGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec ModelfileSpec
	}{
		{"Modelfile.llama3.golden", exampleModelfileSpec("llama3")},
		{"Modelfile.plain.golden", exampleModelfileSpec("plain")},
		{"Modelfile.adapter.golden", func() ModelfileSpec {
			s := exampleModelfileSpec("llama3")
			s.From, s.Adapter = "./base-q4_K_M.gguf", "./sattva-llama31-8b-lora.gguf"
			return s
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mf, err := Modelfile(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name, mf)
			// Ollama's own parser reads it back with the same commands.
			f, err := parser.ParseFile(strings.NewReader(mf))
			if err != nil {
				t.Fatalf("ollama parser: %v", err)
			}
			got := map[string][]string{}
			for _, c := range f.Commands {
				got[c.Name] = append(got[c.Name], c.Args)
			}
			if got["model"][0] != tc.spec.From {
				t.Errorf("FROM parsed as %q", got["model"])
			}
			if tc.spec.Adapter != "" && (len(got["adapter"]) != 1 || got["adapter"][0] != tc.spec.Adapter) {
				t.Errorf("ADAPTER parsed as %q", got["adapter"])
			}
			wantTmpl := Llama3Template
			wantStops := []string{"<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"}
			if tc.spec.Template == "plain" {
				wantTmpl, wantStops = PlainTemplate, nil
			}
			if got["template"][0] != wantTmpl {
				t.Errorf("TEMPLATE parsed as %q", got["template"][0])
			}
			if strings.Join(got["stop"], "|") != strings.Join(wantStops, "|") {
				t.Errorf("stops parsed as %q", got["stop"])
			}
			if got["system"][0] != strings.TrimRight(tc.spec.System, "\n") || got["num_ctx"][0] != "4096" || got["temperature"][0] != "0.7" {
				t.Errorf("parsed %q", got)
			}
		})
	}
}

// The Llama 3 TEMPLATE must be the one Ollama ships, byte for byte.
func TestLlama3TemplateIsOllamas(t *testing.T) {
	for _, v := range []string{"v0.24.0", "v0.6.5"} {
		p := filepath.Join(moduleCache(), "github.com/ollama/ollama@"+v, "template/llama3-instruct.gotmpl")
		b, err := os.ReadFile(p)
		if err != nil {
			t.Logf("skipping %s: %v", v, err)
			continue
		}
		if string(b) != Llama3Template {
			t.Errorf("Llama3Template differs from %s:\n%q\n%q", p, b, Llama3Template)
		}
	}
}

func moduleCache() string {
	if d := os.Getenv("GOMODCACHE"); d != "" {
		return d
	}
	if d := os.Getenv("GOPATH"); d != "" {
		return filepath.Join(strings.Split(d, string(os.PathListSeparator))[0], "pkg", "mod")
	}
	h, _ := os.UserHomeDir()
	return filepath.Join(h, "go", "pkg", "mod")
}

// Ollama's template engine renders our templates to exactly the prompt the
// trainer and RenderPrompt produce.
func TestTemplatesRenderLikeTraining(t *testing.T) {
	for _, tmpl := range []string{"llama3", "plain"} {
		for _, system := range []string{"", "Be brief."} {
			src := Llama3Template
			if tmpl == "plain" {
				src = PlainTemplate
			}
			ot, err := otemplate.Parse(src)
			if err != nil {
				t.Fatal(err)
			}
			msgs := []api.Message{{Role: "user", Content: "Date 29.01.1988?"}}
			if system != "" {
				msgs = append([]api.Message{{Role: "system", Content: system}}, msgs...)
			}
			var b bytes.Buffer
			if err := ot.Execute(&b, otemplate.Values{Messages: msgs}); err != nil {
				t.Fatal(err)
			}
			want, err := RenderPrompt(tmpl, system, "Date 29.01.1988?")
			if err != nil {
				t.Fatal(err)
			}
			if b.String() != want {
				t.Errorf("%s system=%q: ollama renders\n%q\nRenderPrompt\n%q", tmpl, system, b.String(), want)
			}
		}
	}
}

func TestModelfileRefuses(t *testing.T) {
	for _, s := range []ModelfileSpec{
		{From: "x", Template: "chatml"},
		{From: "", Template: "llama3"},
		{From: "x\nFROM y", Template: "llama3"},
		{From: "x", Template: "llama3", System: `a """ b`},
	} {
		if _, err := Modelfile(s); err == nil {
			t.Errorf("%+v: no error", s)
		}
	}
}

// The plain template is what `sattva eval` sends a model without a chat
// template (evalrun.RawPrompt), so the eval asks in the training format.
func TestPlainIsEvalRawPrompt(t *testing.T) {
	for _, system := range []string{"", "Be brief."} {
		var msgs []evalrun.Message
		if system != "" {
			msgs = append(msgs, evalrun.Message{Role: "system", Content: system})
		}
		msgs = append(msgs, evalrun.Message{Role: "user", Content: "Date 29.01.1988?"})
		got, _ := RenderPrompt("plain", system, "Date 29.01.1988?")
		if want := evalrun.RawPrompt(msgs); got != want {
			t.Errorf("RenderPrompt %q, evalrun.RawPrompt %q", got, want)
		}
	}
}
