package convert

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/sattva/sattva/gguf"
)

// convertRefused converts dir and wants a *gguf.FormatError naming rule,
// with nothing left in the output folder.
func convertRefused(t *testing.T, dir, rule string) {
	t.Helper()
	outDir := t.TempDir()
	_, err := Convert(context.Background(), dir, filepath.Join(outDir, "out.gguf"), Options{OutType: gguf.TypeF16})
	var fe *gguf.FormatError
	if !errors.As(err, &fe) || fe.Rule != rule {
		t.Fatalf("err = %v, want rule %s", err, rule)
	}
	if ents, _ := os.ReadDir(outDir); len(ents) != 0 {
		t.Fatalf("left behind: %v", ents)
	}
}

// The review's reproductions: convert wrote files that crash llama.cpp, or
// panicked in a worker goroutine and left .OUT.gguf.tmp-* behind.

func TestConvertRefusesNegativeRMSEps(t *testing.T) {
	dir := smallCheckpoint(t, 0)
	editJSON(t, filepath.Join(dir, "config.json"), func(m map[string]any) { m["rms_norm_eps"] = -1 })
	convertRefused(t, dir, "hparam.range")
}

func TestConvertRefusesQProjShape(t *testing.T) {
	dir := smallCheckpoint(t, 0)
	// Same bytes, another shape: [32, 8] instead of config.json's [16, 16].
	editHeader(t, filepath.Join(dir, "model.safetensors"), func(h map[string]map[string]any) {
		h["model.layers.0.self_attn.q_proj.weight"]["shape"] = []int{32, 8}
	})
	convertRefused(t, dir, "tensor.shape")
}

func TestConvertRefusesAddedTokenEqualToVocabToken(t *testing.T) {
	dir := smallCheckpoint(t, 0)
	editJSON(t, filepath.Join(dir, "tokenizer.json"), func(m map[string]any) {
		added := m["added_tokens"].([]any)
		added[20].(map[string]any)["content"] = "!" // byte token 0's text
	})
	convertRefused(t, dir, "vocab.unique-tokens")
}

func TestConvertRefusesDuplicateSentencePiece(t *testing.T) {
	dir := smallCheckpoint(t, 0)
	pieces := []spPiece{{"<unk>", 0, spUnknown}, {"<s>", 0, spControl}, {"</s>", 0, spControl}}
	for b := range 256 {
		pieces = append(pieces, spPiece{fmt.Sprintf("<0x%02X>", b), 0, spByte})
	}
	for i := len(pieces); i < int(smallShape.Vocab); i++ {
		pieces = append(pieces, spPiece{fmt.Sprintf("▁w%d", i), float32(-i), spNormal})
	}
	pieces[300].piece = pieces[301].piece
	os.Remove(filepath.Join(dir, "tokenizer.json"))
	os.Remove(filepath.Join(dir, "tokenizer_config.json"))
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.model"), spModel(pieces...), 0o644); err != nil {
		t.Fatal(err)
	}
	convertRefused(t, dir, "vocab.unique-tokens")
}
