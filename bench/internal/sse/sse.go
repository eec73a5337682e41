// Package sse reads one streamed OpenAI completion or chat completion
// (server-sent events) and times it, for the load and speed tools under
// bench/. It is the one place that decides how a streamed request's
// generation speed is measured, so that bench/serveload (against a running
// server) and bench/servetg (against serve's handler in process) agree.
//
// The decode rate of a request is its generated tokens after the first,
// divided by the time from the first text to the end of the stream:
//
//	rate = (usage.completion_tokens - 1) / (t_end - t_first)
//
// The count comes from the server's usage (stream_options.include_usage),
// not from the number of chunks: a token whose text is empty (a control
// token) or an incomplete UTF-8 sequence (a character split over tokens)
// sends no chunk of its own, so counting chunks undercounts the tokens of
// a byte-level vocabulary. t_end is the arrival of the chunk that carries
// finish_reason, which the server writes right after the last token's text
// (a held-back tail of text arrives with it). The first token is left out
// because its time is the prompt's decode, as llama-bench's tg leaves the
// prompt out.
package sse

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Result is one streamed request's outcome.
type Result struct {
	Status int
	// Chunks is the number of chunks that carried text.
	Chunks int
	// Tokens is the server's completion_tokens when it sent usage,
	// otherwise Chunks.
	Tokens int
	// Usage is true when the server sent usage.
	Usage bool
	// TTFT is from sending the request to the first text; Dur from sending
	// to [DONE]; FirstToEnd from the first text to the chunk with
	// finish_reason.
	TTFT, Dur, FirstToEnd time.Duration
	// Gaps are the times between consecutive chunks with text (one per
	// token where every token has text): their median is robust to a
	// busy machine's preemptions.
	Gaps []time.Duration
	Err  error
}

// Rate is the decode rate after the first token in tokens per second, or 0
// when there is nothing to measure.
func (r Result) Rate() float64 {
	if r.Tokens < 2 || r.FirstToEnd <= 0 {
		return 0
	}
	return float64(r.Tokens-1) / r.FirstToEnd.Seconds()
}

// event is the part of a chunk the measure reads.
type event struct {
	Choices []struct {
		Text  string `json:"text"`
		Delta struct {
			Content string `json:"content"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
	Error *struct{ Message string } `json:"error"`
}

// Stream posts body (a JSON object with "stream": true) to url and reads
// the stream to its end, or until stopAfter chunks with text (then it drops
// the connection; 0: read to the end).
func Stream(ctx context.Context, hc *http.Client, url string, body any, stopAfter int) Result {
	b, err := json.Marshal(body)
	if err != nil {
		return Result{Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(b))
	if err != nil {
		return Result{Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return Result{Err: err}
	}
	defer resp.Body.Close()
	r := Result{Status: resp.StatusCode}
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, resp.Body)
		return r
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var first, last, end time.Time
	done := false
	for sc.Scan() {
		line, ok := bytes.CutPrefix(sc.Bytes(), []byte("data: "))
		if !ok {
			continue
		}
		if string(line) == "[DONE]" {
			done = true
			break
		}
		now := time.Now()
		var ev event
		if err := json.Unmarshal(line, &ev); err != nil {
			r.Err = fmt.Errorf("bad event %q: %v", line, err)
			return r
		}
		if ev.Error != nil {
			r.Err = errors.New("error event: " + ev.Error.Message)
			return r
		}
		if ev.Usage != nil {
			r.Tokens, r.Usage = ev.Usage.CompletionTokens, true
		}
		if len(ev.Choices) == 0 {
			continue
		}
		c := ev.Choices[0]
		if c.Text+c.Delta.Content != "" {
			if first.IsZero() {
				first = now
			} else {
				r.Gaps = append(r.Gaps, now.Sub(last))
			}
			last = now
			r.Chunks++
			if stopAfter > 0 && r.Chunks >= stopAfter {
				return r
			}
		}
		if c.FinishReason != nil && *c.FinishReason != "" && end.IsZero() {
			end = now
		}
	}
	if err := sc.Err(); err != nil {
		r.Err = err
		return r
	}
	if !done {
		r.Err = errors.New("stream ended without [DONE]")
	}
	r.Dur = time.Since(start)
	if !r.Usage {
		r.Tokens = r.Chunks
	}
	if !first.IsZero() {
		r.TTFT = first.Sub(start)
		if !end.IsZero() {
			r.FirstToEnd = end.Sub(first)
		}
	}
	return r
}

// CompletionBody is the body of a streamed /v1/completions request that
// generates exactly maxTokens tokens greedily (ignore_eos) and reports usage.
func CompletionBody(model, prompt string, maxTokens int) map[string]any {
	return map[string]any{
		"model": model, "prompt": prompt, "max_tokens": maxTokens, "temperature": 0,
		"ignore_eos": true, "stream": true, "stream_options": map[string]any{"include_usage": true},
	}
}
