//go:build cgo

package cli

import (
	"context"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sattva/sattva/llamacpp"
)

// bufferLog collects llama.cpp's "<buffer> <kind> buffer size = N MiB" log
// lines: the exact sizes of the buffers it allocated.
type bufferLog struct {
	mu      sync.Mutex
	buffers map[string]float64
	fa      string
}

var bufferLine = regexp.MustCompile(`^\S+:\s+(\S+)\s+(model|KV|compute|output|LoRA) buffer size\s*=\s*([0-9.]+) MiB`)

func (b *bufferLog) Enabled(context.Context, slog.Level) bool { return true }
func (b *bufferLog) WithAttrs([]slog.Attr) slog.Handler       { return b }
func (b *bufferLog) WithGroup(string) slog.Handler            { return b }
func (b *bufferLog) Handle(_ context.Context, r slog.Record) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if m := bufferLine.FindStringSubmatch(r.Message); m != nil {
		v, err := strconv.ParseFloat(m[3], 64)
		if err == nil {
			b.buffers[m[1]+" "+m[2]] += v
		}
	}
	if strings.Contains(r.Message, "Flash Attention was auto, set to") {
		b.fa = strings.TrimSpace(r.Message[strings.LastIndex(r.Message, " ")+1:])
	}
	return nil
}

// measureRun loads the model and a context as plan run describes them,
// decodes one full batch (so that the CUDA pool and cuBLAS are set up as in
// real use) and returns what llama.cpp allocated. release frees both.
func measureRun(ctx context.Context, path string, o *planRunOptions) (*runMeasurement, func(), error) {
	bl := &bufferLog{buffers: map[string]float64{}}
	devs, err := llamacpp.InitBackends("", slog.New(bl))
	if err != nil {
		return nil, nil, err
	}
	meas := &runMeasurement{Device: "CPU", FlashAttn: o.FlashAttn}
	for _, d := range devs {
		if d.Kind == "GPU" || d.Kind == "IGPU" {
			meas.Device, meas.FreeBefore, meas.Total = d.Name+" ("+d.Description+")", d.FreeBytes, d.TotalBytes
			break
		}
	}
	mo := llamacpp.ModelOptions{GPULayers: o.NGL}
	switch {
	case o.NGL == 0:
		mo.CPUOnly = true
	case o.NGL < 0:
		mo.GPULayers = -1
	}
	start := time.Now()
	m, err := llamacpp.Load(path, mo)
	if err != nil {
		return nil, nil, err
	}
	co := llamacpp.ContextOptions{ContextSize: o.Ctx, Parallel: o.Parallel, UBatchSize: o.UBatch, UnifiedKV: o.Unified, KVCacheType: o.CacheType}
	switch o.FlashAttn {
	case "on":
		co.FlashAttention = llamacpp.FlashAttentionOn
	case "off":
		co.FlashAttention = llamacpp.FlashAttentionOff
	}
	c, err := m.NewContext(co)
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	release := func() { c.Close(); m.Close() }
	if _, err := c.Bench(ctx, llamacpp.BenchOptions{PromptTokens: min(max(o.UBatch, 1), c.ContextSize()), GenTokens: 1, Repetitions: 1}); err != nil {
		release()
		return nil, nil, err
	}
	meas.LoadSec = time.Since(start).Seconds()
	bl.mu.Lock()
	defer bl.mu.Unlock()
	meas.Buffers = bl.buffers
	if bl.fa != "" {
		meas.FlashAttn = bl.fa
	}
	onCPU := meas.Device == "CPU" // no GPU: compare with every buffer but the host logits
	for k, v := range bl.buffers {
		dev, kind, _ := strings.Cut(k, " ")
		if onCPU && kind != "output" || !strings.Contains(dev, "CPU") && !strings.Contains(dev, "Host") {
			meas.GPUBytes += int64(v * (1 << 20))
		}
	}
	return meas, release, nil
}
