package pipeline

import (
	"errors"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/sattva/sattva/hfcache"
)

// DefaultBaseID is the Hugging Face id of the model a new project's default
// base folder (models/llama-3.1-8b) is meant to hold.
const DefaultBaseID = "meta-llama/Llama-3.1-8B"

// ErrBaseMissing is matched (errors.Is) when the base model's weights are not
// on this machine yet: the project names a folder that does not exist, or a
// Hugging Face id that is not in the local cache.
var ErrBaseMissing = errors.New("pipeline: base model not downloaded")

// BaseDir is the resolved base model folder: base: as a folder relative to
// the project file when one exists there, else the snapshot folder of a
// Hugging Face id (org/name[@rev]) in the local hub cache, else the folder
// the path names (which does not exist yet; CheckBase says what to run).
func (p *Project) BaseDir() string {
	local := p.Resolve(p.Base)
	if _, err := os.Stat(local); err == nil {
		return local
	}
	if m, err := hfcache.Resolve(p.Base, hfcache.Options{}); err == nil && m.Kind == hfcache.KindHub {
		return m.Path
	}
	return local
}

// BaseIsHubID reports whether base: names a Hugging Face id rather than a
// folder: no folder of that name exists beside the project file and it has
// the form org/name[@rev] without a leading ./, / or ~.
func (p *Project) BaseIsHubID() bool {
	if _, err := os.Stat(p.Resolve(p.Base)); err == nil {
		return false
	}
	if strings.HasPrefix(p.Base, ".") || strings.HasPrefix(p.Base, "/") || strings.HasPrefix(p.Base, "~") || filepath.IsAbs(p.Base) {
		return false
	}
	_, _, ok := hfcache.ParseRepoID(p.Base)
	// "models/llama-3.1-8b" parses as an id too; the project layout puts
	// weights under models/, so that prefix means a folder.
	return ok && !strings.HasPrefix(p.Base, "models/")
}

// DownloadCommand is the command that puts the base model where the project
// looks for it: huggingface-cli download ID (into the hub cache) for an id,
// or ... --local-dir FOLDER for a folder.
func (p *Project) DownloadCommand() string {
	if p.BaseIsHubID() {
		repo, rev, _ := hfcache.ParseRepoID(p.Base)
		cmd := "huggingface-cli download " + repo
		if rev != "" && rev != "main" {
			cmd += " --revision " + rev
		}
		return cmd
	}
	id := "ORG/NAME"
	if strings.EqualFold(path.Base(filepath.ToSlash(p.Base)), path.Base(DefaultBaseID)) {
		id = DefaultBaseID
	}
	return "huggingface-cli download " + id + " --local-dir " + p.Resolve(p.Base)
}

// baseMissing is the error for weights that are not on this machine yet,
// positioned at base: in the project file (exit code 3).
func (p *Project) baseMissing() error {
	where := p.Resolve(p.Base)
	if p.BaseIsHubID() {
		where = p.Base + " is not in the Hugging Face cache (" + strings.Join(hfcache.CacheDirs(hfcache.Options{}), ", ") + ")"
	} else {
		where = "no folder " + where
	}
	fe := p.errAt("base", "the base model is not downloaded yet: %s; fetch it with\n  %s\n(or set base: to a Hugging Face folder on this machine)", where, p.DownloadCommand())
	return &baseMissingError{fe}
}

type baseMissingError struct{ *FieldError }

func (e *baseMissingError) Unwrap() error { return e.FieldError }
func (e *baseMissingError) Is(target error) bool {
	return target == ErrBaseMissing || target == ErrProject
}

// CheckBase refuses a base folder that is not a Hugging Face checkpoint; a
// base that is not downloaded yet is ErrBaseMissing with the command to run.
func (p *Project) CheckBase() error {
	dir := p.BaseDir()
	st, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return p.baseMissing()
	}
	if err != nil {
		return p.Errorf("base", "base model folder %s: %v", dir, errors.Unwrap(err))
	}
	if !st.IsDir() {
		return p.Errorf("base", "%s is not a folder (a Hugging Face checkpoint folder is expected)", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err != nil {
		return p.Errorf("base", "%s has no config.json: not a Hugging Face checkpoint folder", dir)
	}
	m, _ := filepath.Glob(filepath.Join(dir, "*.safetensors"))
	if len(m) == 0 {
		return p.Errorf("base", "%s has no *.safetensors weights", dir)
	}
	return nil
}
