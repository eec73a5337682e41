package safetensors

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// IndexFile is the name of the shard index of a sharded checkpoint.
const IndexFile = "model.safetensors.index.json"

// Model is a checkpoint folder: one model.safetensors or the shards named by
// model.safetensors.index.json. Tensors lists every tensor in llama.cpp's
// converter order: shards sorted by file name, tensors of a shard sorted by name.
type Model struct {
	Files   []*File
	Tensors []*Tensor

	byName map[string]*Tensor
}

// Tensor returns the tensor called name.
func (m *Model) Tensor(name string) (*Tensor, bool) {
	t, ok := m.byName[name]
	return t, ok
}

// Close closes every file of the model. It is idempotent.
func (m *Model) Close() error {
	var errs []error
	for _, f := range m.Files {
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}

// OpenDir opens the checkpoint in fsys's root: the shards named by
// model.safetensors.index.json when present, else every file named
// model*.safetensors. The files fsys opens must implement io.ReaderAt (those
// of os.DirFS do). The caller must Close the Model.
func OpenDir(fsys fs.FS) (*Model, error) {
	return OpenDirPrefix(fsys, "model", DefaultLimits())
}

// OpenDirPrefix is OpenDir for files named prefix*.safetensors with
// prefix.safetensors.index.json as the index (PEFT adapters use
// "adapter_model").
func OpenDirPrefix(fsys fs.FS, prefix string, lim Limits) (*Model, error) {
	index := prefix + ".safetensors.index.json"
	var parts []string
	var weightMap map[string]string
	if b, err := fs.ReadFile(fsys, index); err == nil {
		var idx struct {
			WeightMap map[string]string `json:"weight_map"`
		}
		if err := json.Unmarshal(b, &idx); err != nil {
			return nil, &FormatError{File: index, Field: "index", Msg: fmt.Sprintf("not JSON: %v", err)}
		}
		if len(idx.WeightMap) == 0 {
			return nil, &FormatError{File: index, Field: "weight_map", Msg: "missing or empty"}
		}
		weightMap = idx.WeightMap
		for name, p := range weightMap {
			if p == "" || strings.Contains(p, "/") || strings.Contains(p, `\`) || p == "." || p == ".." {
				return nil, &FormatError{File: index, Field: fmt.Sprintf("weight_map[%q]", name), Msg: fmt.Sprintf("%q is not a file name in the folder", p)}
			}
			if !slices.Contains(parts, p) {
				parts = append(parts, p)
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	} else {
		ents, err := fs.ReadDir(fsys, ".")
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			n := e.Name()
			if !e.IsDir() && strings.HasPrefix(n, prefix) && strings.HasSuffix(n, ".safetensors") {
				parts = append(parts, n)
			}
		}
		if len(parts) == 0 {
			return nil, fmt.Errorf("safetensors: no %s*.safetensors files and no %s in the folder: %w", prefix, index, fs.ErrNotExist)
		}
	}
	slices.Sort(parts)
	m := &Model{byName: map[string]*Tensor{}}
	for _, p := range parts {
		f, err := openFS(fsys, p, lim)
		if err != nil {
			m.Close()
			if errors.Is(err, fs.ErrNotExist) && weightMap != nil {
				for name, q := range weightMap {
					if q == p {
						return nil, &FormatError{File: index, Field: fmt.Sprintf("weight_map[%q]", name), Msg: fmt.Sprintf("names shard %q, which is missing", p)}
					}
				}
			}
			return nil, err
		}
		m.Files = append(m.Files, f)
		for _, t := range f.Tensors {
			if prev, dup := m.byName[t.Name]; dup {
				m.Close()
				return nil, &FormatError{File: f.Name, Field: fmt.Sprintf("tensor %q", t.Name), Msg: fmt.Sprintf("also in %s", prev.file.Name)}
			}
			if weightMap != nil {
				if want, ok := weightMap[t.Name]; !ok {
					m.Close()
					return nil, &FormatError{File: index, Field: fmt.Sprintf("weight_map[%q]", t.Name), Msg: fmt.Sprintf("missing, but the tensor is in %s", p)}
				} else if want != p {
					m.Close()
					return nil, &FormatError{File: index, Field: fmt.Sprintf("weight_map[%q]", t.Name), Msg: fmt.Sprintf("names %s, but the tensor is in %s", want, p)}
				}
			}
			m.byName[t.Name] = t
			m.Tensors = append(m.Tensors, t)
		}
	}
	if weightMap != nil {
		var missing []string
		for name := range weightMap {
			if _, ok := m.byName[name]; !ok {
				missing = append(missing, name)
			}
		}
		if len(missing) > 0 {
			slices.Sort(missing)
			m.Close()
			return nil, &FormatError{File: weightMap[missing[0]], Field: fmt.Sprintf("tensor %q", missing[0]),
				Msg: fmt.Sprintf("listed in %s but not in the shard (%d tensors missing)", index, len(missing))}
		}
	}
	return m, nil
}

// openFS opens name in fsys as a safetensors file.
func openFS(fsys fs.FS, name string, lim Limits) (*File, error) {
	fh, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	ra, ok := fh.(io.ReaderAt)
	if !ok {
		fh.Close()
		return nil, fmt.Errorf("safetensors: %s: the file system's files do not implement io.ReaderAt", name)
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, err
	}
	dname := name
	if d, ok := fsys.(interface{ Name() string }); ok {
		dname = path.Join(d.Name(), name)
	}
	f, err := NewFile(ra, st.Size(), dname, lim)
	if err != nil {
		fh.Close()
		return nil, err
	}
	f.closer = fh
	return f, nil
}
