package pipeline

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// TrainEvent is one thing the trainer reported: a logged loss, a progress
// step, or both. Zero fields were not in the line.
type TrainEvent struct {
	// Step, Total: optimizer steps done and planned (from tqdm; Step also from
	// a 'step' key in a loss line, which the fallback trainer writes).
	Step, Total  int64
	Loss         float64 // training loss (from a {'loss': …} line)
	Epoch        float64
	LearningRate float64
	HasLoss      bool
	Line         string // the raw output line
}

// lossLine matches the dict transformers' Trainer prints on each logging step:
// {'loss': 1.2345, 'grad_norm': 0.5, 'learning_rate': 0.0002, 'epoch': 0.1}
// (newer versions quote the numbers: {'loss': '1.234', …}).
var (
	lossRe  = regexp.MustCompile(`['"]loss['"]\s*:\s*['"]?([-+0-9.eE]+|nan|inf)['"]?`)
	epochRe = regexp.MustCompile(`['"]epoch['"]\s*:\s*['"]?([-+0-9.eE]+)['"]?`)
	lrRe    = regexp.MustCompile(`['"]learning_rate['"]\s*:\s*['"]?([-+0-9.eE]+)['"]?`)
	stepRe  = regexp.MustCompile(`['"]step['"]\s*:\s*['"]?([0-9]+)['"]?`)
	// transformers' Trainer at the end: {'train_runtime': 12.3, …}
	runtimeRe = regexp.MustCompile(`['"]train_runtime['"]\s*:\s*['"]?([0-9.eE+]+)['"]?`)
	// tqdm: " 12%|█▏        | 12/100 [00:05<00:40,  2.1it/s]"
	tqdmRe = regexp.MustCompile(`\|\s*(\d+)/(\d+)\s*\[`)
)

// ParseTrainLine extracts a TrainEvent from one line of trainer output; ok is
// false when the line carries neither a loss nor a progress count.
func ParseTrainLine(line string) (TrainEvent, bool) {
	ev := TrainEvent{Line: line}
	ok := false
	if strings.Contains(line, "{") {
		if m := lossRe.FindStringSubmatch(line); m != nil {
			if v, err := strconv.ParseFloat(m[1], 64); err == nil {
				ev.Loss, ev.HasLoss, ok = v, true, true
			}
			if m := epochRe.FindStringSubmatch(line); m != nil {
				ev.Epoch, _ = strconv.ParseFloat(m[1], 64)
			}
			if m := lrRe.FindStringSubmatch(line); m != nil {
				ev.LearningRate, _ = strconv.ParseFloat(m[1], 64)
			}
			if m := stepRe.FindStringSubmatch(line); m != nil {
				ev.Step, _ = strconv.ParseInt(m[1], 10, 64) // the fallback trainer says its step
			}
		}
	}
	if m := tqdmRe.FindStringSubmatch(line); m != nil {
		ev.Step, _ = strconv.ParseInt(m[1], 10, 64)
		ev.Total, _ = strconv.ParseInt(m[2], 10, 64)
		ok = true
	}
	return ev, ok
}

// ParseTrainRuntime reads the seconds of the training loop alone (no
// imports, no model load) from the line transformers' Trainer prints at the
// end, {'train_runtime': 12.3, …}, which LLaMA-Factory and the fallback
// trainer both print.
func ParseTrainRuntime(line string) (float64, bool) {
	if !strings.Contains(line, "train_runtime") { // most lines: no regexp
		return 0, false
	}
	m := runtimeRe.FindStringSubmatch(line)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	return v, err == nil
}

// Command is a child process to run: the program, its arguments, and the
// variables added to (or replacing those in) the inherited environment.
type Command struct {
	Path string
	Args []string
	Env  []string // "KEY=value"
	Dir  string
}

func (c Command) String() string {
	var b strings.Builder
	for _, e := range c.Env {
		b.WriteString(shellQuote(e))
		b.WriteByte(' ')
	}
	b.WriteString(shellQuote(c.Path))
	for _, a := range c.Args {
		b.WriteByte(' ')
		b.WriteString(shellQuote(a))
	}
	return b.String()
}

func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// ProcessError is a child process that failed; Tail holds the last lines of
// its output (stderr and stdout interleaved as written).
type ProcessError struct {
	Cmd  string
	Err  error // *exec.ExitError or the start error
	Tail string
}

func (e *ProcessError) Error() string {
	msg := fmt.Sprintf("%s: %v", e.Cmd, e.Err)
	if e.Tail != "" {
		msg += "\n--- last output ---\n" + strings.TrimRight(e.Tail, "\n")
	}
	return msg
}

func (e *ProcessError) Unwrap() error { return e.Err }

// RunOptions control RunProcess.
type RunOptions struct {
	// OnLine receives every line of output (stdout and stderr; carriage
	// returns from progress bars end a line too). It is called from one
	// goroutine at a time.
	OnLine func(line string, stderr bool)
	// TailLines is how many trailing lines a failure keeps (default 40).
	TailLines int
	// Grace is how long the process group has between SIGINT and SIGKILL
	// after ctx is cancelled (default 5s).
	Grace time.Duration
	// Stdout, Stderr receive raw copies of the output when non-nil.
	Stdout, Stderr io.Writer
}

