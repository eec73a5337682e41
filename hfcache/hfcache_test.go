package hfcache

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	commitMain = "0e9e39f249a16976918f6564b8830bc894c89659"
	commitOld  = "5206a32e0bd3067aef1ce90f5528ade7d866253f"
	commitPR   = "5206a32e0bd3067aef1ce90f5528ade7d8662540" // shares 30 digits with commitOld
)

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fakeCache builds a hub cache with one repo in several revisions and refs.
func fakeCache(t *testing.T, root string) {
	repo := filepath.Join(root, "models--meta-llama--Llama-3.1-8B")
	write(t, filepath.Join(repo, "refs", "main"), commitMain+"\n")
	write(t, filepath.Join(repo, "refs", "v1"), commitOld)
	write(t, filepath.Join(repo, "refs", "pr", "7"), commitPR)
	write(t, filepath.Join(repo, "refs", "broken"), "not-a-hash")
	write(t, filepath.Join(repo, "refs", "gone"), "1111111111111111111111111111111111111111")
	for _, c := range []string{commitMain, commitOld, commitPR} {
		write(t, filepath.Join(repo, "snapshots", c, "config.json"), `{"rev":"`+c+`"}`)
	}
	// A second repo whose download never finished: no refs, no snapshots.
	if err := os.MkdirAll(filepath.Join(root, "models--org--partial", "blobs"), 0o755); err != nil {
		t.Fatal(err)
	}
}

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestResolveHub(t *testing.T) {
	tmp := t.TempDir()
	cache := filepath.Join(tmp, "hfhome", "hub")
	fakeCache(t, cache)
	o := Options{Getenv: env(map[string]string{"HF_HOME": filepath.Join(tmp, "hfhome")}), Home: filepath.Join(tmp, "home")}

	cases := []struct {
		ref, commit string
	}{
		{"meta-llama/Llama-3.1-8B", commitMain},
		{"meta-llama/Llama-3.1-8B@main", commitMain},
		{"meta-llama/Llama-3.1-8B@v1", commitOld},
		{"meta-llama/Llama-3.1-8B@pr/7", commitPR},
		{"meta-llama/Llama-3.1-8B@" + commitOld, commitOld},
		{"meta-llama/Llama-3.1-8B@0e9e39f", commitMain},
	}
	for _, c := range cases {
		t.Run(c.ref, func(t *testing.T) {
			m, err := Resolve(c.ref, o)
			if err != nil {
				t.Fatal(err)
			}
			if m.Kind != KindHub || m.Commit != c.commit || m.Repo != "meta-llama/Llama-3.1-8B" || m.Cache != cache {
				t.Fatalf("got %+v", m)
			}
			if want := filepath.Join(cache, "models--meta-llama--Llama-3.1-8B", "snapshots", c.commit); m.Path != want {
				t.Fatalf("path %s, want %s", m.Path, want)
			}
			if _, err := os.Stat(filepath.Join(m.Path, "config.json")); err != nil {
				t.Fatal(err)
			}
		})
	}

	bad := []struct {
		ref, reason string
	}{
		{"meta-llama/Llama-3.1-8B@nope", "no ref or snapshot for revision nope"},
		{"meta-llama/Llama-3.1-8B@broken", "not a commit hash"},
		{"meta-llama/Llama-3.1-8B@gone", "incomplete download"},
		{"meta-llama/Llama-3.1-8B@5206a32e0bd3067aef1ce90f5528ade7d866", "ambiguous"},
		{"org/partial", "no snapshots folder"},
		{"org/absent", "not in any Hugging Face cache"},
	}
	for _, c := range bad {
		t.Run(c.ref, func(t *testing.T) {
			_, err := Resolve(c.ref, o)
			var nf *NotFoundError
			if !errors.As(err, &nf) || !errors.Is(err, ErrNotFound) {
				t.Fatalf("err %v, want *NotFoundError", err)
			}
			if !strings.Contains(nf.Reason, c.reason) {
				t.Fatalf("reason %q, want it to contain %q", nf.Reason, c.reason)
			}
			if len(nf.Looked) == 0 || !strings.Contains(err.Error(), "looked in") {
				t.Fatalf("error lists no places: %v", err)
			}
		})
	}
}

