package verify

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/sattva/sattva/internal/atomicfile"
)

var statusMark = map[string]string{Pass: "PASS", Warn: "WARN", Fail: "FAIL", Skip: "SKIP"}

// WriteText prints one line per check with its evidence indented below.
func (r *Report) WriteText(w io.Writer, verbose bool) {
	for _, c := range r.Checks {
		fmt.Fprintf(w, "%s  %-9s %-28s %s\n", statusMark[c.Status], c.Gate, c.Name, c.Detail)
		if verbose || c.Status == Fail || c.Status == Warn {
			for _, e := range c.Evidence {
				for _, l := range strings.Split(e, "\n") {
					fmt.Fprintf(w, "      %s\n", l)
				}
			}
		}
	}
	n := map[string]int{}
	for _, c := range r.Checks {
		n[c.Status]++
	}
	verdict := "every gate passed"
	if r.Failed {
		verdict = "a gate failed"
	}
	fmt.Fprintf(w, "verify: %s (%d pass, %d warn, %d fail, %d skip) in %.1fs\n", verdict, n[Pass], n[Warn], n[Fail], n[Skip], r.Seconds)
}

// WriteFiles writes verify.json, verify.md and verify.html into dir and
// returns their paths.
func (r *Report) WriteFiles(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	j, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{"verify.json": append(j, '\n'), "verify.md": []byte(r.Markdown()), "verify.html": []byte(r.HTML())}
	var out []string
	for _, name := range []string{"verify.json", "verify.md", "verify.html"} {
		p := filepath.Join(dir, name)
		if err := atomicfile.WriteFile(p, files[name], 0o644); err != nil {
			return out, err
		}
		out = append(out, p)
	}
	return out, nil
}

func mdCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

// Markdown is the report as a Markdown document.
func (r *Report) Markdown() string {
	var b strings.Builder
	verdict := "every gate passed"
	if r.Failed {
		verdict = "**a gate failed**"
	}
	fmt.Fprintf(&b, "# sattva verify\n\n- model: `%s`\n- Modelfile: `%s`\n- created: %s\n- result: %s\n\n", r.Model, r.Modelfile, r.Created, verdict)
	b.WriteString("| status | gate | check | detail |\n| --- | --- | --- | --- |\n")
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", statusMark[c.Status], c.Gate, mdCell(c.Name), mdCell(c.Detail))
	}
	if d := r.FirstDiff(); d != nil {
		fmt.Fprintf(&b, "\n## First template mismatch\n\n```\n%s\n```\n", d.String())
	}
	if len(r.KL) > 0 {
		fmt.Fprintf(&b, "\n## KL divergence\n\nexamples: %s\n\n| model | mean KLD | p99 KLD | max KLD | top-1 | PPL ratio | tokens | status |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n", r.Examples)
		for _, k := range r.KL {
			s := k.Stats
			fmt.Fprintf(&b, "| %s | %.5f | %.5f | %.4f | %.2f%% | %.4f | %d | %s |\n", k.Name, s.MeanKLD, s.P99KLD, s.MaxKLD, 100*s.Top1, s.PPLRatio, s.Tokens, statusMark[k.Status])
		}
	}
	return b.String()
}

var statusColor = map[string]string{Pass: "#1a7f37", Warn: "#9a6700", Fail: "#cf222e", Skip: "#6e7781"}

