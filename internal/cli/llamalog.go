package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
)

// harmlessLlamaLine is a llama.cpp warning that sattva's own setup makes
// expected; -v prints the explanation once, beside the first such line.
type harmlessLlamaLine struct {
	contains string
	why      string
}

// harmlessLlamaLines are the warnings llama.cpp prints on models and settings
// that are right. Each was read in the pinned llama.cpp (src/llama-vocab.cpp,
// src/llama-context.cpp).
var harmlessLlamaLines = []harmlessLlamaLine{
	{"special_eos_id is not in special_eog_ids", "llama.cpp adds the EOS token to its end-of-generation set just before printing this, so generation still stops at it; the EOG list printed next is the one in use"},
	{"special_eot_id is not in special_eog_ids", "llama.cpp adds the end-of-turn token to its end-of-generation set just before printing this"},
	{"< n_ctx_train", "sattva opens a context of at most 4096 tokens unless -c says more; the model could take more, which only matters for longer prompts"},
	{"Flash Attention was auto, set to disabled", "-fa auto turns flash attention off where the backend has no kernel for it; results are the same"},
	{"n_ctx is not divisible by n_seq_max", "with several sequences the context is split evenly; llama.cpp rounds the total down"},
}

// llamaLogHandler prints llama.cpp's log (and the binding's own notes) as
// plain lines for people: "llama.cpp: …". By default only errors (and the
// binding's warnings, which say what to fix) pass; with verbose everything
// does, and known-harmless warnings are explained once.
type llamaLogHandler struct {
	w       io.Writer
	verbose bool

	mu        *sync.Mutex
	explained map[string]bool
}

// newLlamaLogger returns the logger the model-running commands pass to
// llamacpp: quiet by default, everything with -v.
func newLlamaLogger(w io.Writer, verbose bool) *slog.Logger {
	return slog.New(&llamaLogHandler{w: w, verbose: verbose, mu: &sync.Mutex{}, explained: map[string]bool{}})
}

func (h *llamaLogHandler) Enabled(_ context.Context, l slog.Level) bool {
	return h.verbose || l >= slog.LevelWarn
}

func (h *llamaLogHandler) Handle(_ context.Context, r slog.Record) error {
	fromLlama := false
	var attrs []string
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "from" && a.Value.String() == "llama.cpp" {
			fromLlama = true
		} else {
			attrs = append(attrs, a.Key+"="+a.Value.String())
		}
		return true
	})
	// llama.cpp's warnings are for llama.cpp's developers; without -v only
	// its errors reach the user.
	if fromLlama && !h.verbose && r.Level < slog.LevelError {
		return nil
	}
	msg := r.Message
	prefix := "llama.cpp: "
	if !fromLlama {
		prefix = "note: "
		msg = strings.TrimPrefix(msg, "llamacpp: ")
	}
	if r.Level >= slog.LevelError {
		prefix += "error: "
	}
	line := prefix + msg
	if len(attrs) > 0 {
		line += " (" + strings.Join(attrs, ", ") + ")"
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	fmt.Fprintln(h.w, line)
	if fromLlama && r.Level == slog.LevelWarn {
		for _, k := range harmlessLlamaLines {
			if strings.Contains(msg, k.contains) && !h.explained[k.contains] {
				h.explained[k.contains] = true
				fmt.Fprintf(h.w, "  (harmless: %s)\n", k.why)
			}
		}
	}
	return nil
}

func (h *llamaLogHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *llamaLogHandler) WithGroup(string) slog.Handler      { return h }
