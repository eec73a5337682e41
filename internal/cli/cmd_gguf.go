package cli

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/sattva/sattva/gguf"
)

// newGGUFCmd is the parent of the GGUF file commands: inspect, diff, set.
func newGGUFCmd(s *Streams) *cobra.Command {
	c := &cobra.Command{
		Use:   "gguf",
		Short: "Inspect, compare and edit GGUF model files",
		Long: "Inspect, compare and edit GGUF files (the model format of llama.cpp and Ollama)\n" +
			"without loading the model: only metadata is read, tensors are hashed when compared.",
	}
	c.AddCommand(newGGUFInspectCmd(s), newGGUFDiffCmd(s), newGGUFSetCmd(s))
	return c
}

// ggufArgs makes a wrong number of arguments a usage error (exit 2);
// cobra's own validators return plain errors.
func ggufArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if err := check(c, args); err != nil {
			return &UsageError{Err: err}
		}
		return nil
	}
}

// ggufName is a key or tensor name safe to print: quoted when it holds
// anything but printable characters (a hostile file may carry tabs that break
// the table or escape sequences for the terminal).
func ggufName(s string) string {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

// ggufSmall reports whether path is a file small enough (under 256 MB) to
// need no progress bar.
func ggufSmall(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Size() < 256<<20
}

// ggufBytes formats a byte count for people: "1.05 MB", "512 B".
func ggufBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f, exp := float64(n), 0
	for f >= unit && exp < 5 {
		f /= unit
		exp++
	}
	return fmt.Sprintf("%.2f %cB", f, "kMGTP"[exp-1])
}

// ggufCount formats a count with thousands separators: 260,416.
func ggufCount(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return s
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// ggufShape formats dims in GGUF order: [64, 512].
func ggufShape(dims []uint64) string {
	parts := make([]string, len(dims))
	for i, d := range dims {
		parts[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// ggufValueText is a value for a table cell: arrays summarised by
// Value.String, long strings cut at maxLen runes with their length noted,
// newlines shown as \n.
func ggufValueText(v gguf.Value, maxLen int) string {
	if s, ok := v.V.(string); ok && v.Type == gguf.ValueString {
		if head, cut := firstRunes(s, maxLen); cut {
			q := fmt.Sprintf("%q", head)
			return q[:len(q)-1] + "…\" (" + ggufCount(int64(len(s))) + " bytes)"
		}
		return fmt.Sprintf("%q", s)
	}
	t := v.String()
	if head, cut := firstRunes(t, 4*maxLen); cut {
		t = head + "…"
	}
	return t
}

// firstRunes returns the first n runes of s and whether s is longer,
// without converting s (a value may be tens of megabytes) to runes.
func firstRunes(s string, n int) (string, bool) {
	i := 0
	for k := 0; k < n; k++ {
		if i >= len(s) {
			return s, false
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return s[:i], i < len(s)
}

// ggufJSONValue turns v into something encoding/json writes faithfully:
// full arrays ([]uint8 as numbers, not base64), non-finite floats as the
// strings "NaN", "Infinity", "-Infinity".
func ggufJSONValue(v gguf.Value) any {
	if v.Type != gguf.ValueArray {
		switch x := v.V.(type) {
		case float32:
			return ggufJSONFloat(float64(x))
		case float64:
			return ggufJSONFloat(x)
		}
		return v.V
	}
	switch x := v.V.(type) {
	case []string, []bool, []int8, []uint16, []int16, []uint32, []int32, []uint64, []int64:
		return x
	}
	out := make([]any, 0, max(v.Len(), 0))
	for i := range v.Len() {
		e, _ := v.Index(i)
		out = append(out, ggufJSONValue(e))
	}
	return out
}

func ggufJSONFloat(f float64) any {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return f
}
