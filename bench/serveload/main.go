// Command serveload puts load on a running `sattva serve` (or any server of
// the same OpenAI API) and checks what it must survive. Modes:
//
//	soak:       -clients streaming chat clients in a loop for -duration; no
//	            request may fail; afterwards no slot is busy, the queue is
//	            empty, the server's goroutines are back to their count before
//	            the load, and its resident memory is flat (the last third of
//	            the samples within -mem-slack of the first third's).
//	overload:   -clients clients at once, one long request each; those beyond
//	            the server's slots and queue must get 503 with Retry-After,
//	            the rest 200, and every one an answer within -timeout.
//	abuse:      a client that disconnects mid-stream, an oversized body,
//	            invalid JSON, an unknown model, an unsupported schema and a
//	            grammar no token can match: each a clear 4xx (the disconnect
//	            frees its slot), and the server still answers afterwards.
//	throughput: -rounds of -clients concurrent streaming completions of
//	            -max-tokens tokens each (ignore_eos, greedy): aggregate
//	            generated tokens per second, each request's decode rate after
//	            its first token (tokens from the server's usage, as package
//	            bench/internal/sse measures it), and time to first token
//	            p50/p99. A request of N tokens times N-1 single-token decodes
//	            (the first token comes from the prompt's decode): to compare
//	            with llama-bench's tgM, ask for M+1.
//
// It prints a Markdown report to stdout (or -o) and exits 1 when a check
// fails.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sattva/sattva/bench/internal/sse"
)

type config struct {
	url, model, mode, out, prompt string
	clients, maxTokens, rounds    int
	duration, timeout             time.Duration
	memSlack                      float64
}

func main() {
	var c config
	flag.StringVar(&c.url, "url", "http://127.0.0.1:8080", "server base URL")
	flag.StringVar(&c.model, "model", "", "model name (default: the first of /v1/models)")
	flag.StringVar(&c.mode, "mode", "soak", "soak, overload, abuse or throughput")
	flag.StringVar(&c.out, "o", "", "write the report here instead of stdout")
	flag.StringVar(&c.prompt, "prompt", "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends.", "prompt text")
	flag.IntVar(&c.clients, "clients", 64, "concurrent clients")
	flag.IntVar(&c.maxTokens, "max-tokens", 64, "max_tokens of each request")
	flag.IntVar(&c.rounds, "rounds", 3, "throughput: rounds")
	flag.DurationVar(&c.duration, "duration", 60*time.Second, "soak: how long")
	flag.DurationVar(&c.timeout, "timeout", 120*time.Second, "overload: every client must be answered within this")
	flag.Float64Var(&c.memSlack, "mem-slack", 0.10, "soak: allowed growth of resident memory")
	flag.Parse()
	c.url = strings.TrimRight(c.url, "/")
	var rep bytes.Buffer
	err := run(&c, &rep)
	out := io.Writer(os.Stdout)
	if c.out != "" {
		f, ferr := os.Create(c.out)
		if ferr != nil {
			fmt.Fprintln(os.Stderr, ferr)
			os.Exit(2)
		}
		defer f.Close()
		out = io.MultiWriter(os.Stdout, f)
	}
	out.Write(rep.Bytes())
	if err != nil {
		fmt.Fprintf(out, "\n**FAIL**: %v\n", err)
		os.Exit(1)
	}
	fmt.Fprintln(out, "\nPASS")
}

func run(c *config, w io.Writer) error {
	if c.model == "" {
		var ml struct{ Data []struct{ ID string } }
		if err := getJSON(c.url+"/v1/models", &ml); err != nil || len(ml.Data) == 0 {
			return fmt.Errorf("list models: %v", err)
		}
		c.model = ml.Data[0].ID
	}
	switch c.mode {
	case "soak":
		return soak(c, w)
	case "overload":
		return overload(c, w)
	case "abuse":
		return abuse(c, w)
	case "throughput":
		return throughput(c, w)
	}
	return fmt.Errorf("unknown mode %q", c.mode)
}

