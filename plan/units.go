package plan

import (
	"fmt"
	"strconv"
	"strings"
)

// Byte units.
const (
	KiB int64 = 1 << 10
	MiB int64 = 1 << 20
	GiB int64 = 1 << 30
)

// ParseBytes reads a memory size: "12GB", "12 GiB", "11.5G", "800MB", "4096M",
// or a plain number of bytes. GB and MB are taken as GiB and MiB, as GPU
// makers label cards (a "12 GB" card has 12 GiB).
func ParseBytes(s string) (int64, error) {
	t := strings.TrimSpace(strings.ToUpper(s))
	mult := int64(1)
	for _, u := range []struct {
		suf string
		m   int64
	}{{"GIB", GiB}, {"GB", GiB}, {"G", GiB}, {"MIB", MiB}, {"MB", MiB}, {"M", MiB}, {"KIB", KiB}, {"KB", KiB}, {"K", KiB}, {"B", 1}} {
		if strings.HasSuffix(t, u.suf) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suf)), u.m
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 || v*float64(mult) > 1<<60 {
		return 0, fmt.Errorf("plan: %q is not a memory size (like 12GB or 800MB)", s)
	}
	return int64(v * float64(mult)), nil
}

// FormatBytes prints n in GiB with two decimals, or MiB below 1 GiB (one
// decimal below 100 MiB).
func FormatBytes(n int64) string {
	switch {
	case n >= GiB || n <= -GiB:
		return fmt.Sprintf("%.2f GiB", float64(n)/float64(GiB))
	case n >= 100*MiB || n <= -100*MiB || n == 0:
		return fmt.Sprintf("%.0f MiB", float64(n)/float64(MiB))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/float64(MiB))
}

// Term is one named part of an estimate, with the formula that gives it.
type Term struct {
	Name    string `json:"name"`
	Bytes   int64  `json:"bytes"`
	Formula string `json:"formula"`
}
