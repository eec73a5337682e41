// Package atomicfile writes files so that nothing half-written is ever left
// under the final name: data goes to a temporary file in the target folder,
// which is synced, closed and renamed over the target on Commit.
//
// A path that is a symbolic link is written through: the temporary file goes
// beside the link's target and replaces the target, so the link stays a link.
// Cancellation is decided before the rename: Commit of a File made by
// CreateContext whose context is done removes the temporary file and returns
// the context's error; once the rename has happened, Commit returns nil.
package atomicfile

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// File is a temporary file that becomes path on Commit. It implements
// io.Writer, io.WriterAt, io.Seeker and io.ReaderAt through the embedded *os.File.
// The caller owns it and must call Commit or Abort; Abort after Commit is a no-op.
type File struct {
	*os.File
	ctx  context.Context
	path string
	perm fs.FileMode
	done bool
}

// live holds the names of the temporary files of this process not yet
// committed or aborted, for RemoveTemporaries. It is the package's one
// piece of global state: a process that must exit at once (a second Ctrl-C)
// has no other way to find them.
var live sync.Map

// Create opens a temporary file beside path (beside its target when path
// is a symbolic link). perm is applied on Commit (0 means 0o644).
func Create(path string, perm fs.FileMode) (*File, error) {
	return CreateContext(context.Background(), path, perm)
}

// CreateContext is Create for a write that ctx may cancel: Commit checks ctx
// just before the rename.
func CreateContext(ctx context.Context, path string, perm fs.FileMode) (*File, error) {
	if perm == 0 {
		perm = 0o644
	}
	if st, err := os.Lstat(path); err == nil && st.Mode()&fs.ModeSymlink != 0 {
		if target, err := filepath.EvalSymlinks(path); err == nil {
			path = target
		}
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return nil, err
	}
	live.Store(f.Name(), struct{}{})
	return &File{File: f, ctx: ctx, path: path, perm: perm}, nil
}

// Path returns the final path: the one given to Create, or the target of
// the link it named.
func (f *File) Path() string { return f.path }

// RemoveTemporaries removes the temporary files of every File of this
// process that is neither committed nor aborted. It is for a process about
// to exit at once; those Files must not be used afterwards.
func RemoveTemporaries() {
	live.Range(func(k, _ any) bool {
		os.Remove(k.(string))
		live.Delete(k)
		return true
	})
}

// Commit syncs and closes the temporary file and renames it to the final
// path, unless the File's context is done: then, as on any error, the
// temporary file is removed and the error returned.
func (f *File) Commit() error {
	if f.done {
		return errors.New("atomicfile: already committed or aborted")
	}
	f.done = true
	tmp := f.File.Name()
	defer live.Delete(tmp)
	err := f.File.Sync()
	if cerr := f.File.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, f.perm)
	}
	if err == nil {
		err = f.ctx.Err()
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
	live.Delete(tmp)
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
