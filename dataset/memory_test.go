package dataset

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/sattva/sattva/numerology"
)

// generatedFile writes n generated examples (distinct dates) to a temporary
// file, so that neither the input nor the generator's state is in memory
// while the file is validated.
func generatedFile(t *testing.T, n int) string {
	seq, err := numerology.Examples(numerology.GenOptions{N: n, Seed: 5, RussianShare: 0.5,
		From: numerology.Date{Year: 1000, Month: 1, Day: 1}, To: numerology.Date{Year: 9999, Month: 12, Day: 31}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "gen.jsonl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	bw := bufio.NewWriter(f)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for ex := range seq {
		enc.Encode(ex)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// peakHeap validates a file of n generated examples and returns the peak of live heap
// objects sampled every few milliseconds, and the bytes read.
func peakHeap(t *testing.T, n int, o Options) (peak uint64, read int64) {
	path := generatedFile(t, n)
	runtime.GC()
	// the live heap marked by the last GC; a GC runs every time the heap
	// doubles, so its peak is the working set
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	var mu sync.Mutex
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			metrics.Read(sample)
			mu.Lock()
			peak = max(peak, sample[0].Value.Uint64())
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	v := NewValidator(o)
	if err := v.ValidateFile(context.Background(), path); err != nil {
		t.Fatal(err)
	}
	close(stop)
	<-done
	if r := v.Report(); r.Errors != 0 || r.Examples != int64(n) {
		t.Fatalf("%d examples, %d errors", r.Examples, r.Errors)
	}
	return peak, v.Report().Bytes
}

// TestValidateMemoryFlat: without the duplicate index the peak heap does not
// grow with the input; with it, it grows by a bounded number of bytes per
// example (the index), not with the size of the examples.
func TestValidateMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 60 MB")
	}
	const small, large = 20_000, 200_000
	ps, bs := peakHeap(t, small, Options{NoDuplicates: true, Workers: 2})
	pl, bl := peakHeap(t, large, Options{NoDuplicates: true, Workers: 2})
	t.Logf("no duplicate index: %d examples (%.1f MB): peak heap %.1f MB; %d examples (%.1f MB): %.1f MB",
		small, float64(bs)/1e6, float64(ps)/1e6, large, float64(bl)/1e6, float64(pl)/1e6)
	// Flat means bounded by the workers' buffers, not the input: 10× the
	// input may cost at most twice the small run's peak (GC timing and the
	// answer reader's per-example garbage move the peak by a few MB).
	if pl > 2*ps+4<<20 {
		t.Errorf("peak heap grew from %d to %d bytes for 10× the input", ps, pl)
	}
	ds, _ := peakHeap(t, small, Options{Workers: 2})
	dl, _ := peakHeap(t, large, Options{Workers: 2})
	perExample := float64(int64(dl)-int64(ds)) / float64(large-small)
	t.Logf("with duplicate index: peak heap %.1f MB and %.1f MB: %.0f bytes per example", float64(ds)/1e6, float64(dl)/1e6, perExample)
	// The index holds a 16-byte hash and a line number per example in a Go
	// map (about 65 bytes with the map's own overhead); 128 leaves room for
	// the peak-heap measurement's noise, and a map of whole lines (hundreds
	// of bytes per example) still fails.
	if perExample > 128 {
		t.Errorf("duplicate index costs %.0f bytes per example, want ≤ 128", perExample)
	}
}
