package gguf

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"reflect"
	"runtime"
	"slices"

	"golang.org/x/sync/errgroup"
)

// Diff is what differs between two GGUF files A and B. Tensors are compared
// by type, shape and the sha256 of their bytes, never by offset.
type Diff struct {
	Header             []string     // "version: 3 → 2", "alignment: 32 → 64"
	KVs                []KVDiff     // keys added, removed or changed, in A's order then B's new keys
	KeyOrderDiffers    bool         // same keys, other order
	Tensors            []TensorDiff // tensors added, removed or changed
	TensorOrderDiffers bool         // same tensors, other order
	SameTensors        int          // tensors equal in type, shape and content
}

// KVDiff is one key that differs. A or B is nil where the key is absent.
type KVDiff struct {
	Key  string
	A, B *Value
}

// TensorDiff is one tensor that differs. A or B is nil where it is absent;
// SHA256A/B are set when both exist with the same type and shape.
type TensorDiff struct {
	Name             string
	A, B             *TensorInfo
	SHA256A, SHA256B string
}

// Equal reports whether the files have the same header, metadata (values,
// types and order) and tensors (names, order, types, shapes and bytes).
func (d *Diff) Equal() bool {
	return len(d.Header) == 0 && len(d.KVs) == 0 && !d.KeyOrderDiffers && len(d.Tensors) == 0 && !d.TensorOrderDiffers
}

// DiffOptions tune DiffFiles.
type DiffOptions struct {
	Workers int // tensors hashed at once; 0 means GOMAXPROCS
	// Progress, if set, is called with the tensor bytes hashed so far and
	// the total to hash (both files). Calls are serialized.
	Progress func(done, total int64)
}

// DiffFiles compares a and b, hashing every tensor that both have with the
// same type and shape. It reads tensor data; it stops when ctx is done.
func DiffFiles(ctx context.Context, a, b *File, o DiffOptions) (*Diff, error) {
	d := &Diff{}
	if a.Version != b.Version {
		d.Header = append(d.Header, fmt.Sprintf("version: %d → %d", a.Version, b.Version))
	}
	if a.Alignment != b.Alignment {
		d.Header = append(d.Header, fmt.Sprintf("alignment: %d → %d", a.Alignment, b.Alignment))
	}

	for _, kv := range a.KVs {
		bv, ok := b.Get(kv.Key)
		switch {
		case !ok:
			d.KVs = append(d.KVs, KVDiff{Key: kv.Key, A: ptr(kv.Value)})
		case !ValuesEqual(kv.Value, bv):
			d.KVs = append(d.KVs, KVDiff{Key: kv.Key, A: ptr(kv.Value), B: ptr(bv)})
		}
	}
	for _, kv := range b.KVs {
		if _, ok := a.Get(kv.Key); !ok {
			d.KVs = append(d.KVs, KVDiff{Key: kv.Key, B: ptr(kv.Value)})
		}
	}
	if len(d.KVs) == 0 {
		d.KeyOrderDiffers = !slices.EqualFunc(a.KVs, b.KVs, func(x, y KV) bool { return x.Key == y.Key })
	}

	type pair struct {
		diff   TensorDiff
		hashed bool
	}
	var pairs []*pair
	var total int64
	for _, ta := range a.Tensors {
		p := &pair{diff: TensorDiff{Name: ta.Name, A: ptr(ta)}}
		if tb, ok := b.Tensor(ta.Name); ok {
			p.diff.B = ptr(tb)
			if ta.Type == tb.Type && slices.Equal(ta.Dims, tb.Dims) {
				p.hashed = true
				total += 2 * ta.Size()
			}
		}
		pairs = append(pairs, p)
	}
	for _, tb := range b.Tensors {
		if _, ok := a.Tensor(tb.Name); !ok {
			pairs = append(pairs, &pair{diff: TensorDiff{Name: tb.Name, B: ptr(tb)}})
		}
	}

	workers := o.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	prog := newProgress(o.Progress, total)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for _, p := range pairs {
		if !p.hashed {
			continue
		}
		for _, side := range []struct {
			f   *File
			ti  *TensorInfo
			out *string
		}{{a, p.diff.A, &p.diff.SHA256A}, {b, p.diff.B, &p.diff.SHA256B}} {
			g.Go(func() error {
				sum, err := hashSection(gctx, side.f.TensorData(*side.ti), prog)
				if err != nil {
					return fmt.Errorf("tensor %q: %w", side.ti.Name, err)
				}
				*side.out = sum
				return nil
			})
		}
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for _, p := range pairs {
		if p.hashed && p.diff.SHA256A == p.diff.SHA256B {
			d.SameTensors++
			continue
		}
		d.Tensors = append(d.Tensors, p.diff)
	}
	if len(d.Tensors) == 0 {
		d.TensorOrderDiffers = !slices.EqualFunc(a.Tensors, b.Tensors, func(x, y TensorInfo) bool { return x.Name == y.Name })
	}
	return d, nil
}

func ptr[T any](v T) *T { return &v }

// hashSection returns the hex sha256 of r's bytes.
func hashSection(ctx context.Context, r *io.SectionReader, prog *progress) (string, error) {
	h := sha256.New()
	buf := make([]byte, 1<<20)
	var off int64
	for off < r.Size() {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		n, err := r.ReadAt(buf[:min(int64(len(buf)), r.Size()-off)], off)
		h.Write(buf[:n])
		off += int64(n)
		prog.add(int64(n))
		if err != nil && !(err == io.EOF && off == r.Size()) {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ValuesEqual reports whether a and b have the same type and value; floats
// are compared by their bits, so NaN equals the same NaN and 0 differs from -0.
func ValuesEqual(a, b Value) bool {
	if a.Type != b.Type || (a.Type == ValueArray && a.Elem != b.Elem) {
		return false
	}
	if a.Type != ValueArray {
		switch x := a.V.(type) {
		case float32:
			y, ok := b.V.(float32)
			return ok && math.Float32bits(x) == math.Float32bits(y)
		case float64:
			y, ok := b.V.(float64)
			return ok && math.Float64bits(x) == math.Float64bits(y)
		}
		if a.V == nil || b.V == nil || !reflect.TypeOf(a.V).Comparable() || !reflect.TypeOf(b.V).Comparable() {
			return false // malformed values are never equal
		}
		return a.V == b.V
	}
	switch x := a.V.(type) {
	case []string:
		y, ok := b.V.([]string)
		return ok && slices.Equal(x, y)
	case []int32:
		y, ok := b.V.([]int32)
		return ok && slices.Equal(x, y)
	case []uint32:
		y, ok := b.V.([]uint32)
		return ok && slices.Equal(x, y)
	case []float32:
		y, ok := b.V.([]float32)
		return ok && slices.EqualFunc(x, y, func(p, q float32) bool { return math.Float32bits(p) == math.Float32bits(q) })
	}
	n := a.Len()
	if n < 0 || n != b.Len() {
		return false
	}
	for i := range n {
		x, _ := a.Index(i)
		y, _ := b.Index(i)
		if !ValuesEqual(x, y) {
			return false
		}
	}
	return true
}
