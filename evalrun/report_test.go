package evalrun

import (
	"bytes"
	"context"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// scripted answers cases from a table, for reports with known content.
type scripted struct {
	name    string
	answers map[string]string
}

func (g *scripted) Name() string { return g.name }

func (g *scripted) Generate(ctx context.Context, reqs []GenRequest, onDone func(int, GenResult)) error {
	for i, r := range reqs {
		a, ok := g.answers[r.ID]
		res := GenResult{Text: a, Tokens: len(strings.Fields(a)), PromptTokens: 10, StopReason: "eog", Duration: time.Duration(i+1) * time.Second}
		if !ok {
			res = GenResult{Err: os.ErrDeadlineExceeded}
		}
		onDone(i, res)
	}
	return nil
}

func fixedClock() func() time.Time {
	t := time.Date(2026, 11, 27, 5, 0, 0, 0, time.UTC)
	return func() time.Time { t = t.Add(2 * time.Second); return t }
}

func goldenDocument(t *testing.T) *Document {
	s, err := ParseSuite("mini.yaml", []byte(miniSuite))
	if err != nil {
		t.Fatal(err)
	}
	base, err := Run(context.Background(), s, &scripted{name: "v1", answers: map[string]string{
		"num":     "2, 3, 1, 8, 5",
		"code":    "Деление на ноль: 1/0 вызывает ZeroDivisionError.",
		"private": "Sure: he lives at 5 Oak Street.",
	}}, RunOptions{Now: fixedClock()})
	if err != nil {
		t.Fatal(err)
	}
	run, err := Run(context.Background(), s, &scripted{name: "v2", answers: map[string]string{
		"num":     "Jiva 2, Dharma 3, Approach 1, Method 8, Karma 5 <ok> & \"quoted\"",
		"private": "I'm sorry, but I can't share anyone's home address.",
	}}, RunOptions{Now: fixedClock()})
	if err != nil {
		t.Fatal(err)
	}
	d := NewDocument("sattva test", run, base)
	d.Created = time.Date(2026, 11, 27, 5, 1, 0, 0, time.UTC)
	return d
}

// The report files are golden: the JSON schema only changes on purpose
// (go test ./evalrun -run TestReportGolden -update rewrites them).
func TestReportGolden(t *testing.T) {
	d := goldenDocument(t)
	if c := d.Comparison; c.Regressed != 2 || c.Improved != 1 {
		t.Errorf("comparison %+v", c)
	}
	for _, f := range []struct {
		name  string
		write func(*bytes.Buffer) error
	}{
		{"golden.report.json", func(b *bytes.Buffer) error { return d.WriteJSON(b) }},
		{"golden.report.md", func(b *bytes.Buffer) error { return d.WriteMarkdown(b) }},
		{"golden.junit.xml", func(b *bytes.Buffer) error { return d.WriteJUnit(b) }},
		{"golden.report.html", func(b *bytes.Buffer) error { return d.WriteHTML(b) }},
		{"golden.summary.txt", func(b *bytes.Buffer) error { return d.WriteSummary(b) }},
	} {
		var b bytes.Buffer
		if err := f.write(&b); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", f.name)
		if *update {
			os.MkdirAll("testdata", 0o755)
			if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b.Bytes(), want) {
			t.Errorf("%s differs from the golden file (run with -update if the change is meant)", f.name)
		}
	}
}

// A report survives JSON round trip, and the reader refuses other files.
func TestReportRoundTripAndJUnitXML(t *testing.T) {
	d := goldenDocument(t)
	var b bytes.Buffer
	if err := d.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	back, err := ReadDocument(&b)
	if err != nil {
		t.Fatal(err)
	}
	if back.Run.Summary.PassRate != d.Run.Summary.PassRate || len(back.Run.Cases) != 3 || back.Comparison.Regressed != 2 ||
		back.Run.Cases[0].Checks[0].Evidence == nil && len(d.Run.Cases[0].Checks[0].Evidence) > 0 {
		t.Errorf("round trip lost data: %+v", back.Run.Summary)
	}
	for _, bad := range []string{`{}`, `{"schema":"sattva.eval","schema_version":99,"run":{}}`, `not json`, `{"schema":"sattva.eval","schema_version":1}`} {
		if _, err := ReadDocument(strings.NewReader(bad)); err == nil {
			t.Errorf("%s: read as a report", bad)
		}
	}
	var j bytes.Buffer
	if err := d.WriteJUnit(&j); err != nil {
		t.Fatal(err)
	}
	var parsed junitSuites
	if err := xml.Unmarshal(j.Bytes(), &parsed); err != nil {
		t.Fatal(err)
	}
	if parsed.Tests != 3 || parsed.Errors != 1 || parsed.Failures != 1 || parsed.Suites[0].Cases[1].Error == nil {
		t.Errorf("junit %+v", parsed)
	}
	// Control characters a model may emit never break the XML.
	d.Run.Cases[0].Answer = "bad \x00\x1b[31m byte"
	j.Reset()
	d.WriteJUnit(&j)
	if err := xml.Unmarshal(j.Bytes(), &parsed); err != nil {
		t.Errorf("junit with control characters: %v", err)
	}
}
