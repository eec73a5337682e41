package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/sattva/sattva/internal/atomicfile"
)

// HashFile returns the hex sha256 and size of the file at path.
func HashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// HashCache remembers file hashes by path, size and modification time, so a
// re-run does not re-read a 16 GB base model. A nil *HashCache hashes every
// time. It is safe for concurrent use.
type HashCache struct {
	mu      sync.Mutex
	path    string
	entries map[string]hashEntry
	dirty   bool
}

type hashEntry struct {
	Size    int64  `json:"size"`
	ModNano int64  `json:"mtime_ns"`
	SHA256  string `json:"sha256"`
}

// OpenHashCache loads the cache file at path (missing is empty).
func OpenHashCache(path string) *HashCache {
	c := &HashCache{path: path, entries: map[string]hashEntry{}}
	if b, err := os.ReadFile(path); err == nil {
		json.Unmarshal(b, &c.entries) // a damaged cache is an empty one
	}
	return c
}

// Save writes the cache back if it changed.
func (c *HashCache) Save() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.dirty || c.path == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(c.path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(c.entries, "", " ")
	if err != nil {
		return err
	}
	c.dirty = false
	return atomicfile.WriteFile(c.path, b, 0o644)
}

// File hashes one file.
func (c *HashCache) File(path string) (Input, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return Input{}, err
	}
	st, err := os.Stat(abs)
	if err != nil {
		return Input{}, err
	}
	if st.IsDir() {
		return Input{}, fmt.Errorf("%s is a folder", abs)
	}
	if c != nil {
		c.mu.Lock()
		e, ok := c.entries[abs]
		c.mu.Unlock()
		if ok && e.Size == st.Size() && e.ModNano == st.ModTime().UnixNano() {
			return Input{Path: abs, SHA256: e.SHA256, Size: e.Size}, nil
		}
	}
	sum, n, err := HashFile(abs)
	if err != nil {
		return Input{}, err
	}
	if c != nil {
		c.mu.Lock()
		c.entries[abs] = hashEntry{Size: n, ModNano: st.ModTime().UnixNano(), SHA256: sum}
		c.dirty = true
		c.mu.Unlock()
	}
	return Input{Path: abs, SHA256: sum, Size: n}, nil
}

// Dir hashes a folder: the sha256 of the lines "relative/path sha256\n" of
// every regular file under it, sorted by path. Hidden files and folders
// (".cache", ".git") are left out; so are the trainer's checkpoint-* folders.
func (c *HashCache) Dir(dir string) (Input, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Input{}, err
	}
	var files []string
	err = filepath.WalkDir(abs, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if path != abs && (strings.HasPrefix(name, ".") || d.IsDir() && strings.HasPrefix(name, "checkpoint-")) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return Input{}, err
	}
	sort.Strings(files)
	h := sha256.New()
	var total int64
	for _, f := range files {
		in, err := c.File(f)
		if err != nil {
			return Input{}, err
		}
		rel, _ := filepath.Rel(abs, f)
		fmt.Fprintf(h, "%s %s\n", filepath.ToSlash(rel), in.SHA256)
		total += in.Size
	}
	return Input{Path: abs, SHA256: hex.EncodeToString(h.Sum(nil)), Size: total}, nil
}
