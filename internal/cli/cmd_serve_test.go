package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestServeRefusesOpenAddressWithoutKey(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "m.gguf", "--host", "0.0.0.0"},
		{"serve", "m.gguf", "--host", "192.168.1.5", "--port", "9"},
	} {
		var out, errb bytes.Buffer
		code := Main(context.Background(), args, strings.NewReader(""), &out, &errb)
		if code != ExitUsage || !strings.Contains(errb.String(), "--api-key") {
			t.Errorf("%v: exit %d, %q; want a usage error naming --api-key", args, code, errb.String())
		}
	}
	for _, h := range []string{"127.0.0.1", "::1", "localhost", "127.0.0.2"} {
		if !isLoopback(h) {
			t.Errorf("%s is loopback", h)
		}
	}
	if isLoopback("0.0.0.0") || isLoopback("example.com") {
		t.Error("0.0.0.0 and names are not loopback")
	}
}

// An export folder's Modelfile gives the model, SYSTEM and the PARAMETERs
// of every flag not given on the command line.
func TestServeReadsExportFolder(t *testing.T) {
	dir := t.TempDir()
	mf, err := os.ReadFile(filepath.Join("..", "..", "pipeline", "testdata", "Modelfile.plain.golden"))
	if err != nil {
		t.Fatal(err)
	}
	mf = append(mf, []byte("PARAMETER stop \"###\"\nPARAMETER seed 7\n")...)
	if err := os.WriteFile(filepath.Join(dir, "Modelfile"), mf, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(`{"name":"sattva-llama31-8b"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	e, err := readExport(dir)
	if err != nil {
		t.Fatal(err)
	}
	if e.Model != filepath.Join(dir, "sattva-llama31-8b-q4_K_M.gguf") || e.Name != "sattva-llama31-8b" || !strings.HasPrefix(e.System, "You are SatTva") {
		t.Fatalf("export %+v", e)
	}
	o := &serveOptions{}
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	o.engineFlags.bind(fs, 4096)
	o.samplingFlags.bind(fs, 0)
	if err := fs.Parse([]string{"--top-k", "5"}); err != nil {
		t.Fatal(err)
	}
	o.flags = fs
	if err := o.applyParams(e.Params); err != nil {
		t.Fatal(err)
	}
	if o.Temp != 0.7 || o.TopP != 0.9 || o.TopK != 5 || o.ContextSize != 4096 || o.Seed != 7 || len(o.Stop) != 1 || o.Stop[0] != "###" {
		t.Errorf("after the Modelfile: temp %g top_p %g top_k %d (flag wins) ctx %d seed %d stop %q", o.Temp, o.TopP, o.TopK, o.ContextSize, o.Seed, o.Stop)
	}
	os.WriteFile(filepath.Join(dir, "Modelfile"), []byte("PARAMETER temperature 0.5\n"), 0o644)
	_, err = readExport(dir)
	var ii interface{ InvalidInput() bool }
	if !errors.As(err, &ii) || !ii.InvalidInput() {
		t.Errorf("Modelfile without FROM: %v, want invalid input", err)
	}
}
