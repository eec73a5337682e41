package evalrun

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"html/template"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sattva/sattva/internal/atomicfile"
)

// Report file names WriteFiles writes into its folder.
const (
	FileJSON     = "report.json"
	FileMarkdown = "report.md"
	FileHTML     = "report.html"
	FileJUnit    = "junit.xml"
)

// WriteFiles writes the four report files into dir (which must exist), each
// atomically, and returns their paths.
func WriteFiles(dir string, d *Document) ([]string, error) {
	writers := []struct {
		name  string
		write func(io.Writer) error
	}{
		{FileJSON, d.WriteJSON},
		{FileMarkdown, d.WriteMarkdown},
		{FileHTML, d.WriteHTML},
		{FileJUnit, d.WriteJUnit},
	}
	var paths []string
	for _, w := range writers {
		var buf bytes.Buffer
		if err := w.write(&buf); err != nil {
			return paths, fmt.Errorf("evalrun: writing %s: %w", w.name, err)
		}
		p := filepath.Join(dir, w.name)
		if err := atomicfile.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			return paths, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// statusRank orders cases failures first: error, fail, not_run, pass.
func statusRank(s string) int {
	switch s {
	case StatusError:
		return 0
	case StatusFail:
		return 1
	case StatusNotRun:
		return 2
	}
	return 3
}

// orderedCases returns the run's case indices, regressions first, then
// failures, then the rest, each group in suite order.
func (d *Document) orderedCases() []int {
	idx := make([]int, len(d.Run.Cases))
	for i := range idx {
		idx[i] = i
	}
	rank := func(i int) int {
		c := &d.Run.Cases[i]
		if df, ok := d.Comparison.Diff(c.ID); ok && df.Change == ChangeRegressed {
			return -1
		}
		return statusRank(c.Status)
	}
	slices.SortStableFunc(idx, func(a, b int) int { return rank(a) - rank(b) })
	return idx
}

func (d *Document) baselineCase(id string) *CaseResult {
	if d.Baseline == nil {
		return nil
	}
	for i := range d.Baseline.Cases {
		if d.Baseline.Cases[i].ID == id {
			return &d.Baseline.Cases[i]
		}
	}
	return nil
}

func pct(x float64) string { return fmt.Sprintf("%.1f%%", 100*x) }

func statusMark(s string) string {
	switch s {
	case StatusPass:
		return "PASS"
	case StatusFail:
		return "FAIL"
	case StatusError:
		return "ERROR"
	case StatusNotRun:
		return "NOT RUN"
	}
	return strings.ToUpper(s)
}

func runTitle(r *Report) string {
	t := r.Label
	if r.Generator.Model != "" && r.Generator.Model != r.Label {
		t += " (" + r.Generator.Model
		for _, a := range r.Generator.Adapters {
			t += " + " + a
		}
		t += ")"
	}
	return t
}

// WriteSummary writes the terminal summary: pass rate by tag and language,
// one line per case, and throughput.
func (d *Document) WriteSummary(w io.Writer) error {
	var b strings.Builder
	r := d.Run
	fmt.Fprintf(&b, "suite %s: %d cases, run %s\n", r.Suite.Name, r.Suite.Cases, runTitle(r))
	if r.Partial {
		fmt.Fprintf(&b, "INTERRUPTED: %d cases not run\n", r.Summary.NotRun)
	}
	for _, c := range d.orderedCases() {
		cr := &r.Cases[c]
		line := fmt.Sprintf("  %-7s %-28s %s", statusMark(cr.Status), cr.ID, cr.Lang)
		if df, ok := d.Comparison.Diff(cr.ID); ok && df.Change != ChangeSamePass && df.Change != ChangeSameFail {
			line += "  [" + df.Change + "]"
		}
		switch cr.Status {
		case StatusFail:
			var failed []string
			for _, ch := range cr.Checks {
				if !ch.Pass {
					failed = append(failed, ch.Check+": "+truncate(ch.Detail, 70))
				}
			}
			line += "  " + strings.Join(failed, " | ")
		case StatusError:
			line += "  " + truncate(cr.Error, 100)
		}
		b.WriteString(line + "\n")
	}
	b.WriteString("by tag:")
	for _, t := range r.Summary.ByTag {
		fmt.Fprintf(&b, "  %s %d/%d", t.Key, t.Passed, t.Total)
	}
	b.WriteString("\nby language:")
	for _, t := range r.Summary.ByLang {
		fmt.Fprintf(&b, "  %s %d/%d", t.Key, t.Passed, t.Total)
	}
	fmt.Fprintf(&b, "\npassed %d/%d (%s), failed %d, errors %d", r.Summary.Passed, r.Summary.Total-r.Summary.NotRun, pct(r.Summary.PassRate), r.Summary.Failed, r.Summary.Errors)
	fmt.Fprintf(&b, "; %d tokens in %.2f s = %.1f tok/s\n", r.Throughput.GeneratedTokens, r.WallSeconds, r.Throughput.TokensPerSecond)
	if c := d.Comparison; c != nil {
		fmt.Fprintf(&b, "vs %s: pass rate %s → %s (%+.1f points), %d regressed, %d improved, %d answers changed\n",
			c.Baseline, pct(d.Baseline.Summary.PassRate), pct(r.Summary.PassRate), 100*c.PassRateDelta, c.Regressed, c.Improved, c.Changed)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// mdEscape makes text safe inside a Markdown table cell.
func mdEscape(s string) string {
	s = strings.ReplaceAll(s, "\\", "\\\\")
	s = strings.ReplaceAll(s, "|", "\\|")
	s = strings.ReplaceAll(s, "\r", "")
	s = strings.ReplaceAll(s, "\n", "<br>")
	s = strings.ReplaceAll(s, "<", "&lt;")
	s = strings.ReplaceAll(s, "<br>", "<br>")
	return strings.ReplaceAll(s, "&lt;br>", "<br>")
}

// WriteMarkdown writes the report as Markdown.
func (d *Document) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	r := d.Run
	fmt.Fprintf(&b, "# Eval: %s\n\n", mdEscape(r.Suite.Name))
	fmt.Fprintf(&b, "- run: %s\n", mdEscape(runTitle(r)))
	if d.Baseline != nil {
		fmt.Fprintf(&b, "- baseline: %s\n", mdEscape(runTitle(d.Baseline)))
	}
	fmt.Fprintf(&b, "- suite: `%s` (%d cases, sha256 %s)\n", r.Suite.Path, r.Suite.Cases, shortHash(r.Suite.SHA256))
	fmt.Fprintf(&b, "- settings: max_tokens %d, temperature %g, seed %d, chat template %v\n", r.Settings.MaxTokens, r.Settings.Sampling.Temperature, r.Settings.Sampling.Seed, r.Settings.ChatTemplate)
	for _, n := range r.Generator.Notes {
		fmt.Fprintf(&b, "- note: %s\n", mdEscape(n))
	}
	if r.Partial {
		fmt.Fprintf(&b, "- **interrupted**: %d cases not run\n", r.Summary.NotRun)
	}
	fmt.Fprintf(&b, "\n**Passed %d of %d (%s)**; failed %d, errors %d. %d tokens in %.2f s, %.1f tok/s.\n\n",
		r.Summary.Passed, r.Summary.Total-r.Summary.NotRun, pct(r.Summary.PassRate), r.Summary.Failed, r.Summary.Errors,
		r.Throughput.GeneratedTokens, r.WallSeconds, r.Throughput.TokensPerSecond)
	if c := d.Comparison; c != nil {
		fmt.Fprintf(&b, "Against **%s**: pass rate %s → %s (%+.1f points), %d regressed, %d improved, %d answers changed.\n\n",
			mdEscape(c.Baseline), pct(d.Baseline.Summary.PassRate), pct(r.Summary.PassRate), 100*c.PassRateDelta, c.Regressed, c.Improved, c.Changed)
	}
	writeTallies := func(title string, ts []Tally, base []Tally) {
		fmt.Fprintf(&b, "## Pass rate by %s\n\n", title)
		if base != nil {
			fmt.Fprintf(&b, "| %s | baseline | run |\n| --- | --- | --- |\n", title)
		} else {
			fmt.Fprintf(&b, "| %s | passed | rate |\n| --- | --- | --- |\n", title)
		}
		for _, t := range ts {
			if base != nil {
				bt := findTally(base, t.Key)
				fmt.Fprintf(&b, "| %s | %d/%d | %d/%d |\n", mdEscape(t.Key), bt.Passed, bt.Total, t.Passed, t.Total)
			} else {
				fmt.Fprintf(&b, "| %s | %d/%d | %s |\n", mdEscape(t.Key), t.Passed, t.Total, pct(t.PassRate))
			}
		}
		b.WriteString("\n")
	}
	var baseTag, baseLang []Tally
	if d.Baseline != nil {
		baseTag, baseLang = d.Baseline.Summary.ByTag, d.Baseline.Summary.ByLang
	}
	writeTallies("tag", r.Summary.ByTag, baseTag)
	writeTallies("language", r.Summary.ByLang, baseLang)
	b.WriteString("## Cases (failures first)\n\n")
	if d.Baseline != nil {
		b.WriteString("| case | lang | baseline | run | change | failed checks |\n| --- | --- | --- | --- | --- | --- |\n")
	} else {
		b.WriteString("| case | lang | verdict | score | failed checks |\n| --- | --- | --- | --- | --- |\n")
	}
	for _, i := range d.orderedCases() {
		c := &r.Cases[i]
		failed := failedChecks(c)
		if d.Baseline != nil {
			bs, change := "", ""
			if df, ok := d.Comparison.Diff(c.ID); ok {
				bs, change = df.Baseline, df.Change
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", mdEscape(c.ID), c.Lang, bs, c.Status, change, mdEscape(failed))
		} else {
			fmt.Fprintf(&b, "| %s | %s | %s | %.2f | %s |\n", mdEscape(c.ID), c.Lang, c.Status, c.Score, mdEscape(failed))
		}
	}
	b.WriteString("\n## Answers\n")
	for _, i := range d.orderedCases() {
		c := &r.Cases[i]
		fmt.Fprintf(&b, "\n### %s — %s\n\n", mdEscape(c.ID), statusMark(c.Status))
		fmt.Fprintf(&b, "Prompt:\n\n%s\n\n", fence(c.Prompt))
		if bc := d.baselineCase(c.ID); bc != nil {
			fmt.Fprintf(&b, "Baseline (%s, %s):\n\n%s\n\n", mdEscape(d.Baseline.Label), bc.Status, fence(bc.Answer))
		}
		fmt.Fprintf(&b, "Answer (%d tokens, %s):\n\n%s\n\n", c.Tokens, c.StopReason, fence(c.Answer))
		if c.Error != "" {
			fmt.Fprintf(&b, "Error: %s\n\n", mdEscape(c.Error))
		}
		for _, ch := range c.Checks {
			mark := "✓"
			if !ch.Pass {
				mark = "✗"
			}
			fmt.Fprintf(&b, "- %s **%s**: %s\n", mark, ch.Check, mdEscape(ch.Detail))
			for _, ev := range ch.Evidence {
				fmt.Fprintf(&b, "  - %s%s\n", mdEscape(ev.Rule), evidenceSuffix(ev, mdEscape))
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func evidenceSuffix(ev Evidence, esc func(string) string) string {
	if ev.Start < 0 {
		if ev.Text == "" {
			return ""
		}
		return ": missing " + esc(fmt.Sprintf("%q", truncate(ev.Text, 80)))
	}
	return fmt.Sprintf(" at %d–%d: %s", ev.Start, ev.End, esc(fmt.Sprintf("%q", truncate(ev.Text, 80))))
}

// fence wraps text in a code fence longer than any backtick run inside it.
func fence(s string) string {
	n := 3
	run := 0
	for _, r := range s {
		if r == '`' {
			run++
			n = max(n, run+1)
		} else {
			run = 0
		}
	}
	f := strings.Repeat("`", n)
	if s == "" {
		s = "(empty)"
	}
	return f + "text\n" + s + "\n" + f
}

func failedChecks(c *CaseResult) string {
	var out []string
	for _, ch := range c.Checks {
		if !ch.Pass {
			out = append(out, ch.Check+": "+truncate(ch.Detail, 90))
		}
	}
	if c.Error != "" {
		out = append(out, "error: "+truncate(c.Error, 90))
	}
	return strings.Join(out, "; ")
}

func findTally(ts []Tally, key string) Tally {
	for _, t := range ts {
		if t.Key == key {
			return t
		}
	}
	return Tally{Key: key}
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// --- JUnit ---

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Error     *junitMessage `xml:"error,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

// xmlSafe drops characters XML 1.0 cannot hold (model output may contain any).
func xmlSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == 0x9 || r == 0xA || r == 0xD || (r >= 0x20 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF) {
			return r
		}
		return -1
	}, s)
}

// WriteJUnit writes the run as JUnit XML: one testcase per case, classname
// "<suite>.<lang>", failed checks as the failure text.
func (d *Document) WriteJUnit(w io.Writer) error {
	r := d.Run
	js := junitSuite{
		Name: xmlSafe(r.Suite.Name), Tests: len(r.Cases), Failures: r.Summary.Failed, Errors: r.Summary.Errors, Skipped: r.Summary.NotRun,
		Time: fmt.Sprintf("%.3f", r.WallSeconds), Timestamp: r.Started.Format("2006-01-02T15:04:05"),
		Properties: []junitProperty{{"runner", r.Generator.Runner}, {"model", xmlSafe(r.Generator.Model)}, {"pass_rate", fmt.Sprintf("%.4f", r.Summary.PassRate)}},
	}
	for _, c := range r.Cases {
		jc := junitCase{Name: xmlSafe(c.ID), Classname: xmlSafe(r.Suite.Name + "." + c.Lang), Time: fmt.Sprintf("%.3f", c.Seconds), SystemOut: xmlSafe(c.Answer)}
		switch c.Status {
		case StatusFail:
			var text strings.Builder
			for _, ch := range c.Checks {
				if ch.Pass {
					continue
				}
				fmt.Fprintf(&text, "%s: %s\n", ch.Check, ch.Detail)
				for _, ev := range ch.Evidence {
					fmt.Fprintf(&text, "  %s%s\n", ev.Rule, evidenceSuffix(ev, func(s string) string { return s }))
				}
			}
			if df, ok := d.Comparison.Diff(c.ID); ok && df.Change == ChangeRegressed {
				text.WriteString("regressed: passed in " + d.Comparison.Baseline + "\n")
			}
			jc.Failure = &junitMessage{Message: xmlSafe(truncate(failedChecks(&c), 200)), Type: "check", Text: xmlSafe(text.String())}
		case StatusError:
			jc.Error = &junitMessage{Message: xmlSafe(truncate(c.Error, 200)), Type: "generator", Text: xmlSafe(c.Error)}
		case StatusNotRun:
			jc.Skipped = &junitMessage{Message: "interrupted before this case ran"}
		}
		js.Cases = append(js.Cases, jc)
	}
	doc := junitSuites{Name: js.Name, Tests: js.Tests, Failures: js.Failures, Errors: js.Errors, Skipped: js.Skipped, Time: js.Time, Suites: []junitSuite{js}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// --- HTML ---

type htmlCase struct {
	C        *CaseResult
	B        *CaseResult
	Change   string
	Class    string
	Failed   []Check
	Passed   []Check
	BChecks  []Check
	Evidence []Evidence
}

type htmlData struct {
	D     *Document
	Title string
	Chart template.HTML
	Cases []htmlCase
}

// WriteHTML writes a self-contained HTML page: summary, a pass-rate chart per
// tag (inline SVG), and the cases failures first, with baseline and run
// answers side by side when there is a baseline.
func (d *Document) WriteHTML(w io.Writer) error {
	data := htmlData{D: d, Title: "Eval: " + d.Run.Suite.Name, Chart: template.HTML(d.tagChartSVG())}
	for _, i := range d.orderedCases() {
		c := &d.Run.Cases[i]
		hc := htmlCase{C: c, B: d.baselineCase(c.ID), Class: c.Status}
		if df, ok := d.Comparison.Diff(c.ID); ok {
			hc.Change = df.Change
			if df.Change == ChangeRegressed {
				hc.Class = "regressed"
			}
		}
		for _, ch := range c.Checks {
			if ch.Pass {
				hc.Passed = append(hc.Passed, ch)
			} else {
				hc.Failed = append(hc.Failed, ch)
			}
		}
		data.Cases = append(data.Cases, hc)
	}
	return htmlTmpl.Execute(w, data)
}

// tagChartSVG draws the pass rate per tag as horizontal bars: one bar per
// run, two (baseline, run) when there is a baseline.
func (d *Document) tagChartSVG() string {
	tags := d.Run.Summary.ByTag
	const rowH, barH, labelW, barW = 34, 12, 170, 420
	h := len(tags)*rowH + 30
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" role="img" aria-label="pass rate by tag">`, labelW+barW+70, h)
	esc := template.HTMLEscapeString
	for i, t := range tags {
		y := 10 + i*rowH
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" font-size="12">%s</text>`, labelW-8, y+barH+2, esc(t.Key))
		bars := []struct {
			rate  float64
			label string
			class string
		}{}
		if d.Baseline != nil {
			bt := findTally(d.Baseline.Summary.ByTag, t.Key)
			bars = append(bars, struct {
				rate  float64
				label string
				class string
			}{bt.PassRate, fmt.Sprintf("%d/%d", bt.Passed, bt.Total), "base"})
		}
		bars = append(bars, struct {
			rate  float64
			label string
			class string
		}{t.PassRate, fmt.Sprintf("%d/%d", t.Passed, t.Total), "run"})
		for j, bar := range bars {
			by := y + j*(barH+2)
			if len(bars) == 1 {
				by = y + 4
			}
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" class="track"/>`, labelW, by, barW, barH)
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" class="%s"><title>%s %s</title></rect>`, labelW, by, bar.rate*barW, barH, bar.class, esc(t.Key), esc(bar.label))
			fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11">%s</text>`, labelW+barW+6, by+barH-2, esc(bar.label))
		}
	}
	if d.Baseline != nil {
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="10" class="base"/><text x="%d" y="%d" font-size="11">baseline: %s</text>`, labelW, h-14, labelW+14, h-5, esc(d.Baseline.Label))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="10" class="run"/><text x="%d" y="%d" font-size="11">run: %s</text>`, labelW+220, h-14, labelW+234, h-5, esc(d.Run.Label))
	}
	b.WriteString(`</svg>`)
	return b.String()
}

var htmlTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"pct":   pct,
	"title": runTitle,
	"mark":  statusMark,
	"ev": func(ev Evidence) string {
		return ev.Rule + evidenceSuffix(ev, func(s string) string { return s })
	},
	"sub": func(a, b int) int { return a - b },
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1b1b1b;max-width:1400px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px}
table.sum td,table.sum th{padding:2px 10px;text-align:left}
.track{fill:#eee}.run{fill:#2f7d32}.base{fill:#8a8fa3}
.case{border:1px solid #ddd;border-left:6px solid #2f7d32;margin:12px 0;padding:8px 12px;border-radius:4px}
.case.fail{border-left-color:#c62828}.case.error{border-left-color:#6a1b9a}.case.not_run{border-left-color:#999}
.case.regressed{border-left-color:#c62828;background:#fff4f4}
.tag{display:inline-block;background:#eef;border-radius:3px;padding:0 5px;margin-right:4px;font-size:12px}
.badge{font-weight:600}.badge.pass{color:#2f7d32}.badge.fail,.badge.regressed{color:#c62828}.badge.error{color:#6a1b9a}
.cols{display:grid;grid-template-columns:1fr 1fr;gap:12px}.cols.one{grid-template-columns:1fr}
pre{white-space:pre-wrap;word-break:break-word;background:#f7f7f7;padding:6px 8px;margin:4px 0;max-height:320px;overflow:auto}
ul.checks{margin:4px 0;padding-left:18px}li.bad{color:#b71c1c}li.good{color:#2e7d32}
.evi{color:#555;font-size:12px;font-family:ui-monospace,monospace}
</style></head><body>
{{$d := .D}}{{$r := .D.Run}}
<h1>{{.Title}}</h1>
<table class="sum">
<tr><th>run</th><td>{{title $r}}</td></tr>
{{if $d.Baseline}}<tr><th>baseline</th><td>{{title $d.Baseline}}</td></tr>{{end}}
<tr><th>suite</th><td>{{$r.Suite.Path}} ({{$r.Suite.Cases}} cases)</td></tr>
<tr><th>settings</th><td>max_tokens {{$r.Settings.MaxTokens}}, temperature {{$r.Settings.Sampling.Temperature}}, seed {{$r.Settings.Sampling.Seed}}, chat template {{$r.Settings.ChatTemplate}}</td></tr>
{{range $r.Generator.Notes}}<tr><th>note</th><td>{{.}}</td></tr>{{end}}
<tr><th>passed</th><td><b>{{$r.Summary.Passed}} / {{sub $r.Summary.Total $r.Summary.NotRun}} ({{pct $r.Summary.PassRate}})</b>, failed {{$r.Summary.Failed}}, errors {{$r.Summary.Errors}}{{if $r.Partial}}, <b>interrupted: {{$r.Summary.NotRun}} not run</b>{{end}}</td></tr>
{{with $d.Comparison}}<tr><th>vs baseline</th><td>{{pct $d.Baseline.Summary.PassRate}} → {{pct $r.Summary.PassRate}}; <b>{{.Regressed}} regressed</b>, {{.Improved}} improved, {{.Changed}} answers changed</td></tr>{{end}}
<tr><th>throughput</th><td>{{$r.Throughput.GeneratedTokens}} tokens in {{printf "%.2f" $r.WallSeconds}} s = {{printf "%.1f" $r.Throughput.TokensPerSecond}} tok/s</td></tr>
<tr><th>by language</th><td>{{range $r.Summary.ByLang}}{{.Key}} {{.Passed}}/{{.Total}} &nbsp; {{end}}</td></tr>
</table>
<h2>Pass rate by tag</h2>
{{.Chart}}
<h2>Cases, failures first</h2>
{{range .Cases}}<div class="case {{.Class}}" id="case-{{.C.ID}}">
<div><span class="badge {{.Class}}">{{mark .C.Status}}{{if .Change}} · {{.Change}}{{end}}</span> <b>{{.C.ID}}</b> [{{.C.Lang}}] {{range .C.Tags}}<span class="tag">{{.}}</span>{{end}} score {{printf "%.2f" .C.Score}}, {{.C.Tokens}} tokens{{if .C.StopReason}} ({{.C.StopReason}}){{end}}</div>
<div>Prompt:</div><pre>{{.C.Prompt}}</pre>
<div class="cols{{if not .B}} one{{end}}">
{{if .B}}<div><div>Baseline <b>{{$d.Baseline.Label}}</b>: <span class="badge {{.B.Status}}">{{mark .B.Status}}</span></div><pre>{{.B.Answer}}</pre>
<ul class="checks">{{range .B.Checks}}{{if not .Pass}}<li class="bad">{{.Check}}: {{.Detail}}</li>{{end}}{{end}}</ul></div>{{end}}
<div><div>{{if .B}}Run <b>{{$r.Label}}</b>: <span class="badge {{.C.Status}}">{{mark .C.Status}}</span>{{else}}Answer:{{end}}</div><pre>{{.C.Answer}}</pre>
{{if .C.Error}}<div class="badge error">error: {{.C.Error}}</div>{{end}}
<ul class="checks">{{range .Failed}}<li class="bad">{{.Check}}: {{.Detail}}{{range .Evidence}}<div class="evi">{{ev .}}</div>{{end}}</li>{{end}}{{range .Passed}}<li class="good">{{.Check}}: {{.Detail}}{{range .Evidence}}<div class="evi">{{ev .}}</div>{{end}}</li>{{end}}</ul></div>
</div></div>
{{end}}
<p style="color:#777;font-size:12px">{{$d.Tool}} · schema {{$d.Schema}} v{{$d.SchemaVersion}} · {{$d.Created.Format "2006-01-02 15:04:05 MST"}}</p>
</body></html>
`))
