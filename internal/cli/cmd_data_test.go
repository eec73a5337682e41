package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNumerologyCmd(t *testing.T) {
	code, out, _ := runSattva(t, "numerology", "29.01.1988")
	if code != 0 || out != "Джива: 2\nДхарма: 3\nПодход: 1\nМетод: 8\nКарма: 5\n" {
		t.Errorf("code %d, out %q", code, out)
	}
	code, out, _ = runSattva(t, "numerology", "5 ноября 2004", "--lang", "en", "--json")
	var res []numerologyResult
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || len(res) != 1 || res[0].Order != [5]int{5, 7, 2, 6, 2} || res[0].Numbers["karma"] != 2 {
		t.Errorf("code %d, out %s", code, out)
	}
	if code, _, errs := runSattva(t, "numerology", "31.02.2001"); code != ExitUsage || !strings.Contains(errs, "31.02.2001") {
		t.Errorf("invalid date: code %d, %s", code, errs)
	}
}

func TestDataGenDeterministicAndMeanings(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")
	for _, p := range []string{a, b} {
		if code, _, errs := runSattva(t, "data", "gen", "numerology", "-n", "300", "--seed", "11", "-o", p); code != 0 {
			t.Fatalf("gen: %s", errs)
		}
	}
	da, _ := os.ReadFile(a)
	db, _ := os.ReadFile(b)
	if !bytes.Equal(da, db) || bytes.Count(da, []byte("\n")) != 300 {
		t.Error("the same seed gave different files")
	}
	// the shipped template is empty: generation refuses it (exit 3) and names the entries
	code, tmpl, _ := runSattva(t, "data", "gen", "numerology", "--meanings-template")
	mt := filepath.Join(dir, "meanings.yaml")
	os.WriteFile(mt, []byte(tmpl), 0o644)
	if code != 0 || !strings.Contains(tmpl, "jiva:") {
		t.Fatalf("template: %d %q", code, tmpl)
	}
	if code, _, errs := runSattva(t, "data", "gen", "numerology", "-n", "5", "--meanings", mt); code != ExitInvalidInput || !strings.Contains(errs, "ru.jiva.1") {
		t.Errorf("empty meanings: code %d %s", code, errs)
	}
	// filled in: answers carry the meanings
	filled := strings.ReplaceAll(tmpl, `""`, `"смысл числа"`)
	os.WriteFile(mt, []byte(filled), 0o644)
	code, out, errs := runSattva(t, "data", "gen", "numerology", "-n", "50", "--meanings", mt)
	if code != 0 || !strings.Contains(out, "смысл числа") {
		t.Errorf("filled meanings: code %d %s", code, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "never.jsonl")); err == nil {
		t.Error("unexpected file")
	}
}

