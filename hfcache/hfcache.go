// Package hfcache resolves a model reference — a model folder, a GGUF file, or a
// Hugging Face id such as "meta-llama/Llama-3.1-8B" or "org/name@rev" — to a
// local path. Hugging Face ids are looked up in the local Hugging Face hub
// cache only (the layout huggingface_hub writes: models--org--name/refs/<ref>
// and snapshots/<commit>/); nothing is ever downloaded.
package hfcache

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
)

// Kind says what a reference resolved to.
type Kind string

// The kinds of model reference.
const (
	KindDir  Kind = "dir"  // a model folder on disk (config.json, safetensors, ...)
	KindGGUF Kind = "gguf" // a single GGUF file
	KindHub  Kind = "hub"  // a snapshot folder in the Hugging Face cache
)

// Model is a resolved model reference.
type Model struct {
	Ref  string `json:"ref"`  // the reference as given
	Kind Kind   `json:"kind"` // dir, gguf or hub
	Path string `json:"path"` // absolute path of the folder or file

	// For KindHub only.
	Repo     string `json:"repo,omitempty"`     // "org/name"
	Revision string `json:"revision,omitempty"` // the ref or commit asked for ("main" by default)
	Commit   string `json:"commit,omitempty"`   // the snapshot's commit hash
	Cache    string `json:"cache,omitempty"`    // the hub cache folder it was found in
}

// Options tells Resolve where to look. The zero value uses the process
// environment and the user's home folder.
type Options struct {
	// Getenv reads an environment variable; nil means os.Getenv.
	Getenv func(string) string
	// Home is the user's home folder; "" means os.UserHomeDir().
	Home string
	// GOOS selects the platform defaults; "" means runtime.GOOS.
	GOOS string
}

// ErrNotFound is matched (errors.Is) by every *NotFoundError.
var ErrNotFound = errors.New("hfcache: model not found")

// NotFoundError says that a reference could not be resolved and lists every
// place that was looked at, in order.
type NotFoundError struct {
	Ref    string
	Reason string   // what was missing, e.g. "no snapshot for revision main"
	Looked []string // the paths tried
}

func (e *NotFoundError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "model %q not found", e.Ref)
	if e.Reason != "" {
		fmt.Fprintf(&b, ": %s", e.Reason)
	}
	if len(e.Looked) > 0 {
		b.WriteString("; looked in:")
		for _, l := range e.Looked {
			b.WriteString("\n  ")
			b.WriteString(l)
		}
	}
	b.WriteString("\n(sattva never downloads: use a local folder, a .gguf file, or fetch the model first with `huggingface-cli download ORG/NAME`)")
	return b.String()
}

// Is reports whether target is ErrNotFound.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

func (o Options) getenv(k string) string {
	if o.Getenv != nil {
		return o.Getenv(k)
	}
	return os.Getenv(k)
}

func (o Options) goos() string {
	if o.GOOS != "" {
		return o.GOOS
	}
	return runtime.GOOS
}

func (o Options) home() string {
	if o.Home != "" {
		return o.Home
	}
	if o.goos() == "windows" {
		if h := o.getenv("USERPROFILE"); h != "" {
			return h
		}
	}
	if h := o.getenv("HOME"); h != "" {
		return h
	}
	h, _ := os.UserHomeDir()
	return h
}

// CacheDirs returns the hub cache folders to search, most specific first, as
// huggingface_hub chooses them: $HF_HUB_CACHE (or the older
// $HUGGINGFACE_HUB_CACHE), $HF_HOME/hub, then the default
// $XDG_CACHE_HOME/huggingface/hub or ~/.cache/huggingface/hub (on Windows
// %USERPROFILE%\.cache\huggingface\hub). Duplicates are removed.
func CacheDirs(o Options) []string {
	var dirs []string
	add := func(d string) {
		if d == "" {
			return
		}
		d = filepath.Clean(expandHome(d, o))
		for _, x := range dirs {
			if x == d {
				return
			}
		}
		dirs = append(dirs, d)
	}
	add(o.getenv("HF_HUB_CACHE"))
	add(o.getenv("HUGGINGFACE_HUB_CACHE"))
	if h := o.getenv("HF_HOME"); h != "" {
		add(filepath.Join(h, "hub"))
	}
	if x := o.getenv("XDG_CACHE_HOME"); x != "" {
		add(filepath.Join(x, "huggingface", "hub"))
	}
	if h := o.home(); h != "" {
		add(filepath.Join(h, ".cache", "huggingface", "hub"))
	}
	return dirs
}

