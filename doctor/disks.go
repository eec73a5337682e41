package doctor

import (
	"fmt"
	"os"
	"path/filepath"
)

// Disk thresholds: an 8B export keeps the merged HF model (16 GB), the F16
// GGUF (16 GB), q4_K_M (4.9 GB) and q8_0 (8.5 GB) beside the 16 GB base.
const (
	diskWarn = 50 << 30
	diskFail = 10 << 30
)

func checkDisks(r *Report, o *Options) {
	seen := map[string]bool{}
	for _, d := range o.Disks {
		p := nearestExisting(d)
		c := Check{ID: "disk:" + d, Stage: StageDisk, Facts: map[string]string{"path": p}}
		free, total, err := diskFree(p)
		if err != nil {
			c.Status, c.Summary = Warn, fmt.Sprintf("free space at %s unknown: %v", d, err)
			r.add(c)
			continue
		}
		if key := volumeID(p); key != "" {
			if seen[key] {
				continue // same file system as a folder already reported
			}
			seen[key] = true
		}
		c.Facts["free_bytes"] = fmt.Sprint(free)
		c.Facts["total_bytes"] = fmt.Sprint(total)
		c.Summary = fmt.Sprintf("%s free at %s (of %s)", gib(free), d, gib(total))
		switch {
		case free < diskFail:
			c.Status = Fail
			c.Fix = "free space: an 8B model needs about 16 GB for the base and 50 GB more for merge and export (merged, F16 GGUF, q4_K_M, q8_0)"
		case free < diskWarn:
			c.Status = Warn
			c.Fix = "an 8B export needs about 50 GB (merged model 16 GB, F16 GGUF 16 GB, q4_K_M 4.9 GB, q8_0 8.5 GB); delete old exports or use export.types: [q4_K_M]"
		default:
			c.Status = OK
		}
		r.add(c)
	}
}

// nearestExisting returns p or its nearest existing parent.
func nearestExisting(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	for {
		if _, err := os.Stat(abs); err == nil {
			return abs
		}
		parent := filepath.Dir(abs)
		if parent == abs {
			return abs
		}
		abs = parent
	}
}

// forOS picks the hint for the platform the checks run for.
func forOS(goos, windows, other string) string {
	if goos == "windows" {
		return windows
	}
	return other
}
