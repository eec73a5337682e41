package quantize

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"github.com/sattva/sattva/gguf"
)

// IMatrix is an importance matrix as llama-quantize uses it: for each weight
// tensor name, one weight per input column (times the number of experts).
type IMatrix struct {
	Entries    map[string][]float32
	Datasets   []string // calibration data set names recorded in the file
	ChunkCount int      // chunks the statistics were collected over (0 if unknown)
}

// IMatrixError is a malformed importance-matrix file.
type IMatrixError struct {
	Path string
	Msg  string
}

func (e *IMatrixError) Error() string { return "quantize: imatrix " + e.Path + ": " + e.Msg }

// InvalidInput marks the error as a problem with an input file.
func (e *IMatrixError) InvalidInput() bool { return true }

// maxIMatrixEntries bounds what a legacy file may announce.
const maxIMatrixEntries = 1 << 20

// ReadIMatrix reads an importance matrix written by llama-imatrix, in the GGUF
// form (tensors NAME.in_sum2 and NAME.counts, keys imatrix.*) or the legacy
// .dat form, and normalises it exactly as llama-quantize's load_imatrix does:
// GGUF sums are divided by their per-expert count (a zero count gives 1s);
// legacy values are divided by their ncall when it is positive.
func ReadIMatrix(path string) (*IMatrix, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	var magic [4]byte
	if _, err := io.ReadFull(fh, magic[:]); err == nil && string(magic[:]) == "GGUF" {
		f, err := gguf.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return readIMatrixGGUF(path, f)
	}
	if _, err := fh.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	st, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	return readIMatrixLegacy(path, fh, st.Size())
}

func readIMatrixGGUF(path string, f *gguf.File) (*IMatrix, error) {
	bad := func(format string, a ...any) error { return &IMatrixError{Path: path, Msg: fmt.Sprintf(format, a...)} }
	if len(f.Tensors) < 1 {
		return nil, bad("no data")
	}
	ds, errD := f.Strings("imatrix.datasets")
	cc, errC := f.Uint32("imatrix.chunk_count")
	_, errS := f.Uint32("imatrix.chunk_size")
	if errD != nil || errC != nil || errS != nil {
		return nil, bad("missing imatrix metadata (imatrix.datasets, imatrix.chunk_count, imatrix.chunk_size)")
	}
	type pair struct{ sums, counts *gguf.TensorInfo }
	pairs := map[string]*pair{}
	for i := range f.Tensors {
		ti := &f.Tensors[i]
		if name, ok := strings.CutSuffix(ti.Name, ".in_sum2"); ok && ti.Name != "" {
			if pairs[name] == nil {
				pairs[name] = &pair{}
			}
			pairs[name].sums = ti
		} else if name, ok := strings.CutSuffix(ti.Name, ".counts"); ok {
			if pairs[name] == nil {
				pairs[name] = &pair{}
			}
			pairs[name].counts = ti
		}
	}
	m := &IMatrix{Entries: make(map[string][]float32, len(pairs)), Datasets: ds, ChunkCount: int(cc)}
	for name, p := range pairs {
		if p.sums == nil || p.counts == nil {
			return nil, bad("mismatched sums and counts for %s", name)
		}
		if p.sums.Type != gguf.TypeF32 || p.counts.Type != gguf.TypeF32 {
			return nil, bad("%s: sums and counts must be F32", name)
		}
		sums, err := readF32Tensor(f, *p.sums)
		if err != nil {
			return nil, err
		}
		counts, err := readF32Tensor(f, *p.counts)
		if err != nil {
			return nil, err
		}
		ne0 := int(p.sums.Dims[0])
		ne1 := 1
		if len(p.sums.Dims) > 1 {
			ne1 = len(sums) / max(ne0, 1)
		}
		if len(counts) < ne1 {
			return nil, bad("%s: %d counts for %d rows of sums", name, len(counts), ne1)
		}
		e := make([]float32, len(sums))
		for j := 0; j < ne1; j++ {
			c := counts[j]
			for i := 0; i < ne0; i++ {
				if c > 0 {
					e[j*ne0+i] = sums[j*ne0+i] / c
				} else {
					e[j*ne0+i] = 1
				}
			}
		}
		m.Entries[name] = e
	}
	return m, nil
}

func readF32Tensor(f *gguf.File, ti gguf.TensorInfo) ([]float32, error) {
	n := ti.NumElements()
	b := make([]byte, 4*n)
	if _, err := io.ReadFull(f.TensorData(ti), b); err != nil {
		return nil, err
	}
	out := make([]float32, n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out, nil
}

// readIMatrixLegacy reads the .dat form: int32 n_entries, then per entry
// int32 name length, the name, int32 ncall, int32 nval, nval float32; then
// optionally int32 chunk count, int32 length and the data set name.
func readIMatrixLegacy(path string, r io.Reader, size int64) (*IMatrix, error) {
	bad := func(format string, a ...any) error { return &IMatrixError{Path: path, Msg: fmt.Sprintf(format, a...)} }
	br := &countingReader{r: r}
	i32 := func() (int32, error) {
		var b [4]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return 0, err
		}
		return int32(binary.LittleEndian.Uint32(b[:])), nil
	}
	n, err := i32()
	if err != nil || n < 1 || n > maxIMatrixEntries {
		return nil, bad("no data")
	}
	m := &IMatrix{Entries: make(map[string][]float32, n)}
	for k := 0; k < int(n); k++ {
		l, err := i32()
		if err != nil || l < 0 || int64(l) > size-br.n {
			return nil, bad("failed reading name for entry %d", k+1)
		}
		nb := make([]byte, l)
		if _, err := io.ReadFull(br, nb); err != nil {
			return nil, bad("failed reading name for entry %d", k+1)
		}
		if i := bytes.IndexByte(nb, 0); i >= 0 { // C reads the name as a C string
			nb = nb[:i]
		}
		ncall, err1 := i32()
		nval, err2 := i32()
		if err1 != nil || err2 != nil || nval < 1 || int64(nval)*4 > size-br.n {
			return nil, bad("failed reading number of values for entry %d", k)
		}
		raw := make([]byte, 4*int(nval))
		if _, err := io.ReadFull(br, raw); err != nil {
			return nil, bad("failed reading data for entry %d", k)
		}
		e := make([]float32, nval)
		for i := range e {
			e[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
			if ncall > 0 {
				e[i] /= float32(ncall)
			}
		}
		m.Entries[string(nb)] = e
	}
	if br.n < size {
		last, err := i32()
		if err != nil {
			return nil, bad("truncated trailer")
		}
		dl, err := i32()
		if err != nil || dl < 0 || int64(dl) > size-br.n {
			return nil, bad("truncated data set name")
		}
		name := make([]byte, dl)
		if _, err := io.ReadFull(br, name); err != nil {
			return nil, bad("truncated data set name")
		}
		m.ChunkCount = int(last)
		m.Datasets = []string{string(name)}
	}
	return m, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// check rejects non-finite values, as llama_model_quantize does.
func (m *IMatrix) check() error {
	for name, e := range m.Entries {
		if i := CheckFinite(e); i >= 0 {
			return fmt.Errorf("quantize: imatrix contains non-finite value %v (entry %s, index %d)", e[i], name, i)
		}
	}
	return nil
}

var errNoIMatrix = errors.New("quantize: missing importance matrix")