// RunProcess runs c in its own process group and waits. When ctx is
// cancelled it interrupts the whole group (SIGINT, then SIGKILL after Grace),
// so torchrun workers and dataloader processes die with the trainer, and
// returns ctx.Err(). A failure returns a *ProcessError with the output tail.
func RunProcess(ctx context.Context, c Command, o RunOptions) error {
	if o.TailLines <= 0 {
		o.TailLines = 40
	}
	if o.Grace <= 0 {
		o.Grace = 5 * time.Second
	}
	cmd := exec.Command(c.Path, c.Args...)
	cmd.Dir = c.Dir
	cmd.Env = mergeEnv(os.Environ(), c.Env)
	setProcessGroup(cmd)
	// Our own pipes, not StdoutPipe: Wait must not wait for grandchildren that
	// keep the write ends open (a leftover dataloader worker).
	outR, outW, err := os.Pipe()
	if err != nil {
		return err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return err
	}
	defer outR.Close()
	defer errR.Close()
	cmd.Stdout, cmd.Stderr = outW, errW
	if err := ctx.Err(); err != nil {
		outW.Close()
		errW.Close()
		return err
	}
	err = cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		return &ProcessError{Cmd: c.String(), Err: err}
	}
	tail := &tailBuffer{max: o.TailLines}
	var mu sync.Mutex // serialises OnLine
	var wg sync.WaitGroup
	read := func(r io.Reader, raw io.Writer, stderr bool) {
		defer wg.Done()
		if raw != nil {
			r = io.TeeReader(r, raw)
		}
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		sc.Split(scanLinesCR)
		for sc.Scan() {
			line := sc.Text()
			mu.Lock()
			tail.add(line)
			if o.OnLine != nil {
				o.OnLine(line, stderr)
			}
			mu.Unlock()
		}
		io.Copy(io.Discard, r) // a line over 4 MiB: keep draining so the child never blocks
	}
	wg.Add(2)
	go read(outR, o.Stdout, false)
	go read(errR, o.Stderr, true)

	done := make(chan struct{})
	killed := make(chan struct{})
	go func() {
		select {
		case <-done:
			return
		case <-ctx.Done():
		}
		close(killed)
		interruptGroup(cmd.Process)
		select {
		case <-done:
		case <-time.After(o.Grace):
			killGroup(cmd.Process)
		}
	}()
	werr := cmd.Wait()
	close(done)
	wasKilled := false
	select {
	case <-killed:
		wasKilled = true
		killGroup(cmd.Process) // the leader is gone; nothing in its group outlives a cancel
	default:
	}
	readers := make(chan struct{})
	go func() { wg.Wait(); close(readers) }()
	select {
	case <-readers:
	case <-time.After(2 * time.Second):
		// The trainer exited but something in its group still holds the
		// output open: end the group and stop reading.
		killGroup(cmd.Process)
		outR.Close()
		errR.Close()
		<-readers
	}
	if wasKilled {
		return ctx.Err()
	}
	if werr != nil {
		return &ProcessError{Cmd: c.String(), Err: werr, Tail: tail.String()}
	}
	return nil
}

// mergeEnv returns base with the KEY=value pairs of add replacing or appended.
func mergeEnv(base, add []string) []string {
	out := make([]string, 0, len(base)+len(add))
	keys := map[string]bool{}
	for _, kv := range add {
		k, _, _ := strings.Cut(kv, "=")
		keys[k] = true
	}
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if !keys[k] {
			out = append(out, kv)
		}
	}
	return append(out, add...)
}

// scanLinesCR splits on \n, \r\n and a lone \r (tqdm redraws with \r).
func scanLinesCR(data []byte, atEOF bool) (int, []byte, error) {
	if atEOF && len(data) == 0 {
		return 0, nil, nil
	}
	if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
		adv := i + 1
		if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			adv++
		} else if data[i] == '\r' && i+1 == len(data) && !atEOF {
			return 0, nil, nil // maybe \r\n split across reads
		}
		return adv, data[:i], nil
	}
	if atEOF {
		return len(data), data, nil
	}
	return 0, nil, nil
}

// tailBuffer keeps the last max non-empty lines.
type tailBuffer struct {
	max   int
	lines []string
}

func (t *tailBuffer) add(s string) {
	if strings.TrimSpace(s) == "" {
		return
	}
	if len(s) > 2000 {
		s = s[:2000] + "…"
	}
	t.lines = append(t.lines, s)
	if len(t.lines) > t.max {
		t.lines = t.lines[len(t.lines)-t.max:]
	}
}

func (t *tailBuffer) String() string {
	if len(t.lines) == 0 {
		return ""
	}
	return strings.Join(t.lines, "\n") + "\n"
}

var errNoTrainer = errors.New("pipeline: no trainer available")