func TestResolveOrderAndLookedList(t *testing.T) {
	tmp := t.TempDir()
	first := filepath.Join(tmp, "explicit")
	second := filepath.Join(tmp, "hfhome", "hub")
	home := filepath.Join(tmp, "home")
	fakeCache(t, second)
	// The explicit cache has the repo at another commit: it wins.
	write(t, filepath.Join(first, "models--meta-llama--Llama-3.1-8B", "refs", "main"), commitOld)
	write(t, filepath.Join(first, "models--meta-llama--Llama-3.1-8B", "snapshots", commitOld, "config.json"), "{}")
	o := Options{Getenv: env(map[string]string{"HF_HUB_CACHE": first, "HF_HOME": filepath.Join(tmp, "hfhome")}), Home: home}
	m, err := Resolve("meta-llama/Llama-3.1-8B", o)
	if err != nil || m.Cache != first || m.Commit != commitOld {
		t.Fatalf("got %+v, %v", m, err)
	}
	// A repo in neither: every cache folder is listed, in order.
	_, err = Resolve("a/b", o)
	var nf *NotFoundError
	if !errors.As(err, &nf) {
		t.Fatal(err)
	}
	want := []string{
		filepath.Join(first, "models--a--b"),
		filepath.Join(second, "models--a--b"),
		filepath.Join(home, ".cache", "huggingface", "hub", "models--a--b"),
	}
	if strings.Join(nf.Looked, "|") != strings.Join(want, "|") {
		t.Fatalf("looked %q\nwant %q", nf.Looked, want)
	}
}

func TestCacheDirs(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		goos string
		want []string
	}{
		{"default", nil, "linux", []string{"/h/.cache/huggingface/hub"}},
		{"xdg", map[string]string{"XDG_CACHE_HOME": "/x"}, "linux", []string{"/x/huggingface/hub", "/h/.cache/huggingface/hub"}},
		{"all", map[string]string{"HF_HUB_CACHE": "/c", "HUGGINGFACE_HUB_CACHE": "/c", "HF_HOME": "/hf"}, "linux",
			[]string{"/c", "/hf/hub", "/h/.cache/huggingface/hub"}},
		{"tilde", map[string]string{"HF_HUB_CACHE": "~/hubcache"}, "linux", []string{"/h/hubcache", "/h/.cache/huggingface/hub"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := CacheDirs(Options{Getenv: env(c.env), Home: "/h", GOOS: c.goos})
			for i := range c.want {
				c.want[i] = filepath.FromSlash(c.want[i])
			}
			if strings.Join(got, "|") != strings.Join(c.want, "|") {
				t.Fatalf("got %q want %q", got, c.want)
			}
		})
	}
	// Windows: the home folder is %USERPROFILE%.
	got := CacheDirs(Options{Getenv: env(map[string]string{"USERPROFILE": "/Users/me", "HOME": "/wrong"}), GOOS: "windows"})
	if want := filepath.Join("/Users/me", ".cache", "huggingface", "hub"); len(got) != 1 || got[0] != want {
		t.Fatalf("windows: %q, want %q", got, want)
	}
}

func TestResolveLocal(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "llama")
	write(t, filepath.Join(dir, "config.json"), "{}")
	gg := filepath.Join(tmp, "m.Q4_K_M.GGUF")
	write(t, gg, "GGUF")
	txt := filepath.Join(tmp, "notes.txt")
	write(t, txt, "x")
	o := Options{Getenv: env(nil), Home: tmp}

	if m, err := Resolve(dir, o); err != nil || m.Kind != KindDir || m.Path != dir {
		t.Fatalf("dir: %+v %v", m, err)
	}
	if m, err := Resolve(gg, o); err != nil || m.Kind != KindGGUF {
		t.Fatalf("gguf: %+v %v", m, err)
	}
	if m, err := Resolve("~/llama", o); err != nil || m.Kind != KindDir || m.Path != dir {
		t.Fatalf("~: %+v %v", m, err)
	}
	if _, err := Resolve(txt, o); err == nil || errors.Is(err, ErrNotFound) {
		t.Fatalf("txt: %v", err)
	}
	for _, ref := range []string{"./missing/model", filepath.Join(tmp, "nope"), `C:\models\llama`, "a/b/c", "a/../b", "x@"} {
		if _, err := Resolve(ref, o); !errors.Is(err, ErrNotFound) {
			t.Fatalf("%s: %v", ref, err)
		}
	}
	if _, err := Resolve("", o); err == nil {
		t.Fatal("empty ref accepted")
	}
}

func TestParseRepoID(t *testing.T) {
	cases := []struct {
		in, repo, rev string
		ok            bool
	}{
		{"meta-llama/Llama-3.1-8B", "meta-llama/Llama-3.1-8B", "main", true},
		{"org/name@refs-x", "org/name", "refs-x", true},
		{"org/name@pr/1", "org/name", "pr/1", true},
		{"org/name@", "", "", false},
		{"org", "", "", false},
		{"org/na me", "", "", false},
		{"org/.hidden", "", "", false},
		{"org/name@../../etc", "", "", false},
	}
	for _, c := range cases {
		repo, rev, ok := ParseRepoID(c.in)
		if ok != c.ok || (ok && (repo != c.repo || rev != c.rev)) {
			t.Errorf("%s: got %s %s %v", c.in, repo, rev, ok)
		}
	}
}
