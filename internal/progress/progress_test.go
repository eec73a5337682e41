package progress

import (
	"bytes"
	"strings"
	"testing"
)

func TestBarNonTTYPrintsTenthsAndFinal(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, "convert", Items, false)
	for i := int64(0); i <= 100; i++ {
		b.Update(i, 100)
	}
	b.Update(100, 100) // a second report of the end prints nothing more
	b.Finish()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 11 {
		t.Fatalf("got %d lines, want 11 (0%%..100%% by tenths):\n%s", len(lines), buf.String())
	}
	if !strings.Contains(lines[10], "100/100") {
		t.Errorf("last line %q lacks 100/100", lines[10])
	}
}

func TestNilBarIsSafe(t *testing.T) {
	var b *Bar
	b.Update(1, 2)
	b.Finish()
	if b.Func() != nil {
		t.Fatal("nil bar must give a nil callback")
	}
	if New(&bytes.Buffer{}, "x", Bytes, true) != nil {
		t.Fatal("quiet bar must be nil")
	}
}

func TestFormatBytes(t *testing.T) {
	for _, c := range []struct {
		n    int64
		want string
	}{{12, "12 B"}, {1500, "1.5 kB"}, {16_060_000_000, "16.06 GB"}} {
		if got := FormatBytes(c.n); got != c.want {
			t.Errorf("FormatBytes(%d) = %q, want %q", c.n, got, c.want)
		}
	}
}
