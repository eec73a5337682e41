package convert

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sattva/sattva/convert/safetensors"
	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/synth"
)

var smallShape = synth.Shape{Name: "small", Hidden: 16, Intermediate: 48, Layers: 2, Heads: 2, KVHeads: 1, Vocab: 512, Context: 2048, RopeTheta: 10000}

// smallCheckpoint writes a small synthetic checkpoint, sharded when shard > 0.
func smallCheckpoint(t *testing.T, shard int64) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "hf")
	if err := synth.WriteShape(context.Background(), smallShape, dir, synth.Options{Seed: 3, MaxShardBytes: shard}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// editHeader rewrites the JSON header of a safetensors file.
func editHeader(t *testing.T, path string, edit func(map[string]map[string]any)) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(b)
	var hdr map[string]map[string]any
	if err := json.Unmarshal(b[8:8+n], &hdr); err != nil {
		t.Fatal(err)
	}
	edit(hdr)
	nh, _ := json.Marshal(hdr)
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(nh)))
	out = append(append(out, nh...), b[8+n:]...)
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

func editJSON(t *testing.T, path string, edit func(map[string]any)) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	b, _ = json.Marshal(m)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBadInputs: each broken checkpoint gives an error that names the file
// and the field, is marked invalid input (exit code 3), and leaves nothing
// in the output folder.
func TestBadInputs(t *testing.T) {
	cases := []struct {
		name    string
		shard   int64
		breakIt func(t *testing.T, dir string)
		file    string // the error names this file (base name)
		field   string // and this field
	}{
		{"missing shard", 40_000, func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "model-00002-of-00002.safetensors"))
		}, safetensors.IndexFile, "model-00002-of-00002.safetensors"},
		{"truncated safetensors", 0, func(t *testing.T, dir string) {
			p := filepath.Join(dir, "model.safetensors")
			st, _ := os.Stat(p)
			os.Truncate(p, st.Size()-100)
		}, "model.safetensors", "data_offsets"},
		{"lying header offsets", 0, func(t *testing.T, dir string) {
			editHeader(t, filepath.Join(dir, "model.safetensors"), func(h map[string]map[string]any) {
				h["model.norm.weight"]["data_offsets"] = []int{0, 32}
			})
		}, "model.safetensors", `tensor "model.norm.weight".data_offsets`},
		{"tensor missing from index", 40_000, func(t *testing.T, dir string) {
			editJSON(t, filepath.Join(dir, safetensors.IndexFile), func(m map[string]any) {
				delete(m["weight_map"].(map[string]any), "model.layers.1.mlp.up_proj.weight")
			})
		}, safetensors.IndexFile, `weight_map["model.layers.1.mlp.up_proj.weight"]`},
		{"tensor missing from shard", 40_000, func(t *testing.T, dir string) {
			editJSON(t, filepath.Join(dir, safetensors.IndexFile), func(m map[string]any) {
				m["weight_map"].(map[string]any)["model.layers.9.mlp.up_proj.weight"] = "model-00002-of-00002.safetensors"
			})
		}, "model-00002-of-00002.safetensors", `tensor "model.layers.9.mlp.up_proj.weight"`},
		{"unsupported architecture", 0, func(t *testing.T, dir string) {
			editJSON(t, filepath.Join(dir, "config.json"), func(m map[string]any) { m["architectures"] = []string{"GPT2LMHeadModel"} })
		}, "config.json", "architectures"},
		{"unknown dtype", 0, func(t *testing.T, dir string) {
			editHeader(t, filepath.Join(dir, "model.safetensors"), func(h map[string]map[string]any) {
				h["model.norm.weight"]["dtype"] = "F12"
			})
		}, "model.safetensors", `tensor "model.norm.weight".dtype`},
		{"integer weights", 0, func(t *testing.T, dir string) {
			editHeader(t, filepath.Join(dir, "model.safetensors"), func(h map[string]map[string]any) {
				h["model.norm.weight"]["dtype"] = "I16"
			})
		}, "model.safetensors", `tensor "model.norm.weight".dtype`},
		{"tokenizer.json not JSON", 0, func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "tokenizer.json"), []byte("{\"model\": oops"), 0o644)
		}, "tokenizer.json", ""},
		{"config.json not JSON", 0, func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "config.json"), []byte("hidden_size: 16"), 0o644)
		}, "config.json", ""},
		{"config missing hidden_size", 0, func(t *testing.T, dir string) {
			editJSON(t, filepath.Join(dir, "config.json"), func(m map[string]any) { delete(m, "hidden_size") })
		}, "config.json", "hidden_size"},
		{"unknown tensor", 0, func(t *testing.T, dir string) {
			editHeader(t, filepath.Join(dir, "model.safetensors"), func(h map[string]map[string]any) {
				h["model.vision_tower.weight"] = h["model.norm.weight"]
				delete(h, "model.norm.weight")
			})
		}, "model.safetensors", `tensor "model.vision_tower.weight"`},
		{"unknown pre-tokenizer", 0, func(t *testing.T, dir string) {
			editJSON(t, filepath.Join(dir, "tokenizer.json"), func(m map[string]any) {
				m["pre_tokenizer"].(map[string]any)["pretokenizers"].([]any)[0].(map[string]any)["pattern"] = map[string]any{"Regex": `\w+|\s+`}
			})
		}, "tokenizer.json", "pre_tokenizer"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := smallCheckpoint(t, c.shard)
			c.breakIt(t, dir)
			outDir := t.TempDir()
			_, err := Convert(context.Background(), dir, filepath.Join(outDir, "out.gguf"), Options{OutType: gguf.TypeF16})
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			t.Log(msg)
			if !strings.Contains(msg, c.file) || !strings.Contains(msg, c.field) {
				t.Errorf("error %q does not name %s and %s", msg, c.file, c.field)
			}
			var ii interface{ InvalidInput() bool }
			if !errors.As(err, &ii) || !ii.InvalidInput() {
				t.Errorf("error %q is not marked as invalid input", msg)
			}
			if ents, _ := os.ReadDir(outDir); len(ents) != 0 {
				t.Errorf("output folder holds %d files after the error", len(ents))
			}
		})
	}
}

