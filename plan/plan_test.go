package plan

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/internal/fixture"
)

func TestPresetCounts(t *testing.T) {
	s, _ := Preset("llama3.1-8b")
	// Meta's Llama-3.1-8B has 8,030,261,248 parameters.
	if got := s.Params(); got != 8030261248 {
		t.Fatalf("8B params %d", got)
	}
	e, err := EstimateTrain(TrainConfig{Shape: s, Method: QLoRA, Rank: 16, Cutoff: 2048, Batch: 1, GradCheckpointing: true})
	if err != nil {
		t.Fatal(err)
	}
	// PEFT prints "trainable params: 41,943,040" for r=16 on all seven projections.
	if e.LoRAParams != 41943040 {
		t.Fatalf("LoRA params %d", e.LoRAParams)
	}
	s1, _ := Preset("llama3.2-1b") // 1,235,814,400 parameters, tied embeddings
	if got := s1.Params(); got != 1235814400 {
		t.Fatalf("1B params %d", got)
	}
}

func TestShapeFromHFConfig(t *testing.T) {
	s, err := ShapeFromDir(fixture.Path(t, "llama31-tiny/hf"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Layers != 2 || s.Hidden != 16 || s.Heads != 2 || s.KVHeads != 1 || s.FFN != 48 || s.Vocab != 128256 || s.TiedEmbd || s.HeadDim != 8 {
		t.Fatalf("%+v", s)
	}
	if _, err := ShapeFromHFConfig(strings.NewReader(`{"model_type":"mamba"}`)); err == nil {
		t.Fatal("mamba accepted")
	}
	if _, err := ShapeFromHFConfig(strings.NewReader(`{"model_type":"llama","hidden_size":0}`)); err == nil {
		t.Fatal("zero shape accepted")
	}
}

func base8B(t *testing.T) TrainConfig {
	s, _ := Preset("llama3.1-8b")
	return TrainConfig{Shape: s, Method: QLoRA, Rank: 16, Dropout: 0.05, Cutoff: 2048, Batch: 1, GradAccum: 8, GradCheckpointing: true}
}

func TestTrainEstimateShape(t *testing.T) {
	c := base8B(t)
	e, err := EstimateTrain(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("8B QLoRA r16 2048×1 GC: peak %s, device %s, phase %s", FormatBytes(e.Peak), FormatBytes(e.Device), e.Phase)
	for _, x := range e.Terms {
		t.Logf("  %-45s %10s  %s", x.Name, FormatBytes(x.Bytes), x.Formula)
	}
	// The user's plan: "8B + QLoRA usually fits 12–16 GB at seq_len≈2k, bs=1".
	if e.Device < 7*GiB || e.Device > 12*GiB {
		t.Fatalf("8B QLoRA at 2k on the card: %s, expected 7–12 GiB", FormatBytes(e.Device))
	}
	var sum int64
	for _, x := range e.Terms {
		sum += x.Bytes
	}
	if sum != e.Peak {
		t.Fatalf("terms add to %d, peak %d", sum, e.Peak)
	}
	if e.Measured {
		t.Fatal("the 4-bit path is never measured")
	}
	// 4-bit base weights of 8B: about 5.7 GB as bitsandbytes loads it.
	q := e.Terms[0].Bytes + e.Terms[1].Bytes
	if q < 5.2e9 || q > 5.9e9 {
		t.Fatalf("QLoRA base %d bytes", q)
	}

	// Monotone: more tokens, more memory; checkpointing saves memory; bf16 LoRA costs more than 4-bit.
	prev := int64(0)
	for _, b := range []int{1, 2, 4, 8} {
		x := c
		x.Batch = b
		e, _ := EstimateTrain(x)
		if e.Peak <= prev {
			t.Fatalf("batch %d: %d not above %d", b, e.Peak, prev)
		}
		prev = e.Peak
	}
	nogc := c
	nogc.GradCheckpointing = false
	e2, _ := EstimateTrain(nogc)
	if e2.Peak <= e.Peak+10*GiB {
		t.Fatalf("no checkpointing %s vs %s", FormatBytes(e2.Peak), FormatBytes(e.Peak))
	}
	lora := c
	lora.Method = LoRA
	e3, _ := EstimateTrain(lora)
	if e3.Peak-e.Peak < 9*GiB || !e3.Measured {
		t.Fatalf("bf16 LoRA %s vs QLoRA %s", FormatBytes(e3.Peak), FormatBytes(e.Peak))
	}
	drop := c
	drop.Dropout = 0
	e4, _ := EstimateTrain(drop)
	if e4.Peak > e.Peak {
		t.Fatal("dropout 0 costs more")
	}
}

func TestTrainActivationsByHand(t *testing.T) {
	// A tiny shape where every term can be checked by hand, without
	// checkpointing so that the saved activations appear in full.
	s := ModelShape{Name: "t", Layers: 2, Hidden: 8, Heads: 2, KVHeads: 1, HeadDim: 4, FFN: 16, Vocab: 10}
	c := TrainConfig{Shape: s, Method: LoRA, Rank: 2, Cutoff: 3, Batch: 1, Targets: []string{"q_proj", "down_proj"}}
	e, err := EstimateTrain(c)
	if err != nil {
		t.Fatal(err)
	}
	// per token per layer: 8h+8 + 4qd + 4kvd + 4heads + 6f = 64+8+32+16+8+96 = 224;
	// adapters: 2 × (8 + 16) + 2 × r × 2 = 48 + 8 = 56.
	want := int64((224 + 56) * 3 * 2)
	var got int64 = -1
	for _, x := range e.Terms {
		if x.Name == "saved activations" {
			got = x.Bytes
		}
	}
	if got != want {
		t.Fatalf("saved activations %d, want %d", got, want)
	}
	if e.LoRAParams != 2*(2*(8+8)+2*(16+8)) {
		t.Fatalf("LoRA params %d", e.LoRAParams)
	}
	c.Targets = []string{"w_proj"}
	if _, err := EstimateTrain(c); err == nil {
		t.Fatal("unknown target accepted")
	}
}

func TestFitTrain(t *testing.T) {
	c := base8B(t)
	fit, err := FitTrain(c, 12*GiB)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("12 GiB: %+v", fit)
	if !fit.Fits || fit.MaxBatch < 1 || fit.MaxCutoff < 2048 {
		t.Fatalf("%+v", fit)
	}
	check := func(x TrainConfig, fits bool) {
		t.Helper()
		e, _ := EstimateTrain(x)
		if (e.Device <= 12*GiB) != fits {
			t.Fatalf("batch %d cutoff %d: device %s, fits should be %v", x.Batch, x.Cutoff, FormatBytes(e.Device), fits)
		}
	}
	x := c
	x.Batch = fit.MaxBatch
	check(x, true)
	x.Batch++
	check(x, false)
	x = c
	x.Cutoff = fit.MaxCutoff
	check(x, true)
	x.Cutoff += 256
	check(x, false)

	small, _ := FitTrain(c, 4*GiB)
	if small.Fits || small.MaxBatch != 0 || small.MaxCutoff != 0 {
		t.Fatalf("4 GiB: %+v", small)
	}
}

func TestTrainTime(t *testing.T) {
	c := base8B(t)
	c.Examples, c.AvgTokens, c.Epochs, c.TFLOPS, c.MFU = 2000, 300, 2, 100, 0.5
	e, err := EstimateTrain(c)
	if err != nil {
		t.Fatal(err)
	}
	// 3 passes with checkpointing over 2000 × 300 tokens of ≈ 2 × 7.5 GFLOP each, ×1.35 for 4-bit.
	lin := float64(c.Shape.LinearParams() + int64(c.Shape.Vocab*c.Shape.Hidden))
	approx := 2 * lin * 3 * 600000 * 1.35 / 50e12
	if e.EpochSeconds < approx || e.EpochSeconds > approx*1.1 {
		t.Fatalf("epoch %.1fs, approx %.1fs", e.EpochSeconds, approx)
	}
	if e.StepsPerEpoch != 250 || math.Abs(e.TotalSeconds-2*e.EpochSeconds) > 1e-9 {
		t.Fatalf("steps %d total %f", e.StepsPerEpoch, e.TotalSeconds)
	}
}

func TestParseBytes(t *testing.T) {
	cases := map[string]int64{"12GB": 12 * GiB, "12 GiB": 12 * GiB, "11.5G": 11*GiB + GiB/2, "800MB": 800 * MiB, "4096m": 4096 * MiB, "1024": 1024}
	for in, want := range cases {
		if got, err := ParseBytes(in); err != nil || got != want {
			t.Errorf("%s: %d %v", in, got, err)
		}
	}
	for _, in := range []string{"", "GB", "-1GB", "twelve", "1e30GB"} {
		if _, err := ParseBytes(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

// llamaRunModel builds the tensor list of a Llama model as llama.cpp's
// llama-quantize lays out Q4_K_M (or every matrix in one type).
func llamaRunModel(t *testing.T, s ModelShape, ftype string) *RunModel {
	t.Helper()
	m := &RunModel{Arch: "llama", Layers: s.Layers, Embd: s.Hidden, Heads: s.Heads, KVHeads: s.KVHeads, KeyLen: s.HeadDim, ValueLen: s.HeadDim, FFN: s.FFN, Vocab: s.Vocab, CtxTrain: 131072}
	add := func(name string, layer int, typ gguf.Type, dims ...uint64) {
		n, err := gguf.TensorSize(typ, dims)
		if err != nil {
			t.Fatal(err)
		}
		m.Tensors = append(m.Tensors, RunTensor{Name: name, Bytes: n, Layer: layer})
	}
	h, f, v, kv := uint64(s.Hidden), uint64(s.FFN), uint64(s.Vocab), uint64(s.KVDim())
	mat, embT, outT := gguf.TypeF16, gguf.TypeF16, gguf.TypeF16
	if ftype == "q4_k_m" {
		mat, embT, outT = gguf.TypeQ4_K, gguf.TypeQ4_K, gguf.TypeQ6_K
	}
	n := s.Layers
	moreBits := func(i int) bool { return i < n/8 || i >= 7*n/8 || (i-n/8)%3 == 2 }
	add("token_embd.weight", LayerInput, embT, h, v)
	add("rope_freqs.weight", 0, gguf.TypeF32, 64)
	for i := range n {
		vd := mat
		if ftype == "q4_k_m" && moreBits(i) {
			vd = gguf.TypeQ6_K
		}
		p := fmt.Sprintf("blk.%d.", i)
		add(p+"attn_norm.weight", i, gguf.TypeF32, h)
		add(p+"attn_q.weight", i, mat, h, h)
		add(p+"attn_k.weight", i, mat, h, kv)
		add(p+"attn_v.weight", i, vd, h, kv)
		add(p+"attn_output.weight", i, mat, h, h)
		add(p+"ffn_norm.weight", i, gguf.TypeF32, h)
		add(p+"ffn_gate.weight", i, mat, h, f)
		add(p+"ffn_up.weight", i, mat, h, f)
		add(p+"ffn_down.weight", i, vd, f, h)
	}
	add("output_norm.weight", LayerOutput, gguf.TypeF32, h)
	add("output.weight", LayerOutput, outT, h, v)
	return m
}

func TestEstimateRunLlama8B(t *testing.T) {
	s, _ := Preset("llama3.1-8b")
	m := llamaRunModel(t, s, "q4_k_m")
	e, err := EstimateRun(m, RunConfig{Context: 8192, GPULayers: -1, FlashAttention: true})
	if err != nil {
		t.Fatal(err)
	}
	mib := func(b int64) float64 { return float64(b) / float64(MiB) }
	// llama.cpp's own log for Llama-3-8B Q4_K_M: "CPU buffer size = 281.81 MiB",
	// "CUDA0 buffer size = 4403.49 MiB"; KV at 8192 cells f16: 1024 MiB;
	// compute buffer with flash attention: 258.50 MiB.
	if math.Abs(mib(e.WeightsCPU)-281.81) > 0.01 {
		t.Errorf("CPU weights %.2f MiB", mib(e.WeightsCPU))
	}
	if math.Abs(mib(e.WeightsGPU)-4403.49)/4403.49 > 0.002 {
		t.Errorf("GPU weights %.2f MiB", mib(e.WeightsGPU))
	}
	if mib(e.KVGPU) != 1024 {
		t.Errorf("KV %.2f MiB", mib(e.KVGPU))
	}
	if mib(e.ComputeGPU) != 258.5 || e.ComputeStage != "output" {
		t.Errorf("compute %.2f MiB (%s)", mib(e.ComputeGPU), e.ComputeStage)
	}
	// q8_0 cache: 34/32 bytes an element; q4_0: 18/32.
	e8, _ := EstimateRun(m, RunConfig{Context: 8192, GPULayers: -1, FlashAttention: true, CacheK: "q8_0", CacheV: "q8_0"})
	e4, _ := EstimateRun(m, RunConfig{Context: 8192, GPULayers: -1, FlashAttention: true, CacheK: "q4_0", CacheV: "q4_0"})
	if mib(e8.KVGPU) != 544 || mib(e4.KVGPU) != 288 {
		t.Errorf("q8_0 KV %.1f, q4_0 KV %.1f MiB", mib(e8.KVGPU), mib(e4.KVGPU))
	}
	if _, err := EstimateRun(m, RunConfig{Context: 8192, CacheV: "q8_0"}); err == nil {
		t.Error("quantized V without flash attention accepted")
	}
	// 8 sequences of 1000 tokens: n_ctx_seq = 1024, n_ctx = 8192.
	ep, _ := EstimateRun(m, RunConfig{Context: 1000, Parallel: 8, GPULayers: -1, FlashAttention: true})
	if ep.NCtx != 8192 || ep.NCtxSeq != 1024 || ep.KVGPU != e.KVGPU {
		t.Errorf("parallel: n_ctx %d n_ctx_seq %d", ep.NCtx, ep.NCtxSeq)
	}
	// 20 of 32 layers: no output layer on the GPU, 20/32 of the KV.
	e20, _ := EstimateRun(m, RunConfig{Context: 8192, GPULayers: 20, FlashAttention: true})
	if e20.OutputOnGPU || e20.GPULayers != 20 || e20.KVGPU != e.KVGPU*20/32 || e20.WeightsGPU >= e.WeightsGPU {
		t.Errorf("ngl 20: %+v", e20)
	}
	cpu, _ := EstimateRun(m, RunConfig{Context: 8192, GPULayers: 0})
	if cpu.TotalGPU != 0 {
		t.Errorf("ngl 0 uses %d GPU bytes", cpu.TotalGPU)
	}
}

func TestEstimateRunNoFlashAttention(t *testing.T) {
	// Mistral-7B-v0.2 shape (32 layers, 32 heads, 8 KV heads, vocab 32000).
	// llama.cpp's log (fedora-copr/logdetective#106, flash_attn = 0):
	// n_ctx 2048: KV 256 MiB, CUDA0 compute 164 MiB; n_ctx 32768: KV 4096 MiB, compute 2144 MiB.
	s := ModelShape{Name: "mistral", Layers: 32, Hidden: 4096, Heads: 32, KVHeads: 8, HeadDim: 128, FFN: 14336, Vocab: 32000}
	m := llamaRunModel(t, s, "q4_k_m")
	for _, c := range []struct{ ctx, kv, comp int64 }{{2048, 256, 164}, {32768, 4096, 2144}} {
		e, err := EstimateRun(m, RunConfig{Context: int(c.ctx), GPULayers: -1})
		if err != nil {
			t.Fatal(err)
		}
		if e.KVGPU != c.kv*MiB || e.ComputeGPU != c.comp*MiB {
			t.Errorf("ctx %d: KV %d MiB compute %d MiB, want %d and %d", c.ctx, e.KVGPU/MiB, e.ComputeGPU/MiB, c.kv, c.comp)
		}
	}
}

func TestMaxContext(t *testing.T) {
	s, _ := Preset("llama3.1-8b")
	m := llamaRunModel(t, s, "q4_k_m")
	c := RunConfig{GPULayers: -1, FlashAttention: true}
	n, err := MaxContext(m, c, 12*GiB)
	if err != nil {
		t.Fatal(err)
	}
	c.Context = n
	e, _ := EstimateRun(m, c)
	c.Context = n + 256
	e2, _ := EstimateRun(m, c)
	if n%256 != 0 || e.TotalGPU > 12*GiB || e2.TotalGPU <= 12*GiB {
		t.Fatalf("max ctx %d: %d / %d", n, e.TotalGPU, e2.TotalGPU)
	}
	t.Logf("8B q4_K_M on 12 GiB: ctx %d", n)
	if n, _ := MaxContext(m, c, 2*GiB); n != 0 {
		t.Fatalf("2 GiB fits %d", n)
	}
}

func TestRunModelFromGGUF(t *testing.T) {
	f, err := gguf.Open(fixture.Path(t, "stories260K/ref/stories260K-f32.ref.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := RunModelFromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	if m.Layers != 5 || m.Embd != 64 || m.Heads != 8 || m.KVHeads != 4 || m.Vocab != 512 || m.FFN != 172 || !m.Tied {
		t.Fatalf("%+v", m)
	}
	var sum int64
	for _, x := range m.Tensors {
		sum += x.Bytes
	}
	if sum != f.TensorBytes() {
		t.Fatalf("tensor bytes %d vs %d", sum, f.TensorBytes())
	}
	e, err := EstimateRun(m, RunConfig{Context: 512, GPULayers: -1, FlashAttention: true})
	if err != nil {
		t.Fatal(err)
	}
	// Tied: token_embd stays on the CPU and is duplicated as the output on the GPU.
	emb, _ := f.Tensor("token_embd.weight")
	if e.WeightsCPU != emb.Size() || e.WeightsGPU != f.TensorBytes() {
		t.Fatalf("cpu %d gpu %d", e.WeightsCPU, e.WeightsGPU)
	}
	// KV: 512 cells × 5 layers × 2 × 4 heads × 8 × 2 bytes.
	if e.KVGPU != 512*5*2*32*2 {
		t.Fatalf("KV %d", e.KVGPU)
	}
}

// FuzzRunModelFromGGUF: whatever a GGUF file says, reading its shape and
// estimating a context never panics, and sizes never go negative.
func FuzzRunModelFromGGUF(f *testing.F) {
	seed, err := os.ReadFile(fixture.Path(f, "stories260K/ref/stories260K-f32.ref.gguf"))
	if err == nil {
		f.Add(seed[:min(len(seed), 1<<16)], 512, 1)
		f.Add(seed, 4096, 8)
	}
	f.Fuzz(func(t *testing.T, data []byte, ctx, par int) {
		gf, err := gguf.NewReader(bytes.NewReader(data), int64(len(data)), gguf.DefaultLimits())
		if err != nil {
			return
		}
		m, err := RunModelFromGGUF(gf)
		if err != nil {
			return
		}
		for _, fa := range []bool{true, false} {
			e, err := EstimateRun(m, RunConfig{Context: ctx, Parallel: par, GPULayers: -1, FlashAttention: fa})
			if err != nil {
				continue
			}
			if e.TotalGPU < 0 || e.KVGPU < 0 || e.ComputeGPU < 0 || e.WeightsGPU < 0 {
				t.Fatalf("negative size: %+v", e)
			}
		}
	})
}

func TestLookupTFLOPS(t *testing.T) {
	for name, want := range map[string]float64{
		"NVIDIA GeForce RTX 4060 Ti": 22.1, "RTX 4060": 15.1, "rtx 3060": 25.6, "NVIDIA H100 80GB HBM3": 989, "NVIDIA A100-SXM4-80GB": 312,
	} {
		if got, ok := LookupTFLOPS(name); !ok || got != want {
			t.Errorf("%s: %v %v", name, got, ok)
		}
	}
	if _, ok := LookupTFLOPS("Voodoo 3"); ok {
		t.Error("unknown card found")
	}
}
