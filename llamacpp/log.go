//go:build cgo

package llamacpp

/*
#include <stdint.h>
*/
import "C"

import (
	"context"
	"io"
	"log/slog"
	"runtime/cgo"
	"strings"
	"sync"
	"sync/atomic"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// logSink turns llama.cpp's log callbacks (pieces of lines, continuation
// records) into one slog record per line.
type logSink struct {
	logger  atomic.Pointer[slog.Logger]
	mu      sync.Mutex
	buf     strings.Builder
	level   slog.Level
	lastErr string   // the last ERROR line, for load failures
	capture []string // "… buffer size = …" lines while capturing (a model load)
	capOn   bool
	// stopping counts the collectors running whose decodes end by the abort
	// callback on purpose; while it is positive the lines llama.cpp logs for
	// such an abort are dropped (see stopLines).
	stopping atomic.Int32
}

// stopLines are what llama.cpp logs when a decode's graph is aborted
// (GGML_STATUS_ABORTED, 1; llama_decode returns 2), as CollectIMatrix does
// after the last weight of every chunk.
var stopLines = []string{
	"ggml_backend_sched_graph_compute_async failed with error 1",
	"failed to compute graph, compute status: 1",
	"removing memory module entries for seq_id",
	"failed to decode, ret = 2",
}

func isStopLine(line string) bool {
	for _, l := range stopLines {
		if strings.Contains(line, l) {
			return true
		}
	}
	return false
}

func newLogSink(l *slog.Logger) *logSink {
	s := &logSink{}
	s.logger.Store(l)
	return s
}

func (s *logSink) setLogger(l *slog.Logger) { s.logger.Store(l) }

// ggml_log_level values.
const (
	ggmlLogNone  = 0
	ggmlLogDebug = 1
	ggmlLogInfo  = 2
	ggmlLogWarn  = 3
	ggmlLogError = 4
	ggmlLogCont  = 5
)

func (s *logSink) write(level int, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if level != ggmlLogCont {
		if s.buf.Len() > 0 {
			s.flushLocked()
		}
		switch level {
		case ggmlLogError:
			s.level = slog.LevelError
		case ggmlLogWarn:
			s.level = slog.LevelWarn
		case ggmlLogDebug:
			s.level = slog.LevelDebug - 4
		default:
			s.level = slog.LevelDebug
		}
	}
	for {
		i := strings.IndexByte(text, '\n')
		if i < 0 {
			s.buf.WriteString(text)
			return
		}
		s.buf.WriteString(text[:i])
		s.flushLocked()
		text = text[i+1:]
	}
}

func (s *logSink) flushLocked() {
	line := strings.TrimSpace(s.buf.String())
	s.buf.Reset()
	if line == "" || (s.stopping.Load() > 0 && isStopLine(line)) {
		return
	}
	if s.level >= slog.LevelError {
		s.lastErr = line
	}
	if s.capOn && strings.Contains(line, "buffer size") {
		s.capture = append(s.capture, line)
	}
	l := s.logger.Load()
	if l.Enabled(context.Background(), s.level) {
		l.Log(context.Background(), s.level, line, "from", "llama.cpp")
	}
}

// takeLastError returns and clears the last ERROR line.
func (s *logSink) takeLastError() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.buf.Len() > 0 {
		s.flushLocked()
	}
	e := s.lastErr
	s.lastErr = ""
	return e
}

// startCapture starts collecting llama.cpp's buffer-size lines (the caller
// holds engine.loadMu, so the lines are its load's).
func (s *logSink) startCapture() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.capture, s.capOn = nil, true
}

// stopCapture stops collecting and returns the lines collected.
func (s *logSink) stopCapture() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.buf.Len() > 0 {
		s.flushLocked()
	}
	l := s.capture
	s.capture, s.capOn = nil, false
	return l
}

//export sattvaGoLog
func sattvaGoLog(level C.int, text *C.char, h C.uintptr_t) {
	s, ok := cgo.Handle(h).Value().(*logSink)
	if !ok || text == nil {
		return
	}
	s.write(int(level), C.GoString(text))
}