func TestDataGenValidateSplitConvert(t *testing.T) {
	dir := t.TempDir()
	gen := filepath.Join(dir, "gen.jsonl")
	if code, _, errs := runSattva(t, "data", "gen", "numerology", "-n", "200", "--seed", "3", "--lang-ratio", "0.7", "-o", gen); code != 0 {
		t.Fatalf("gen: %d %s", code, errs)
	}
	gen2 := filepath.Join(dir, "gen2.jsonl.zst")
	if code, _, errs := runSattva(t, "data", "gen", "numerology", "-n", "200", "--seed", "3", "--lang-ratio", "0.7", "-o", gen2); code != 0 {
		t.Fatalf("gen zst: %d %s", code, errs)
	}
	// a clean set validates with exit 0, also compressed
	code, out, _ := runSattva(t, "data", "validate", "-q", gen)
	if code != 0 || !strings.Contains(out, "OK: 0 errors, 0 warnings") {
		t.Fatalf("clean set: code %d\n%s", code, out)
	}
	// the zst file holds the same examples: all 200 are duplicates of gen.jsonl
	code, out, _ = runSattva(t, "data", "validate", "-q", "--json", gen, gen2)
	var rep struct {
		Examples int64            `json:"examples"`
		Errors   int64            `json:"errors"`
		ByKind   map[string]int64 `json:"by_kind"`
		ByLang   map[string]int64 `json:"by_lang"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if code != ExitFailure || rep.Examples != 400 || rep.ByKind["duplicate"] != 200 || rep.Errors != 200 {
		t.Errorf("gen + gen2: code %d report %+v", code, rep)
	}
	if r := float64(rep.ByLang["ru"]) / 400; r < 0.6 || r > 0.8 {
		t.Errorf("Russian share %.2f with --lang-ratio 0.7", r)
	}
	// warnings only: exit 0
	warn := filepath.Join(dir, "warn.jsonl")
	os.WriteFile(warn, []byte(`{"instruction":"Say hello to the user please","output":"Hello there, dear user!"}`+"\n"), 0o644)
	if code, out, _ := runSattva(t, "data", "validate", "-q", warn); code != 0 || !strings.Contains(out, "lang-missing") {
		t.Errorf("warnings only: code %d\n%s", code, out)
	}
	// planted faults through the command line
	data, _ := os.ReadFile(gen)
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	lines[6] = `{"instruction": "broken`
	lines[19] = lines[2]
	bad := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(bad, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	code, out, _ = runSattva(t, "data", "validate", "-q", bad)
	if code != ExitFailure || !strings.Contains(out, "bad.jsonl:7: error: invalid-json") || !strings.Contains(out, "bad.jsonl:20: error: duplicate: the same example as "+bad+":3") {
		t.Errorf("planted: code %d\n%s", code, out)
	}
	// a broken compressed stream is an invalid input: exit 3
	z, _ := os.ReadFile(gen2)
	cut := filepath.Join(dir, "cut.jsonl.zst")
	os.WriteFile(cut, z[:len(z)/2], 0o644)
	if code, _, errs := runSattva(t, "data", "validate", "-q", cut); code != ExitInvalidInput {
		t.Errorf("truncated zstd: code %d %s", code, errs)
	}
	// split: deterministic and stratified
	tr, ev := filepath.Join(dir, "train.jsonl"), filepath.Join(dir, "eval.jsonl")
	if code, out, errs := runSattva(t, "data", "split", gen, "--train", tr, "--eval", ev, "--eval-ratio", "0.2", "--seed", "9", "--json"); code != 0 {
		t.Fatalf("split: %d %s %s", code, out, errs)
	}
	t1, _ := os.ReadFile(tr)
	e1, _ := os.ReadFile(ev)
	runSattva(t, "data", "split", gen, "--train", tr, "--eval", ev, "--eval-ratio", "0.2", "--seed", "9")
	t2, _ := os.ReadFile(tr)
	if !bytes.Equal(t1, t2) {
		t.Error("split is not deterministic")
	}
	if n := bytes.Count(e1, []byte("\n")); n != 40 {
		t.Errorf("eval has %d lines, want 40", n)
	}
	if bytes.Count(t1, []byte("\n"))+bytes.Count(e1, []byte("\n")) != 200 {
		t.Error("split lost lines")
	}
	// convert round trip alpaca → sharegpt → alpaca keeps every example
	sg, back := filepath.Join(dir, "sg.jsonl"), filepath.Join(dir, "back.jsonl")
	if code, _, errs := runSattva(t, "data", "convert", gen, "--to", "sharegpt", "-o", sg); code != 0 {
		t.Fatalf("convert: %s", errs)
	}
	if code, _, errs := runSattva(t, "data", "convert", sg, "--from", "sharegpt", "--to", "alpaca", "-o", back); code != 0 {
		t.Fatalf("convert back: %s", errs)
	}
	if code, out, _ := runSattva(t, "data", "validate", "-q", back); code != 0 {
		t.Errorf("round trip does not validate:\n%s", out)
	}
}
