// Package progress draws progress bars for long work on a terminal (stderr).
// Libraries never print: they report through a func(done, total int64)
// callback, and the command line turns that into a Bar.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// Unit says how Bar formats counts.
type Unit int

const (
	Bytes Unit = iota // counts are bytes: shown as MB, with MB/s
	Items             // counts are items (tensors, cases, examples)
)

// Bar renders progress on w, at most every 100 ms. On a terminal it redraws
// one line; elsewhere (a pipe, CI log) it prints a line every 10%.
// A nil *Bar is valid and draws nothing. Bar is safe for concurrent Update calls.
type Bar struct {
	mu       sync.Mutex
	w        io.Writer
	label    string
	unit     Unit
	tty      bool
	start    time.Time
	last     time.Time
	lastPct  int
	finished bool
}

// New returns a Bar that writes to w. When quiet is true it returns nil.
func New(w io.Writer, label string, unit Unit, quiet bool) *Bar {
	if quiet || w == nil {
		return nil
	}
	tty := false
	if f, ok := w.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	return &Bar{w: w, label: label, unit: unit, tty: tty, start: time.Now(), lastPct: -100}
}

// Update reports done of total (total <= 0 means unknown).
func (b *Bar) Update(done, total int64) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished {
		return
	}
	now := time.Now()
	pct := -1
	if total > 0 {
		pct = int(100 * done / total)
	}
	if b.tty {
		if now.Sub(b.last) < 100*time.Millisecond && done != total {
			return
		}
		b.last = now
		fmt.Fprintf(b.w, "\r\033[K%s", b.line(done, total, now))
		return
	}
	if pct >= 0 && pct/10 == b.lastPct/10 && (done != total || b.lastPct == 100) {
		return
	}
	if pct < 0 && now.Sub(b.last) < 5*time.Second {
		return
	}
	b.last = now
	b.lastPct = pct
	fmt.Fprintln(b.w, b.line(done, total, now))
}

// Func returns b.Update as a callback for library options.
func (b *Bar) Func() func(done, total int64) {
	if b == nil {
		return nil
	}
	return b.Update
}

// Finish ends the bar's line. Safe to call more than once.
func (b *Bar) Finish() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished {
		return
	}
	b.finished = true
	if b.tty {
		fmt.Fprintln(b.w)
	}
}

func (b *Bar) line(done, total int64, now time.Time) string {
	el := now.Sub(b.start).Seconds()
	var sb strings.Builder
	sb.WriteString(b.label)
	sb.WriteString(" ")
	if total > 0 {
		frac := float64(done) / float64(total)
		const width = 24
		n := int(frac * width)
		if n > width {
			n = width
		}
		sb.WriteString("[" + strings.Repeat("=", n) + strings.Repeat(" ", width-n) + "] ")
		fmt.Fprintf(&sb, "%3.0f%% ", 100*frac)
	}
	switch b.unit {
	case Bytes:
		fmt.Fprintf(&sb, "%s", FormatBytes(done))
		if total > 0 {
			fmt.Fprintf(&sb, "/%s", FormatBytes(total))
		}
		if el > 0 {
			fmt.Fprintf(&sb, " %.1f MB/s", float64(done)/1e6/el)
		}
	default:
		fmt.Fprintf(&sb, "%d", done)
		if total > 0 {
			fmt.Fprintf(&sb, "/%d", total)
		}
	}
	if total > 0 && done > 0 && done < total && el > 0 {
		eta := time.Duration(el * float64(total-done) / float64(done) * float64(time.Second))
		fmt.Fprintf(&sb, " ETA %s", eta.Round(time.Second))
	}
	return sb.String()
}

// FormatBytes formats n bytes with a decimal unit (kB, MB, GB).
func FormatBytes(n int64) string {
	const k = 1000
	switch {
	case n >= k*k*k:
		return fmt.Sprintf("%.2f GB", float64(n)/(k*k*k))
	case n >= k*k:
		return fmt.Sprintf("%.1f MB", float64(n)/(k*k))
	case n >= k:
		return fmt.Sprintf("%.1f kB", float64(n)/k)
	}
	return fmt.Sprintf("%d B", n)
}

// FormatCount writes a count of parameters (or other things) in decimal
// units with llama.cpp's and gguf-py's suffixes: 8.03B, 20.97M, 260.1K, 512.
func FormatCount(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2fB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.2fM", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fK", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}
