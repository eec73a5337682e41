// Package fileguard keeps a command's files apart: inputs are opened only when
// they are regular files (a FIFO blocks on open, /dev/zero never ends), and no
// output may name one of the command's inputs or another of its outputs,
// compared as files (os.SameFile after resolving links), not as strings.
package fileguard

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrNotRegular is matched (errors.Is) by the error Open returns for a path
// that is not a regular file: a directory, a FIFO, a socket, a device.
var ErrNotRegular = errors.New("not a regular file")

// NotRegularError names the path and what it is.
type NotRegularError struct {
	Path string
	Mode fs.FileMode
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("%s: %s (%s); sattva reads only regular files", e.Path, ErrNotRegular, kind(e.Mode))
}

// Is makes errors.Is(err, ErrNotRegular) true.
func (e *NotRegularError) Is(target error) bool { return target == ErrNotRegular }

// InvalidInput makes the command line exit 3: the input cannot be read as a file.
func (e *NotRegularError) InvalidInput() bool { return true }

func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "mode " + m.String()
}

// Open opens path for reading if it is a regular file (after following
// links). The check comes before the open, so a FIFO never blocks, and is
// repeated on the opened file, so a path swapped in between is still refused.
func Open(path string) (*os.File, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, &NotRegularError{Path: path, Mode: st.Mode()}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if st, err = f.Stat(); err != nil {
		f.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, &NotRegularError{Path: path, Mode: st.Mode()}
	}
	return f, nil
}

// CheckRegular returns a *NotRegularError unless path is a regular file (or
// does not exist, which the caller's open reports).
func CheckRegular(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return nil
	}
	if !st.Mode().IsRegular() {
		return &NotRegularError{Path: path, Mode: st.Mode()}
	}
	return nil
}

// ConflictError reports an output that names an input or another output.
type ConflictError struct {
	Output string // the output path as given
	Other  string // the input or output path it is the same file as
	Input  bool   // Other is an input
}

func (e *ConflictError) Error() string {
	if e.Input {
		return fmt.Sprintf("output %s is the input %s: refusing to overwrite an input", e.Output, e.Other)
	}
	return fmt.Sprintf("outputs %s and %s are the same file", e.Other, e.Output)
}

// ErrConflict is matched (errors.Is) by every *ConflictError.
var ErrConflict = errors.New("output is the same file as an input or another output")

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// ident is what a path names: the file it reaches (if it exists) and its
// canonical path (links resolved in every existing part).
type ident struct {
	path  string
	canon string
	info  fs.FileInfo
}

func identify(p string) ident {
	id := ident{path: p, canon: Canonical(p)}
	if st, err := os.Stat(p); err == nil {
		id.info = st
	}
	return id
}

func (a ident) same(b ident) bool {
	if a.info != nil && b.info != nil && os.SameFile(a.info, b.info) {
		return true
	}
	return a.canon == b.canon
}

// Canonical returns p absolute and cleaned with every symbolic link in its
// existing part resolved: two paths of one file (./a, ../d/a, a link to a)
// give the same string, whether or not the file exists yet.
func Canonical(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return filepath.Clean(p)
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		return r
	}
	// Resolve the longest existing parent and keep the rest as written.
	dir, base := filepath.Split(abs)
	dir = filepath.Clean(dir)
	if dir == abs || base == "" {
		return abs
	}
	return filepath.Join(Canonical(dir), base)
}

// Outputs returns a *ConflictError if one of outputs is the same file as one
// of inputs, or two outputs are the same file. Empty paths and "-" (a
// standard stream) are skipped. An output that already exists and is no input
// may be replaced: that is the caller's atomic write.
func Outputs(inputs []string, outputs ...string) error {
	var ins, outs []ident
	for _, p := range inputs {
		if p != "" && p != "-" {
			ins = append(ins, identify(p))
		}
	}
	for _, p := range outputs {
		if p == "" || p == "-" {
			continue
		}
		o := identify(p)
		for _, in := range ins {
			if o.same(in) {
				return &ConflictError{Output: p, Other: in.path, Input: true}
			}
		}
		for _, prev := range outs {
			if o.same(prev) {
				return &ConflictError{Output: p, Other: prev.path}
			}
		}
		outs = append(outs, o)
	}
	return nil
}
