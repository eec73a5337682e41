package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path"
	"strconv"
	"strings"
	"testing"
)

// mutableExceptions are exported package-level variables of a mutable kind
// that stay, each with the reason ("dir/file.go: Name"). None today: keep
// it that way, or say here why one cannot be a function or unexported.
var mutableExceptions = map[string]string{}

// basicTypes are the predeclared types whose values a caller cannot change
// in place, and error (a sentinel is compared, never changed).
var basicTypes = map[string]bool{
	"bool": true, "string": true, "error": true, "byte": true, "rune": true,
	"int": true, "int8": true, "int16": true, "int32": true, "int64": true,
	"uint": true, "uint8": true, "uint16": true, "uint32": true, "uint64": true, "uintptr": true,
	"float32": true, "float64": true, "complex64": true, "complex128": true,
}

// exportedVar is one exported package-level variable.
type exportedVar struct {
	pos, name string
	why       string // why its kind is mutable; "" when it is not
}

// immutableType reports whether a variable declared with type t holds a
// value no caller can change in place: a basic type, error, or embed.FS.
func immutableType(t ast.Expr) bool {
	switch x := t.(type) {
	case *ast.Ident:
		return basicTypes[x.Name]
	case *ast.SelectorExpr:
		if pkg, ok := x.X.(*ast.Ident); ok {
			return pkg.Name == "embed" && x.Sel.Name == "FS"
		}
	}
	return false
}

// immutableValue reports whether an untyped declaration's value v is of an
// immutable kind: a literal, a sentinel error (errors.New, fmt.Errorf, or
// for a name starting Err another variable), or a call of a function of the
// package (funcs: name → result types) that returns one basic value.
func immutableValue(name string, v ast.Expr, funcs map[string]*ast.FieldList) bool {
	switch x := v.(type) {
	case *ast.BasicLit:
		return true
	case *ast.UnaryExpr:
		return immutableValue(name, x.X, funcs)
	case *ast.BinaryExpr:
		return immutableValue(name, x.X, funcs) && immutableValue(name, x.Y, funcs)
	case *ast.Ident:
		return strings.HasPrefix(name, "Err")
	case *ast.CallExpr:
		switch fn := x.Fun.(type) {
		case *ast.SelectorExpr:
			pkg, ok := fn.X.(*ast.Ident)
			return ok && ((pkg.Name == "errors" && fn.Sel.Name == "New") || (pkg.Name == "fmt" && fn.Sel.Name == "Errorf"))
		case *ast.Ident:
			res := funcs[fn.Name]
			return res != nil && len(res.List) == 1 && len(res.List[0].Names) <= 1 && immutableType(res.List[0].Type)
		}
	}
	return false
}

// exportedVars lists the exported package-level variables of af, each
// with why its kind is mutable; funcs are the package's functions.
func exportedVars(fset *token.FileSet, rel string, af *ast.File, funcs map[string]*ast.FieldList) []exportedVar {
	var out []exportedVar
	for _, decl := range af.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.VAR {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, id := range vs.Names {
				if !id.IsExported() {
					continue
				}
				v := exportedVar{pos: rel + ":" + strconv.Itoa(fset.Position(id.Pos()).Line), name: id.Name}
				switch {
				case vs.Type != nil:
					if !immutableType(vs.Type) {
						v.why = "its type is not a basic type, error or embed.FS"
					}
				case i < len(vs.Values):
					if !immutableValue(id.Name, vs.Values[i], funcs) {
						v.why = "its value is not a literal, a sentinel error or a basic value"
					}
				default:
					v.why = "its kind cannot be told"
				}
				out = append(out, v)
			}
		}
	}
	return out
}

// packageFuncs returns the result lists of the package-level functions of
// the files, by name.
func packageFuncs(files []*ast.File) map[string]*ast.FieldList {
	funcs := map[string]*ast.FieldList{}
	for _, af := range files {
		for _, decl := range af.Decls {
			if fd, ok := decl.(*ast.FuncDecl); ok && fd.Recv == nil && fd.Type.Results != nil {
				funcs[fd.Name.Name] = fd.Type.Results
			}
		}
	}
	return funcs
}

// TestNoExportedMutableGlobals fails on an exported package-level variable
// of a mutable kind (a slice, map, pointer, struct, …): any importer could
// change what every other importer sees. Make it a function that returns a
// fresh value, or unexport it.
func TestNoExportedMutableGlobals(t *testing.T) {
	fset := token.NewFileSet()
	byDir := map[string][]*ast.File{}
	rels := map[*ast.File]string{}
	for _, f := range sourceFiles(t) {
		af := parseSource(t, fset, f)
		if af == nil {
			continue
		}
		dir := path.Dir(f.rel)
		byDir[dir] = append(byDir[dir], af)
		rels[af] = f.rel
	}
	n := 0
	for _, files := range byDir {
		funcs := packageFuncs(files)
		for _, af := range files {
			for _, v := range exportedVars(fset, rels[af], af, funcs) {
				n++
				if v.why == "" {
					continue
				}
				key := rels[af] + ": " + v.name
				if reason, ok := mutableExceptions[key]; ok {
					t.Logf("%s: %s stays exported: %s", v.pos, v.name, reason)
					continue
				}
				t.Errorf("%s: exported variable %s may be changed by any importer (%s): make it a function returning a fresh value, or unexport it", v.pos, v.name, v.why)
			}
		}
	}
	if n < 10 {
		t.Fatalf("found only %d exported variables; the walk is broken", n)
	}
}

// TestExportedVarsKinds keeps the test above honest on a known source.
func TestExportedVarsKinds(t *testing.T) {
	src := `package p

import (
	"embed"
	"errors"
	"fmt"
)

var ErrA = errors.New("a")
var ErrB = fmt.Errorf("b")
var ErrC = ErrA
var Version = "dev"
var Limit = 1 << 20
var Count int64
var Grammar = grammar("x")
var Files embed.FS
var (
	Stops    = []string{"a"}
	Table    = map[string]int{}
	Default  = T{}
	Ptr      = &T{}
	Made     = make([]int, 3)
	Computed = table()
	Alias    = Stops
	Bytes    []byte
	Typed    T
	Ref      *T
)
var hidden = []string{"ok"}

type T struct{ X int }

func grammar(s string) string { return s }
func table() []int           { return nil }
`
	fset := token.NewFileSet()
	af, err := parser.ParseFile(fset, "p.go", src, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	var ok, bad []string
	for _, v := range exportedVars(fset, "p.go", af, packageFuncs([]*ast.File{af})) {
		if v.why == "" {
			ok = append(ok, v.name)
		} else {
			bad = append(bad, v.name)
		}
	}
	if got, want := strings.Join(ok, " "), "ErrA ErrB ErrC Version Limit Count Grammar Files"; got != want {
		t.Errorf("immutable: %s, want %s", got, want)
	}
	if got, want := strings.Join(bad, " "), "Stops Table Default Ptr Made Computed Alias Bytes Typed Ref"; got != want {
		t.Errorf("mutable: %s, want %s", got, want)
	}
}
