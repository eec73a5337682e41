// Package atomicfile writes files so that nothing half-written is ever left
// under the final name: data goes to a temporary file in the target folder,
// which is synced, closed and renamed over the target on Commit.
package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// File is a temporary file that becomes path on Commit. It implements
// io.Writer, io.WriterAt, io.Seeker and io.ReaderAt through the embedded *os.File.
// The caller owns it and must call Commit or Abort; Abort after Commit is a no-op.
type File struct {
	*os.File
	path string
	perm fs.FileMode
	done bool
}

// Create opens a temporary file beside path. perm is applied on Commit
// (0 means 0o644).
func Create(path string, perm fs.FileMode) (*File, error) {
	if perm == 0 {
		perm = 0o644
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return nil, err
	}
	return &File{File: f, path: path, perm: perm}, nil
}

// Commit syncs and closes the temporary file and renames it to the final path.
// On any error the temporary file is removed.
func (f *File) Commit() error {
	if f.done {
		return errors.New("atomicfile: already committed or aborted")
	}
	f.done = true
	tmp := f.File.Name()
	err := f.File.Sync()
	if cerr := f.File.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, f.perm)
	}
	if err == nil {
		err = os.Rename(tmp, f.path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// Abort closes and removes the temporary file. It is safe to call after
// Commit (then it does nothing) and more than once, so `defer f.Abort()` is the idiom.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	tmp := f.File.Name()
	f.File.Close()
	os.Remove(tmp)
}

// WriteFile writes data to path atomically.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	f, err := Create(path, perm)
	if err != nil {
		return err
	}
	defer f.Abort()
	if _, err := f.Write(data); err != nil {
		return err
	}
	return f.Commit()
}
