package evalrun

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Cases spread over several servers, per-server concurrency is kept, 5xx
// answers are retried elsewhere, 4xx are not, and each answer names its host.
func TestOpenAIRunnerHosts(t *testing.T) {
	var inflight [2]atomic.Int32
	var peak [2]atomic.Int32
	var served [2]atomic.Int32
	var flaky atomic.Int32
	mk := func(k int) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := inflight[k].Add(1)
			defer inflight[k].Add(-1)
			for {
				p := peak[k].Load()
				if n <= p || peak[k].CompareAndSwap(p, n) {
					break
				}
			}
			time.Sleep(20 * time.Millisecond)
			// Server 0 fails its first three requests with 503.
			if k == 0 && flaky.Add(1) <= 3 {
				w.WriteHeader(http.StatusServiceUnavailable)
				w.Write([]byte(`{"error":{"message":"busy"}}`))
				return
			}
			served[k].Add(1)
			fmt.Fprintf(w, `{"choices":[{"message":{"content":"from %d"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":2}}`, k)
		}))
	}
	a, b := mk(0), mk(1)
	defer a.Close()
	defer b.Close()
	g := &OpenAIRunner{BaseURLs: []string{a.URL, b.URL}, Model: "m", Concurrency: 2, Retries: 2}
	reqs := make([]GenRequest, 60)
	for i := range reqs {
		reqs[i] = GenRequest{ID: fmt.Sprint(i), Messages: []Message{{Role: "user", Content: "hi"}}, ChatTemplate: true}
	}
	var mu sync.Mutex
	got := map[int]GenResult{}
	if err := g.Generate(context.Background(), reqs, func(i int, r GenResult) {
		mu.Lock()
		defer mu.Unlock()
		if _, dup := got[i]; dup {
			t.Errorf("case %d answered twice", i)
		}
		got[i] = r
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(reqs) {
		t.Fatalf("%d answers for %d cases", len(got), len(reqs))
	}
	retried := 0
	for i, r := range got {
		want := map[string]string{a.URL: "from 0", b.URL: "from 1"}[r.Host]
		if r.Err != nil || r.Text != want {
			t.Errorf("case %d: %+v", i, r)
		}
		if r.Attempts > 1 {
			retried++
		}
	}
	// Each of the three 503s sent its case back for another try.
	if retried < 1 || retried > 3 {
		t.Errorf("%d cases retried, want 1 to 3", retried)
	}
	if served[0].Load() == 0 || served[1].Load() == 0 {
		t.Errorf("served %d and %d: want both hosts used", served[0].Load(), served[1].Load())
	}
	if peak[0].Load() > 2 || peak[1].Load() > 2 {
		t.Errorf("peak in flight %d, %d: want at most 2 per host", peak[0].Load(), peak[1].Load())
	}
}

func TestOpenAIRunnerNoRetryOn4xx(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"error":{"message":"bad"}}`))
	}))
	defer srv.Close()
	g := &OpenAIRunner{BaseURLs: []string{srv.URL}, Model: "m", Retries: 3}
	var res GenResult
	g.Generate(context.Background(), []GenRequest{{Messages: []Message{{Role: "user", Content: "x"}}, ChatTemplate: true}}, func(i int, r GenResult) { res = r })
	if res.Err == nil || calls.Load() != 1 || res.Host != srv.URL {
		t.Fatalf("err %v after %d calls (host %q): want one call and its error", res.Err, calls.Load(), res.Host)
	}
}