func getJSON(url string, v any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s: HTTP %d", url, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// scrape reads the named series of the server's /metrics (unlabelled ones).
func scrape(url string, names ...string) (map[string]float64, error) {
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		for _, n := range names {
			if v, ok := strings.CutPrefix(line, n+" "); ok {
				f, err := strconv.ParseFloat(v, 64)
				if err == nil {
					out[n] = f
				}
			}
		}
	}
	for _, n := range names {
		if _, ok := out[n]; !ok {
			return out, fmt.Errorf("/metrics has no %s", n)
		}
	}
	return out, sc.Err()
}

func chatBody(c *config, maxTokens int, temp float64) map[string]any {
	return map[string]any{
		"model": c.model, "stream": true, "max_tokens": maxTokens, "temperature": temp,
		"messages": []map[string]string{{"role": "user", "content": c.prompt}},
	}
}

func soak(c *config, w io.Writer) error {
	names := []string{"go_goroutines", "process_resident_memory_bytes", "sattva_slots_busy", "sattva_queue_length"}
	before, err := scrape(c.url, names...)
	if err != nil {
		return err
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c.clients}}
	ctx, cancel := context.WithTimeout(context.Background(), c.duration)
	defer cancel()
	var reqs, toks, fails atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for i := range c.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ctx.Err() == nil; n++ {
				// sampled, different seeds: the answers' lengths vary
				body := chatBody(c, c.maxTokens, 0.8)
				body["seed"] = i*100000 + n
				r := sse.Stream(context.Background(), hc, c.url+"/v1/chat/completions", body, 0)
				reqs.Add(1)
				toks.Add(int64(r.Tokens))
				if r.Err != nil || r.Status != 200 {
					fails.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("status %d: %v", r.Status, r.Err))
				}
			}
		}()
	}
	var rss []float64
	tick := time.NewTicker(c.duration / 20)
	start := time.Now()
