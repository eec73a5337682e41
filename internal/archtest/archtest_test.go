// Package archtest holds no code: its test keeps the import graph the shape
// docs/architecture.md draws. It reads imports with go/build, so it needs
// neither the go command nor a build of llama.cpp.
package archtest

import (
	"errors"
	"go/build"
	"io/fs"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/sattva/sattva/"

// engine are the packages that may link the engine (package llamacpp): the
// engine itself, its in-process eval runner, the server and verify (packages that exist
// to run models), the command line, the
// differential tests (…/differential) and the benchmark tools. Every other
// package is pure: neither it nor its tests link llama.cpp; it takes
// interfaces for what the engine provides, and `make race` covers it.
var engine = []string{"llamacpp", "evalrun/llamarun", "serve", "verify", "internal/cli", "cmd/sattva", "bench/cpu/mkllama", "bench/anchor/lib", "bench/servetg"}

// mustBePure are the packages docs/architecture.md names as pure; the test
// fails if one of them disappears from the list it computes.
var mustBePure = []string{"gguf", "convert", "quantize", "dataset", "evalrun", "numerology", "plan", "pipeline"}

// isEngine reports whether rel may link llama.cpp.
func isEngine(rel string) bool {
	return slices.Contains(engine, rel) || rel == "differential" || strings.HasSuffix(rel, "/differential") ||
		strings.HasPrefix(rel, "third_party/")
}

// packages lists the module's package folders (relative, slash-separated).
func (g *graph) packages(t *testing.T) []string {
	var out []string
	err := filepath.WalkDir(g.root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != g.root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "build" || name == "bin") {
			return filepath.SkipDir
		}
		rel, _ := filepath.Rel(g.root, path)
		rel = filepath.ToSlash(rel)
		if p := g.load(t, rel); p != nil && p.Name != "" {
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// apart are pairs of packages neither of which may import the other, even
// indirectly: convert (HF → tensors) and quantize (tensors → blocks) sit side
// by side above gguf; convquant composes them.
var apart = [][2]string{{"convert", "quantize"}}

// graph holds the imports of the module's packages under one build context.
type graph struct {
	ctx  build.Context
	root string
	pkgs map[string]*build.Package
}

func newGraph(t *testing.T, cgo bool) *graph {
	_, file, _, _ := runtime.Caller(0)
	ctx := build.Default
	ctx.CgoEnabled = cgo
	return &graph{ctx: ctx, root: filepath.Join(filepath.Dir(file), "..", ".."), pkgs: map[string]*build.Package{}}
}

func (g *graph) load(t *testing.T, rel string) *build.Package {
	t.Helper()
	if p, ok := g.pkgs[rel]; ok {
		return p
	}
	p, err := g.ctx.ImportDir(filepath.Join(g.root, filepath.FromSlash(rel)), 0)
	if err != nil {
		var noGo *build.NoGoError
		if !errors.As(err, &noGo) {
			t.Fatalf("%s: %v", rel, err)
		}
	}
	g.pkgs[rel] = p
	return p
}

// deps returns the module packages rel reaches, each with the path that
// reaches it; tests adds the imports of rel's own tests (not of its deps').
func (g *graph) deps(t *testing.T, rel string, tests bool) map[string][]string {
	seen := map[string][]string{}
	var walk func(rel string, via []string, withTests bool)
	walk = func(rel string, via []string, withTests bool) {
		p := g.load(t, rel)
		imps := slices.Clone(p.Imports)
		if withTests {
			imps = append(imps, p.TestImports...)
			imps = append(imps, p.XTestImports...)
		}
		for _, imp := range imps {
			dep, ok := strings.CutPrefix(imp, module)
			if !ok || dep == rel {
				continue
			}
			if _, done := seen[dep]; done {
				continue
			}
			path := append(slices.Clone(via), dep)
			seen[dep] = path
			walk(dep, path, false)
		}
	}
	walk(rel, []string{rel}, tests)
	return seen
}

func TestPurePackagesDoNotLinkTheEngine(t *testing.T) {
	for _, cgo := range []bool{true, false} {
		g := newGraph(t, cgo)
		var pure []string
		for _, rel := range g.packages(t) {
			if !isEngine(rel) {
				pure = append(pure, rel)
			}
		}
		t.Logf("cgo=%v: %d pure packages: %v", cgo, len(pure), pure)
		for _, rel := range mustBePure {
			if !slices.Contains(pure, rel) {
				t.Fatalf("package %s not found among the pure packages %v", rel, pure)
			}
		}
		for _, rel := range pure {
			for _, tests := range []bool{false, true} {
				if via, ok := g.deps(t, rel, tests)["llamacpp"]; ok {
					what := "imports"
					if tests {
						what = "'s tests import"
					}
					t.Errorf("%s%s llamacpp (cgo=%v): %s; take an interface and let internal/cli pass the engine, or move the test to %s/differential",
						rel, what, cgo, strings.Join(via, " → "), rel)
				}
			}
		}
	}
}

func TestConvertAndQuantizeApart(t *testing.T) {
	g := newGraph(t, true)
	for _, pair := range apart {
		for _, d := range [][2]string{pair, {pair[1], pair[0]}} {
			if via, ok := g.deps(t, d[0], false)[d[1]]; ok {
				t.Errorf("%s imports %s: %s (compose them in convquant instead)", d[0], d[1], strings.Join(via, " → "))
			}
		}
	}
}

// TestDepsSeeTheEngine keeps the test above honest: the walk finds llamacpp
// where it is imported.
func TestDepsSeeTheEngine(t *testing.T) {
	g := newGraph(t, true)
	for _, rel := range []string{"evalrun/llamarun", "internal/cli", "cmd/sattva"} {
		if _, ok := g.deps(t, rel, false)["llamacpp"]; !ok {
			t.Errorf("%s: the import walk does not reach llamacpp", rel)
		}
	}
	if _, ok := g.deps(t, "convquant", false)["quantize"]; !ok {
		t.Error("convquant: the import walk does not reach quantize")
	}
}