func expandHome(p string, o Options) string {
	if p == "~" || strings.HasPrefix(p, "~/") || strings.HasPrefix(p, `~\`) {
		return filepath.Join(o.home(), p[1:])
	}
	return p
}

// ParseRepoID splits "org/name" or "org/name@rev" into repo and revision
// ("main" when none is given). ok is false when s is not shaped like a hub id.
func ParseRepoID(s string) (repo, rev string, ok bool) {
	repo, rev = s, "main"
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		repo, rev = s[:i], s[i+1:]
		if rev == "" {
			return "", "", false
		}
	}
	org, name, found := strings.Cut(repo, "/")
	if !found || !validIDPart(org) || !validIDPart(name) {
		return "", "", false
	}
	if strings.Contains(rev, "..") || strings.ContainsAny(rev, `\`) || strings.HasPrefix(rev, "/") {
		return "", "", false
	}
	return repo, rev, true
}

// validIDPart reports whether s is a valid part of a hub id: letters, digits,
// '-', '_', '.', not starting or ending with '.' and no "..".
func validIDPart(s string) bool {
	if s == "" || len(s) > 96 || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
		default:
			return false
		}
	}
	return true
}

// RepoFolderName is the cache folder of a model repo: "models--org--name".
func RepoFolderName(repo string) string {
	return "models--" + strings.ReplaceAll(repo, "/", "--")
}

// Resolve turns ref into a local model. A path that exists is used as it is
// (a folder, or a file that must end in .gguf); otherwise ref must be a hub id,
// looked up in CacheDirs. The error for a missing model is a *NotFoundError
// listing every place looked at.
func Resolve(ref string, o Options) (*Model, error) {
	if ref == "" {
		return nil, errors.New("hfcache: empty model reference")
	}
	p := expandHome(ref, o)
	if fi, err := os.Stat(p); err == nil {
		abs, aerr := filepath.Abs(p)
		if aerr != nil {
			abs = p
		}
		if fi.IsDir() {
			return &Model{Ref: ref, Kind: KindDir, Path: abs}, nil
		}
		if strings.EqualFold(filepath.Ext(p), ".gguf") {
			return &Model{Ref: ref, Kind: KindGGUF, Path: abs}, nil
		}
		return nil, fmt.Errorf("hfcache: %s is a file but not a .gguf; give a model folder, a .gguf file or a Hugging Face id", ref)
	}
	repo, rev, ok := ParseRepoID(ref)
	if !ok || looksLikePath(ref) {
		return nil, &NotFoundError{Ref: ref, Reason: "no such file or folder, and not a Hugging Face id (org/name[@rev])", Looked: []string{p}}
	}
	var looked []string
	var reason string
	for _, dir := range CacheDirs(o) {
		repoDir := filepath.Join(dir, RepoFolderName(repo))
		if _, err := os.Stat(repoDir); err != nil {
			looked = append(looked, repoDir)
			continue
		}
		commit, snap, why := findSnapshot(repoDir, rev)
		if snap == "" {
			looked = append(looked, repoDir+" ("+why+")")
			reason = why
			continue
		}
		return &Model{Ref: ref, Kind: KindHub, Path: snap, Repo: repo, Revision: rev, Commit: commit, Cache: dir}, nil
	}
	if reason == "" {
		reason = "not in any Hugging Face cache"
	}
	return nil, &NotFoundError{Ref: ref, Reason: reason, Looked: looked}
}

// looksLikePath reports whether ref is clearly meant as a path (./x, ../x,
// /x, C:\x, x\y), which is then never taken for a hub id.
func looksLikePath(ref string) bool {
	if strings.HasPrefix(ref, ".") || strings.HasPrefix(ref, "/") || strings.HasPrefix(ref, "~") || strings.Contains(ref, `\`) {
		return true
	}
	return len(ref) >= 2 && ref[1] == ':'
}

// findSnapshot finds the snapshot folder of rev under a repo folder: rev is a
// ref name (refs/<rev> holds a commit hash), a full commit hash, or a unique
// prefix of at least 7 hex digits of one. why says what failed.
func findSnapshot(repoDir, rev string) (commit, snap, why string) {
	snaps := filepath.Join(repoDir, "snapshots")
	if b, err := os.ReadFile(filepath.Join(repoDir, "refs", filepath.FromSlash(rev))); err == nil {
		commit = strings.TrimSpace(string(b))
		if !isHex(commit) {
			return "", "", fmt.Sprintf("refs/%s holds %q, not a commit hash", rev, commit)
		}
		d := filepath.Join(snaps, commit)
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			return commit, d, ""
		}
		return "", "", fmt.Sprintf("refs/%s points to %s but snapshots/%s is missing (incomplete download?)", rev, short(commit), short(commit))
	}
	entries, err := os.ReadDir(snaps)
	if err != nil {
		return "", "", "no snapshots folder"
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	if isHex(rev) && len(rev) >= 7 {
		var match []string
		for _, n := range names {
			if strings.HasPrefix(n, strings.ToLower(rev)) {
				match = append(match, n)
			}
		}
		switch len(match) {
		case 1:
			return match[0], filepath.Join(snaps, match[0]), ""
		case 0:
		default:
			return "", "", fmt.Sprintf("revision %s is ambiguous: %s", rev, strings.Join(match, ", "))
		}
	}
	if len(names) == 0 {
		return "", "", "no snapshots"
	}
	return "", "", fmt.Sprintf("no ref or snapshot for revision %s (snapshots: %s)", rev, strings.Join(shorts(names), ", "))
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F') {
			return false
		}
	}
	return true
}

func short(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}

func shorts(cs []string) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = short(c)
	}
	return out
}

// InvalidInput marks a model that is not on this machine as a missing input
// (the command-line's exit code 3).
func (e *NotFoundError) InvalidInput() bool { return true }