sample:
	for {
		select {
		case <-ctx.Done():
			break sample
		case <-tick.C:
			m, err := scrape(c.url, names...)
			if err != nil {
				return err
			}
			rss = append(rss, m["process_resident_memory_bytes"])
		}
	}
	tick.Stop()
	wg.Wait()
	took := time.Since(start)
	hc.CloseIdleConnections()
	// Let the server see the closed connections.
	var after map[string]float64
	for range 50 {
		time.Sleep(100 * time.Millisecond)
		if after, err = scrape(c.url, names...); err != nil {
			return err
		}
		if after["go_goroutines"] <= before["go_goroutines"]+2 {
			break
		}
	}
	third := max(1, len(rss)/3)
	early, late := mean(rss[:third]), mean(rss[len(rss)-third:])
	fmt.Fprintf(w, "## soak: %d streaming chat clients for %v against %s (%s)\n\n", c.clients, c.duration, c.url, c.model)
	fmt.Fprintf(w, "| requests | failed | tokens | tok/s | goroutines before/after | busy slots after | queue after | RSS first third | RSS last third |\n")
	fmt.Fprintf(w, "|---:|---:|---:|---:|---|---:|---:|---:|---:|\n")
	fmt.Fprintf(w, "| %d | %d | %d | %.0f | %.0f / %.0f | %.0f | %.0f | %.1f MiB | %.1f MiB |\n",
		reqs.Load(), fails.Load(), toks.Load(), float64(toks.Load())/took.Seconds(), before["go_goroutines"], after["go_goroutines"],
		after["sattva_slots_busy"], after["sattva_queue_length"], early/(1<<20), late/(1<<20))
	var errs []string
	if fails.Load() > 0 {
		errs = append(errs, fmt.Sprintf("%d requests failed (first: %v)", fails.Load(), firstErr.Load()))
	}
	if reqs.Load() < int64(c.clients) {
		errs = append(errs, "fewer requests than clients")
	}
	if after["sattva_slots_busy"] != 0 || after["sattva_queue_length"] != 0 {
		errs = append(errs, "slots or queue not empty after the load")
	}
	if after["go_goroutines"] > before["go_goroutines"]+2 {
		errs = append(errs, fmt.Sprintf("goroutines %v → %v: leaked", before["go_goroutines"], after["go_goroutines"]))
	}
	if late > early*(1+c.memSlack) {
		errs = append(errs, fmt.Sprintf("resident memory grew %.1f%% (over %.0f%%)", 100*(late/early-1), 100*c.memSlack))
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

func mean(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s / float64(max(1, len(x)))
}

func overload(c *config, w io.Writer) error {
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c.clients, MaxConnsPerHost: 0}}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	type res struct {
		status     int
		retryAfter string
		err        error
		took       time.Duration
	}
	out := make([]res, c.clients)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range c.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, _ := json.Marshal(map[string]any{"model": c.model, "prompt": c.prompt, "max_tokens": c.maxTokens, "temperature": 0, "ignore_eos": true})
			req, _ := http.NewRequestWithContext(ctx, "POST", c.url+"/v1/completions", bytes.NewReader(b))
			req.Header.Set("Content-Type", "application/json")
			t0 := time.Now()
			resp, err := hc.Do(req)
			if err != nil {
				out[i] = res{err: err, took: time.Since(t0)}
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			out[i] = res{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), took: time.Since(t0)}
		}()
	}
	wg.Wait()
	total := time.Since(start)
	var ok, busy, other int
	var worst503, worst200 time.Duration
	var errs []string
	for _, r := range out {
		switch {
		case r.err != nil:
			other++
			if len(errs) < 3 {
				errs = append(errs, r.err.Error())
			}
		case r.status == 200:
			ok++
			worst200 = max(worst200, r.took)
		case r.status == 503:
			busy++
			worst503 = max(worst503, r.took)
			if r.retryAfter == "" {
				errs = append(errs, "a 503 without Retry-After")
			}
		default:
			other++
			errs = append(errs, fmt.Sprintf("status %d", r.status))
		}
	}
	m, err := scrape(c.url, "sattva_slots_busy", "sattva_queue_length")
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "## overload: %d clients at once, %d tokens each, against %s\n\n", c.clients, c.maxTokens, c.url)
	fmt.Fprintf(w, "| 200 | 503 | other | slowest 503 | slowest 200 | all answered in | busy slots after |\n|---:|---:|---:|---:|---:|---:|---:|\n")
	fmt.Fprintf(w, "| %d | %d | %d | %v | %v | %v | %.0f |\n", ok, busy, other, worst503.Round(time.Millisecond), worst200.Round(time.Millisecond), total.Round(time.Millisecond), m["sattva_slots_busy"])
	if other > 0 || busy == 0 || ok == 0 {
		errs = append(errs, fmt.Sprintf("want only 200s and 503s, some of each: %d/%d/%d", ok, busy, other))
	}
	if worst503 > 2*time.Second {
		errs = append(errs, fmt.Sprintf("a 503 took %v: the excess must be refused at once", worst503))
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

func abuse(c *config, w io.Writer) error {
	fmt.Fprintf(w, "## abuse against %s\n\n| case | status | answer |\n|---|---:|---|\n", c.url)
	var errs []string
	post := func(name, path, body string, want int) {
		resp, err := http.Post(c.url+path, "application/json", strings.NewReader(body))
		if err != nil {
			errs = append(errs, name+": "+err.Error())
			return
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		var e struct {
			Error struct{ Message, Type string }
		}
		json.Unmarshal(b, &e)
		fmt.Fprintf(w, "| %s | %d | %s |\n", name, resp.StatusCode, strings.ReplaceAll(e.Error.Message, "|", "\\|"))
		if resp.StatusCode != want || e.Error.Message == "" {
			errs = append(errs, fmt.Sprintf("%s: status %d, want %d with an error message", name, resp.StatusCode, want))
		}
	}
	msg := `"messages":[{"role":"user","content":"hi"}]`
	m := fmt.Sprintf(`"model":%q`, c.model)
	post("invalid JSON", "/v1/chat/completions", `{"model":`, 400)
	post("oversized body (8 MiB)", "/v1/chat/completions", `{`+m+`,"messages":[{"role":"user","content":"`+strings.Repeat("a", 8<<20)+`"}]}`, 413)
	post("unknown model", "/v1/chat/completions", `{"model":"no-such-model",`+msg+`}`, 404)
	post("unsupported schema", "/v1/chat/completions", `{`+m+`,`+msg+`,"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"string","pattern":"^a$"}}}}`, 400)
	post("unsatisfiable schema", "/v1/chat/completions", `{`+m+`,`+msg+`,"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"string","minLength":3,"maxLength":1}}}}`, 400)
	post("grammar no token can match", "/v1/chat/completions", `{`+m+`,`+msg+`,"grammar":"root ::= \"\\x00\""}`, 400)
	post("grammar that does not parse", "/v1/chat/completions", `{`+m+`,`+msg+`,"grammar":"root ::= ("}`, 400)
	// Disconnects mid-stream: the slots come free.
	hc := &http.Client{}
	for range 8 {
		ctx, cancel := context.WithCancel(context.Background())
		body := chatBody(c, 100000, 0)
		body["max_tokens"] = 400
		body["ignore_eos"] = true
		r := sse.Stream(ctx, hc, c.url+"/v1/chat/completions", body, 3)
		cancel()
		if r.Err != nil || r.Chunks < 3 {
			errs = append(errs, fmt.Sprintf("disconnect: %v after %d chunks", r.Err, r.Chunks))
		}
	}
	hc.CloseIdleConnections()
	var busy float64 = -1
	for range 100 {
		mm, err := scrape(c.url, "sattva_slots_busy")
		if err == nil {
			busy = mm["sattva_slots_busy"]
			if busy == 0 {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	fmt.Fprintf(w, "| 8 clients gone mid-stream | - | busy slots after: %.0f |\n", busy)
	if busy != 0 {
		errs = append(errs, fmt.Sprintf("%v slots busy after the clients left", busy))
	}
	r := sse.Stream(context.Background(), hc, c.url+"/v1/chat/completions", chatBody(c, 8, 0), 0)
	fmt.Fprintf(w, "| a normal request afterwards | %d | %d tokens |\n", r.Status, r.Tokens)
	if r.Err != nil || r.Status != 200 {
		errs = append(errs, fmt.Sprintf("server harmed: status %d %v", r.Status, r.Err))
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

func throughput(c *config, w io.Writer) error {
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c.clients}}
	body := sse.CompletionBody(c.model, c.prompt, c.maxTokens)
	url := c.url + "/v1/completions"
	// Warm-up.
	if r := sse.Stream(context.Background(), hc, url, body, 0); r.Err != nil || r.Status != 200 {
		return fmt.Errorf("warm-up: status %d: %v", r.Status, r.Err)
	}
	var aggs, perReq, ttfts []float64
	chunks, tokens := 0, 0
	for range c.rounds {
		res := make([]sse.Result, c.clients)
		var wg sync.WaitGroup
		start := time.Now()
		for i := range c.clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res[i] = sse.Stream(context.Background(), hc, url, body, 0)
			}()
		}
		wg.Wait()
		took := time.Since(start)
		n := 0
		for _, r := range res {
			if r.Err != nil || r.Status != 200 {
				return fmt.Errorf("status %d: %v", r.Status, r.Err)
			}
			if !r.Usage {
				return errors.New("the server sent no usage (stream_options.include_usage): the tokens cannot be counted")
			}
			n += r.Tokens
			chunks += r.Chunks
			tokens += r.Tokens
			ttfts = append(ttfts, r.TTFT.Seconds()*1000)
			if rate := r.Rate(); rate > 0 {
				perReq = append(perReq, rate)
			}
		}
		aggs = append(aggs, float64(n)/took.Seconds())
	}
	slices.Sort(ttfts)
	fmt.Fprintf(w, "| clients | rounds | tokens/request | aggregate tok/s (mean of rounds) | per-request tok/s after the first token (mean) | TTFT p50 ms | TTFT p99 ms | text chunks / tokens |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	fmt.Fprintf(w, "| %d | %d | %d | %.1f | %.1f | %.1f | %.1f | %d / %d |\n", c.clients, c.rounds, c.maxTokens, mean(aggs), mean(perReq), pct(ttfts, 50), pct(ttfts, 99), chunks, tokens)
	// machine-readable line for scripts
	fmt.Fprintf(w, "\n<!-- serveload clients=%d agg=%.3f perreq=%.3f ttft_p50=%.3f ttft_p99=%.3f chunks=%d tokens=%d -->\n", c.clients, mean(aggs), mean(perReq), pct(ttfts, 50), pct(ttfts, 99), chunks, tokens)
	return nil
}

// pct is the p-th percentile of sorted x (nearest rank).
func pct(x []float64, p float64) float64 {
	if len(x) == 0 {
		return math.NaN()
	}
	k := int(math.Ceil(p/100*float64(len(x)))) - 1
	return x[max(0, min(k, len(x)-1))]
}
