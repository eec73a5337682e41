package evalrun

import "testing"

func TestOllamaURL(t *testing.T) {
	cases := map[string]string{
		"":                        "http://127.0.0.1:11434",
		"0.0.0.0":                 "http://127.0.0.1:11434",
		"0.0.0.0:8080":            "http://127.0.0.1:8080",
		"example.com":             "http://example.com:11434",
		"https://example.com":     "https://example.com:443",
		"http://10.0.0.2:11434/x": "http://10.0.0.2:11434/x",
		"[::1]:9000":              "http://[::1]:9000",
		":11435":                  "http://127.0.0.1:11435",
	}
	for in, want := range cases {
		u, err := OllamaURL(in)
		if err != nil || u.String() != want {
			t.Errorf("%q: %v %v, want %s", in, u, err, want)
		}
	}
	if _, err := OllamaURL("ftp://x"); err == nil {
		t.Error("ftp accepted")
	}
}
