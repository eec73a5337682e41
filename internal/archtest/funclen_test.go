package archtest

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// maxFuncLines is the longest a function or method body may be, counted
// from the line of its opening brace to the line of its closing one.
const maxFuncLines = 150

// portMarker starts the doc-comment line of a function that mirrors one of
// llama.cpp's (or ggml's) line by line, and so may be as long as its original:
// "Port of llama.cpp's quantize_row_q4_K_ref (ggml/src/ggml-quants.c)."
// The line names the C function and the file it lives in.
var portMarker = regexp.MustCompile(`(?m)^Port of llama\.cpp's \S+ \(\S+\.(c|cpp|h)\)`)

// goFile is one non-test Go source file of the module.
type goFile struct {
	rel  string // slash-separated, from the module root
	path string
}

// moduleRoot is the folder of go.mod.
func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// sourceFiles lists the module's own non-test Go files: not third_party/,
// not testdata, build output or hidden folders, not generated files.
func sourceFiles(t *testing.T) []goFile {
	t.Helper()
	root := moduleRoot()
	var out []goFile
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") ||
				name == "testdata" || name == "build" || name == "bin" || name == "vendor" || name == "third_party") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		out = append(out, goFile{rel: filepath.ToSlash(rel), path: path})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 50 {
		t.Fatalf("found only %d Go files under %s", len(out), root)
	}
	return out
}

// parseSource parses f with comments; generated files report nil.
func parseSource(t *testing.T, fset *token.FileSet, f goFile) *ast.File {
	t.Helper()
	af, err := parser.ParseFile(fset, f.path, nil, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		t.Fatalf("%s: %v", f.rel, err)
	}
	if ast.IsGenerated(af) {
		return nil
	}
	return af
}

// longFunc is a function body over the limit.
type longFunc struct {
	pos   string
	name  string
	lines int
	port  bool
}

// longFuncs returns the functions and methods of af whose bodies are longer
// than limit lines; port says whether the doc comment marks a port.
func longFuncs(fset *token.FileSet, rel string, af *ast.File, limit int) []longFunc {
	var out []longFunc
	for _, decl := range af.Decls {
		fd, ok := decl.(*ast.FuncDecl)
		if !ok || fd.Body == nil {
			continue
		}
		n := fset.Position(fd.Body.Rbrace).Line - fset.Position(fd.Body.Lbrace).Line + 1
		if n <= limit {
			continue
		}
		name := fd.Name.Name
		if fd.Recv != nil && len(fd.Recv.List) == 1 {
			name = recvName(fd.Recv.List[0].Type) + "." + name
		}
		out = append(out, longFunc{
			pos:   fmt.Sprintf("%s:%d", rel, fset.Position(fd.Pos()).Line),
			name:  name,
			lines: n,
			port:  fd.Doc != nil && portMarker.MatchString(fd.Doc.Text()),
		})
	}
	return out
}

// recvName is the type name of a method receiver (without * and type parameters).
func recvName(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.StarExpr:
		return recvName(x.X)
	case *ast.IndexExpr:
		return recvName(x.X)
	case *ast.IndexListExpr:
		return recvName(x.X)
	case *ast.Ident:
		return x.Name
	}
	return "?"
}

// TestNoLongFunctions keeps every function body at most maxFuncLines lines,
// except ports of llama.cpp's own functions, which say so at their top.
func TestNoLongFunctions(t *testing.T) {
	fset := token.NewFileSet()
	ports := 0
	for _, f := range sourceFiles(t) {
		af := parseSource(t, fset, f)
		if af == nil {
			continue
		}
		for _, lf := range longFuncs(fset, f.rel, af, maxFuncLines) {
			if lf.port {
				ports++
				t.Logf("%s: %s, %d lines: a port of llama.cpp's", lf.pos, lf.name, lf.lines)
				continue
			}
			t.Errorf("%s: %s is %d lines (at most %d): split it into named steps, or, if it mirrors a function of llama.cpp line by line, begin a line of its doc comment with %q",
				lf.pos, lf.name, lf.lines, maxFuncLines, "Port of llama.cpp's <function> (<file>)")
		}
	}
	t.Logf("%d long functions marked as ports", ports)
}

// TestLongFuncsMeasures keeps the measure above honest on a known source.
func TestLongFuncsMeasures(t *testing.T) {
	body := strings.Repeat("\tx++\n", 8)
	src := "package p\n\n" +
		"func short() {\n" + body + "}\n\n" +
		"// Port of llama.cpp's quantize_row_q8_0_ref (ggml/src/ggml-quants.c).\n" +
		"func port() {\n" + body + body + "}\n\n" +
		"// long says Port of llama.cpp's x (y.c) but not at a line's start.\n" +
		"func (r *T[K]) long() {\n" + body + body + "}\n"
	fset := token.NewFileSet()
	af, err := parser.ParseFile(fset, "p.go", src, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	got := longFuncs(fset, "p.go", af, 10)
	want := []longFunc{
		{pos: "p.go:15", name: "port", lines: 18, port: true},
		{pos: "p.go:35", name: "T.long", lines: 18, port: false},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("longFuncs = %v, want %v", got, want)
	}
}