// HTML is the report as one self-contained page: each gate's checks, the
// diff of the first template mismatch, and the KL distribution per model
// as an inline SVG chart.
func (r *Report) HTML() string {
	var b strings.Builder
	e := html.EscapeString
	b.WriteString(`<!doctype html><html><head><meta charset="utf-8"><title>sattva verify</title><style>
body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top;text-align:left}
.st{font-weight:bold;color:#fff;border-radius:3px;padding:1px 6px}pre{background:#f6f8fa;padding:8px;overflow-x:auto}.ev{color:#555;font-size:90%;white-space:pre-wrap}.diff b{background:#ffd7d5}
</style></head><body>`)
	verdict := `<span class="st" style="background:#1a7f37">every gate passed</span>`
	if r.Failed {
		verdict = `<span class="st" style="background:#cf222e">a gate failed</span>`
	}
	fmt.Fprintf(&b, "<h1>sattva verify</h1><p>model <code>%s</code><br>Modelfile <code>%s</code><br>%s · %.1fs · %s</p>", e(r.Model), e(r.Modelfile), e(r.Created), r.Seconds, verdict)
	for _, g := range []string{GateTemplate, GateEOT, GateSampling, GateNumbers} {
		fmt.Fprintf(&b, "<h2>%s</h2><table><tr><th>status</th><th>check</th><th>detail and evidence</th></tr>", e(gateTitle[g]))
		for _, c := range r.Checks {
			if c.Gate != g {
				continue
			}
			fmt.Fprintf(&b, `<tr><td><span class="st" style="background:%s">%s</span></td><td>%s</td><td>%s`, statusColor[c.Status], statusMark[c.Status], e(c.Name), e(c.Detail))
			if len(c.Evidence) > 0 {
				fmt.Fprintf(&b, `<div class="ev">%s</div>`, e(strings.Join(c.Evidence, "\n")))
			}
			b.WriteString("</td></tr>")
		}
		b.WriteString("</table>")
	}
	if d := r.FirstDiff(); d != nil {
		fmt.Fprintf(&b, "<h2>First template mismatch</h2><p>%s against %s on %q, token %d (%d against %d tokens); 20 tokens of context each side, the first differing token marked.</p>",
			e(d.PairA), e(d.PairB), d.Conversation, d.Index, d.ALen, d.BLen)
		side := func(name string, toks []string) {
			fmt.Fprintf(&b, `<p><b>%s</b></p><pre class="diff">`, e(name))
			for j, p := range toks {
				q := e(fmt.Sprintf("%q", p))
				q = q[len("&#34;") : len(q)-len("&#34;")]
				if d.Start+j == d.Index {
					fmt.Fprintf(&b, "<b>%s</b>·", q)
				} else {
					fmt.Fprintf(&b, "%s·", q)
				}
			}
			if d.Start+len(toks) == d.Index {
				b.WriteString("<b>&lt;end&gt;</b>")
			}
			b.WriteString("</pre>")
		}
		side(d.A, d.ATokens)
		side(d.B, d.BTokens)
	}
	if len(r.KL) > 0 {
		fmt.Fprintf(&b, "<h2>KL divergence per token</h2><p>examples: %s</p>", e(r.Examples))
		b.WriteString(klChart(r.KL))
		b.WriteString("<table><tr><th>model</th><th>mean KLD</th><th>p99</th><th>max</th><th>top-1</th><th>PPL ratio</th><th>tokens</th><th>threshold</th><th>status</th></tr>")
		for _, k := range r.KL {
			s, t := k.Stats, k.Threshold
			fmt.Fprintf(&b, `<tr><td>%s</td><td>%.5f</td><td>%.5f</td><td>%.4f</td><td>%.2f%%</td><td>%.4f</td><td>%d</td><td>mean ≤ %g, p99 ≤ %g, top-1 ≥ %g%%, PPL ≤ %g</td><td><span class="st" style="background:%s">%s</span></td></tr>`,
				e(k.Name), s.MeanKLD, s.P99KLD, s.MaxKLD, 100*s.Top1, s.PPLRatio, s.Tokens, t.KLDMean, t.KLDP99, 100*t.Top1Min, t.PPLRatioMax, statusColor[k.Status], statusMark[k.Status])
		}
		b.WriteString("</table>")
	}
	b.WriteString("</body></html>\n")
	return b.String()
}

var gateTitle = map[string]string{GateTemplate: "Template parity (token level)", GateEOT: "End of turn and BOS", GateSampling: "Sampling parity", GateNumbers: "Numbers: KL divergence"}

// klChart draws each model's KLD quantiles (QuantileLevels()) as a line on a
// log scale: x the quantile level, y the KLD, with the mean threshold as a
// dashed line of the same colour.
func klChart(kl []KLResult) string {
	const W, H, L, R, T, B = 760, 300, 70, 150, 20, 40
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, k := range kl {
		for _, q := range k.Stats.Quantiles {
			if q > 0 {
				lo, hi = math.Min(lo, q), math.Max(hi, q)
			}
		}
		lo, hi = math.Min(lo, k.Threshold.KLDMean), math.Max(hi, k.Threshold.KLDP99)
	}
	if math.IsInf(lo, 0) || lo <= 0 {
		lo = 1e-6
	}
	lo = math.Pow(10, math.Floor(math.Log10(lo)))
	hi = math.Pow(10, math.Ceil(math.Log10(math.Max(hi, lo*10))))
	y := func(v float64) float64 {
		v = math.Max(v, lo)
		return T + (H-T-B)*(1-(math.Log10(v)-math.Log10(lo))/(math.Log10(hi)-math.Log10(lo)))
	}
	n := len(QuantileLevels())
	x := func(i int) float64 { return L + float64(i)*float64(W-L-R)/float64(n-1) }
	colors := []string{"#0969da", "#cf222e", "#1a7f37", "#8250df", "#bc4c00", "#6e7781", "#d4a72c"}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-size="11" font-family="sans-serif">`, W, H)
	for d := math.Log10(lo); d <= math.Log10(hi)+1e-9; d++ {
		yy := y(math.Pow(10, d))
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%d" y="%.1f" text-anchor="end">1e%d</text>`, L, W-R, yy, yy, L-4, yy+4, int(d))
	}
	for i, q := range quantileLevels {
		label := fmt.Sprintf("%g%%", 100*q)
		if q == 1 {
			label = "max"
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, x(i), H-B+16, label)
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">quantile of the per-token KL divergence</text>`, (L+W-R)/2, H-4)
	fmt.Fprintf(&b, `<text x="12" y="%d" transform="rotate(-90 12 %d)" text-anchor="middle">KLD (log)</text>`, (T+H-B)/2, (T+H-B)/2)
	for ki, k := range kl {
		c := colors[ki%len(colors)]
		var pts []string
		for i, q := range k.Stats.Quantiles {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(i), y(q)))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`, c, strings.Join(pts, " "))
		for i, q := range k.Stats.Quantiles {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"><title>%s %g: %.3g</title></circle>`, x(i), y(q), c, html.EscapeString(k.Name), quantileLevels[i], q)
		}
		ty := y(k.Threshold.KLDMean)
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="%s" stroke-dasharray="4 3"/>`, L, W-R, ty, ty, c)
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s (mean %.3g)</text>`, W-R+10, T+ki*16, c, W-R+24, T+ki*16+9, html.EscapeString(k.Name), k.Stats.MeanKLD)
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#555">dashed: mean-KLD threshold</text>`, W-R+10, T+len(kl)*16+12)
	b.WriteString("</svg>")
	return b.String()
}
