package quality

import (
	"fmt"
	"html"
	"math"
	"sort"
	"strings"
)

// Row is one quantization in a quality table.
type Row struct {
	Type          string // "Q4_K_M"
	IMatrix       bool   // quantized with an importance matrix
	BitsPerWeight float64
	Result
}

// Markdown writes the rows as a table: type, imatrix, bits per weight, mean
// KL divergence, top-1 agreement, positions.
func Markdown(rows []Row) string {
	var b strings.Builder
	b.WriteString("| type | imatrix | bits/weight | mean KLD | max KLD | top-1 agreement | positions |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		im := "no"
		if r.IMatrix {
			im = "yes"
		}
		fmt.Fprintf(&b, "| %s | %s | %.2f | %.6f | %.4f | %.2f%% | %d |\n", r.Type, im, r.BitsPerWeight, r.MeanKLD, r.MaxKLD, 100*r.Top1, r.Positions)
	}
	return b.String()
}

// SVG draws mean KL divergence (log scale) against bits per weight, one
// series without and one with the importance matrix, each point labelled
// with its type. The result is a standalone SVG document.
func SVG(title string, rows []Row) string {
	const w, h, ml, mr, mt, mb = 640.0, 400.0, 70.0, 20.0, 40.0, 50.0
	if len(rows) == 0 {
		return ""
	}
	minB, maxB := math.Inf(1), math.Inf(-1)
	minK, maxK := math.Inf(1), math.Inf(-1)
	for _, r := range rows {
		minB, maxB = math.Min(minB, r.BitsPerWeight), math.Max(maxB, r.BitsPerWeight)
		k := math.Max(r.MeanKLD, 1e-9)
		minK, maxK = math.Min(minK, k), math.Max(maxK, k)
	}
	if maxB-minB < 1e-9 {
		minB, maxB = minB-1, maxB+1
	}
	lo, hi := math.Floor(math.Log10(minK)), math.Ceil(math.Log10(maxK))
	if hi <= lo {
		hi = lo + 1
	}
	pad := (maxB - minB) * 0.08
	minB, maxB = minB-pad, maxB+pad
	x := func(v float64) float64 { return ml + (v-minB)/(maxB-minB)*(w-ml-mr) }
	y := func(k float64) float64 {
		return mt + (hi-math.Log10(math.Max(k, 1e-9)))/(hi-lo)*(h-mt-mb)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" viewBox="0 0 %g %g" font-family="sans-serif" font-size="11">`+"\n", w, h, w, h)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/><text x="%g" y="20" font-size="13">%s</text>`+"\n", ml, html.EscapeString(title))
	fmt.Fprintf(&b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="black"/><line x1="%g" y1="%g" x2="%g" y2="%g" stroke="black"/>`+"\n",
		ml, h-mb, w-mr, h-mb, ml, mt, ml, h-mb)
	for e := lo; e <= hi; e++ {
		yy := y(math.Pow(10, e))
		fmt.Fprintf(&b, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#ddd"/><text x="%g" y="%.1f" text-anchor="end">1e%d</text>`+"\n", ml, yy, w-mr, yy, ml-5, yy+4, int(e))
	}
	for t := math.Ceil(minB); t <= maxB; t++ {
		xx := x(t)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%g" x2="%.1f" y2="%g" stroke="black"/><text x="%.1f" y="%g" text-anchor="middle">%g</text>`+"\n", xx, h-mb, xx, h-mb+4, xx, h-mb+16, t)
	}
	fmt.Fprintf(&b, `<text x="%g" y="%g" text-anchor="middle">bits per weight</text>`+"\n", (ml+w-mr)/2, h-12)
	fmt.Fprintf(&b, `<text x="16" y="%g" transform="rotate(-90 16 %g)" text-anchor="middle">mean KL divergence vs F16 (nats)</text>`+"\n", (mt+h-mb)/2, (mt+h-mb)/2)
	for _, series := range []struct {
		im    bool
		color string
		name  string
	}{{false, "#d62728", "without imatrix"}, {true, "#1f77b4", "with imatrix"}} {
		var pts []Row
		for _, r := range rows {
			if r.IMatrix == series.im {
				pts = append(pts, r)
			}
		}
		sort.Slice(pts, func(i, j int) bool { return pts[i].BitsPerWeight < pts[j].BitsPerWeight })
		if len(pts) > 1 {
			var path []string
			for _, r := range pts {
				path = append(path, fmt.Sprintf("%.1f,%.1f", x(r.BitsPerWeight), y(r.MeanKLD)))
			}
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" points="%s"/>`+"\n", series.color, strings.Join(path, " "))
		}
		for _, r := range pts {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="4" fill="%s"><title>%s%s: %.2f bpw, KLD %.6f, top-1 %.2f%%</title></circle>`+"\n",
				x(r.BitsPerWeight), y(r.MeanKLD), series.color, html.EscapeString(r.Type), map[bool]string{true: " (imatrix)", false: ""}[r.IMatrix], r.BitsPerWeight, r.MeanKLD, 100*r.Top1)
			if !series.im {
				fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">%s</text>`+"\n", x(r.BitsPerWeight)+6, y(r.MeanKLD)-6, html.EscapeString(r.Type))
			}
		}
	}
	fmt.Fprintf(&b, `<circle cx="%g" cy="%g" r="4" fill="#d62728"/><text x="%g" y="%g">without imatrix</text>`+"\n", w-mr-150, mt+6, w-mr-142, mt+10)
	fmt.Fprintf(&b, `<circle cx="%g" cy="%g" r="4" fill="#1f77b4"/><text x="%g" y="%g">with imatrix</text>`+"\n", w-mr-150, mt+22, w-mr-142, mt+26)
	b.WriteString("</svg>\n")
	return b.String()
}

// HTML is a standalone page with the chart (inline SVG) and the table.
func HTML(title string, rows []Row) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>%s</title>\n", html.EscapeString(title))
	b.WriteString("<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left}</style></head><body>\n")
	fmt.Fprintf(&b, "<h1>%s</h1>\n", html.EscapeString(title))
	b.WriteString(SVG(title, rows))
	b.WriteString("<table><tr><th>type</th><th>imatrix</th><th>bits/weight</th><th>mean KLD</th><th>max KLD</th><th>top-1 agreement</th><th>positions</th></tr>\n")
	for _, r := range rows {
		im := "no"
		if r.IMatrix {
			im = "yes"
		}
		fmt.Fprintf(&b, "<tr><td>%s</td><td>%s</td><td>%.2f</td><td>%.6f</td><td>%.4f</td><td>%.2f%%</td><td>%d</td></tr>\n",
			html.EscapeString(r.Type), im, r.BitsPerWeight, r.MeanKLD, r.MaxKLD, 100*r.Top1, r.Positions)
	}
	b.WriteString("</table>\n<p>KL(P<sub>F16</sub> ‖ P<sub>quant</sub>) of the next-token distributions over every position of the held-out examples, in nats.</p>\n</body></html>\n")
	return b.String()
}