// TestGoodSmallCheckpoint guards the cases above: unbroken, both layouts convert.
func TestGoodSmallCheckpoint(t *testing.T) {
	for _, shard := range []int64{0, 40_000} {
		dir := smallCheckpoint(t, shard)
		if shards, _ := filepath.Glob(filepath.Join(dir, "model-*-of-00002.safetensors")); shard > 0 && len(shards) != 2 {
			t.Fatalf("want 2 shards for the bad-input cases, got %v", shards)
		}
		if _, err := Convert(context.Background(), dir, filepath.Join(t.TempDir(), "out.gguf"), Options{OutType: gguf.TypeF16}); err != nil {
			t.Fatalf("shard %d: %v", shard, err)
		}
	}
}

// TestCancelLeavesNothing: a cancelled conversion leaves no file behind.
func TestCancelLeavesNothing(t *testing.T) {
	dir := smallCheckpoint(t, 0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	outDir := t.TempDir()
	if _, err := Convert(ctx, dir, filepath.Join(outDir, "out.gguf"), Options{OutType: gguf.TypeF16}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if ents, _ := os.ReadDir(outDir); len(ents) != 0 {
		t.Errorf("%d files left", len(ents))
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	dir := smallCheckpoint(t, 0)
	outDir := t.TempDir()
	plan, err := Convert(context.Background(), dir, filepath.Join(outDir, "out.gguf"), Options{OutType: gguf.TypeQ8_0, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(outDir); len(ents) != 0 {
		t.Errorf("dry run wrote %d files", len(ents))
	}
	if !plan.DryRun || len(plan.Tensors) != 2*9+3 || plan.TensorBytes == 0 {
		t.Errorf("plan: dry=%v %d tensors %d bytes", plan.DryRun, len(plan.Tensors), plan.TensorBytes)
	}
	types := map[string]string{}
	for _, pt := range plan.Tensors {
		types[pt.Name] = pt.TypeStr
	}
	// Rows of 16 cannot hold Q8_0 blocks of 32: F16 fallback; norms F32.
	if types["blk.0.attn_q.weight"] != "F16" || types["blk.0.ffn_down.weight"] != "F16" || types["output_norm.weight"] != "F32" {
		t.Errorf("types: %v", types)
	}
}

func TestEmptyTensorRefused(t *testing.T) {
	dir := smallCheckpoint(t, 0)
	editHeader(t, filepath.Join(dir, "model.safetensors"), func(h map[string]map[string]any) {
		h["model.norm.weight"]["shape"] = []int{0}
		h["model.norm.weight"]["data_offsets"] = []int{0, 0}
	})
	_, err := Convert(context.Background(), dir, filepath.Join(t.TempDir(), "o.gguf"), Options{OutType: gguf.TypeF16})
	if err == nil || !strings.Contains(err.Error(), `tensor "model.norm.weight".shape`) {
		t.Fatalf("err = %v", err)
	}
}

// TestDryRunFileSize: the dry run's file size is the size of the file written.
func TestDryRunFileSize(t *testing.T) {
	dir := smallCheckpoint(t, 0)
	out := filepath.Join(t.TempDir(), "o.gguf")
	dry, err := Convert(context.Background(), dir, out, Options{OutType: gguf.TypeF16, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Convert(context.Background(), dir, out, Options{OutType: gguf.TypeF16}); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if dry.FileBytes != st.Size() {
		t.Errorf("dry run says %d bytes, file has %d", dry.FileBytes, st.Size())
	}
}

func TestPickleRefused(t *testing.T) {
	dir := smallCheckpoint(t, 0)
	os.Remove(filepath.Join(dir, "model.safetensors"))
	os.WriteFile(filepath.Join(dir, "pytorch_model.bin"), []byte("PK"), 0o644)
	_, err := Convert(context.Background(), dir, filepath.Join(t.TempDir(), "o.gguf"), Options{})
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "pytorch_model.bin") {
		t.Fatalf("err = %v", err)
	}
}

// TestProgressReportsBytes: progress ends at the file's size.
func TestProgressReportsBytes(t *testing.T) {
	dir := smallCheckpoint(t, 0)
	out := filepath.Join(t.TempDir(), "o.gguf")
	var last, total int64
	calls := 0
	_, err := Convert(context.Background(), dir, out, Options{OutType: gguf.TypeF16, Progress: func(d, n int64) {
		if d < last {
			t.Errorf("progress went back from %d to %d", last, d)
		}
		last, total = d, n
		calls++
	}})
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(out)
	if calls < 2 || last != st.Size() || total != st.Size() {
		t.Errorf("%d calls, last %d/%d, file %d", calls, last, total, st.Size())
	}
}
