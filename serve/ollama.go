package serve

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/sattva/sattva/llamacpp"
)

// ollamaParams maps an Ollama request's options (and format) onto the
// shared settings; options this server has no use for (num_ctx,
// num_thread, …) are ignored, as Ollama ignores unknown ones.
func (s *Server) ollamaParams(model string, opts map[string]any, format json.RawMessage) (genParams, error) {
	f := samplingFields{Model: model}
	num := func(k string) (*float64, error) {
		v, ok := opts[k]
		if !ok || v == nil {
			return nil, nil
		}
		x, ok := v.(float64)
		if !ok || math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, badRequest("option %s must be a number", k)
		}
		return &x, nil
	}
	integer := func(k string) (*int, error) {
		x, err := num(k)
		if x == nil || err != nil {
			return nil, err
		}
		if *x != math.Trunc(*x) || math.Abs(*x) > 1<<31 {
			return nil, badRequest("option %s must be an integer", k)
		}
		n := int(*x)
		return &n, nil
	}
	var err error
	if f.Temperature, err = num("temperature"); err != nil {
		return genParams{}, err
	}
	if f.TopP, err = num("top_p"); err != nil {
		return genParams{}, err
	}
	if f.MinP, err = num("min_p"); err != nil {
		return genParams{}, err
	}
	if f.RepeatPenalty, err = num("repeat_penalty"); err != nil {
		return genParams{}, err
	}
	if f.TopK, err = integer("top_k"); err != nil {
		return genParams{}, err
	}
	if f.MaxTokens, err = integer("num_predict"); err != nil {
		return genParams{}, err
	}
	if f.MaxTokens != nil && *f.MaxTokens < 0 { // Ollama: -1 is unlimited
		f.MaxTokens = nil
	}
	seed, err := integer("seed")
	if err != nil {
		return genParams{}, err
	}
	if seed != nil {
		v := int64(*seed)
		f.Seed = &v
	}
	if v, ok := opts["stop"]; ok && v != nil {
		list, ok := v.([]any)
		if !ok {
			return genParams{}, badRequest("option stop must be an array of strings")
		}
		f.Stop = stringList{}
		for _, x := range list {
			str, ok := x.(string)
			if !ok {
				return genParams{}, badRequest("option stop must be an array of strings")
			}
			f.Stop = append(f.Stop, str)
		}
	}
	p, err := s.params(&f)
	if err != nil {
		return p, err
	}
	if rl, err := integer("repeat_last_n"); err != nil {
		return p, err
	} else if rl != nil {
		p.slot.Sampling.RepeatLastN = *rl
	}
	if f := bytes.TrimSpace(format); len(f) > 0 && !bytes.Equal(f, []byte("null")) && !bytes.Equal(f, []byte(`""`)) {
		if bytes.Equal(f, []byte(`"json"`)) {
			p.slot.Grammar = JSONGrammar
		} else {
			g, err := SchemaGrammar(f)
			if err != nil {
				return p, badRequest("format: %v", err)
			}
			p.slot.Grammar = g
		}
	}
	return p, nil
}

func ollamaReason(r string) string {
	if r == llamacpp.StopMaxTokens || r == llamacpp.StopContextFull {
		return "length"
	}
	return "stop"
}

func ollamaMetrics(res genResult) api.Metrics {
	return api.Metrics{
		TotalDuration: res.total, PromptEvalCount: res.promptTokens, PromptEvalDuration: res.promptDur,
		EvalCount: res.genTokens, EvalDuration: max(0, res.total-res.ttft),
	}
}

// ndjson writes Ollama's newline-delimited JSON stream; the headers go out
// with the first line.
type ndjson struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	started bool
}

func (n *ndjson) begun() bool { return n.started }

// write buffers a line (in the response's buffer), flush sends what is
// buffered, send does both.
func (n *ndjson) write(v any) error {
	if !n.started {
		n.started = true
		n.w.Header().Set("Content-Type", "application/x-ndjson")
		n.w.WriteHeader(http.StatusOK)
	}
	return json.NewEncoder(n.w).Encode(v)
}

func (n *ndjson) flush() error { return n.rc.Flush() }

func (n *ndjson) send(v any) error {
	if err := n.write(v); err != nil {
		return err
	}
	return n.flush()
}

// ollamaAnswer generates p and answers in Ollama's shapes, streamed unless
// streamed is false. response builds one message: a piece of text, or with
// done the last one (the whole text when not streamed, else none).
func (s *Server) ollamaAnswer(w http.ResponseWriter, r *http.Request, p genParams, streamed *bool, response func(text string, done *genResult) any) {
	rp := reply{whole: func(res genResult) any { return response(res.text, &res) }}
	if streamed == nil || *streamed {
		out := &ndjson{w: w, rc: http.NewResponseController(w)}
		rp.stream = out
		rp.piece = func(text string, _ []llamacpp.SlotToken) any { return response(text, nil) }
		rp.end = func(res genResult) { out.send(response("", &res)) }
		rp.failed = func(re *requestError) any { return map[string]string{"error": re.msg} }
	}
	s.answer(w, r, p, rp)
}

func (s *Server) ollamaChat(w http.ResponseWriter, r *http.Request) {
	var req api.ChatRequest
	p, ok := s.readRequest(w, r, &req, func() (genParams, error) { return s.ollamaParams(req.Model, req.Options, req.Format) })
	if !ok {
		return
	}
	var msgs []llamacpp.ChatMessage
	if s.o.Defaults.System != "" && (len(req.Messages) == 0 || req.Messages[0].Role != "system") {
		msgs = append(msgs, llamacpp.ChatMessage{Role: "system", Content: s.o.Defaults.System})
	}
	for _, m := range req.Messages {
		if len(m.Images) > 0 || len(m.ToolCalls) > 0 {
			s.writeRequestError(w, r, badRequest("images and tool calls are not supported"))
			return
		}
		msgs = append(msgs, llamacpp.ChatMessage{Role: m.Role, Content: m.Content})
	}
	if len(req.Messages) == 0 {
		// Ollama loads the model and answers done.
		writeJSON(w, http.StatusOK, api.ChatResponse{Model: req.Model, CreatedAt: time.Now().UTC(), Message: api.Message{Role: "assistant"}, Done: true, DoneReason: "load"})
		return
	}
	var err error
	if p.prompt, err = s.chatPrompt(msgs); err != nil {
		s.writeRequestError(w, r, err)
		return
	}
	model := req.Model
	if model == "" {
		model = s.o.ModelName
	}
	s.ollamaAnswer(w, r, p, req.Stream, func(text string, done *genResult) any {
		c := api.ChatResponse{Model: model, CreatedAt: time.Now().UTC(), Message: api.Message{Role: "assistant", Content: text}}
		if done != nil {
			c.Done, c.DoneReason, c.Metrics = true, ollamaReason(done.reason), ollamaMetrics(*done)
		}
		return c
	})
}

func (s *Server) ollamaGenerate(w http.ResponseWriter, r *http.Request) {
	var req api.GenerateRequest
	p, ok := s.readRequest(w, r, &req, func() (genParams, error) { return s.ollamaParams(req.Model, req.Options, req.Format) })
	if !ok {
		return
	}
	if len(req.Images) > 0 || req.Suffix != "" || req.Template != "" || len(req.Context) > 0 {
		s.writeRequestError(w, r, badRequest("images, suffix, template and context are not supported"))
		return
	}
	model := req.Model
	if model == "" {
		model = s.o.ModelName
	}
	if req.Prompt == "" {
		writeJSON(w, http.StatusOK, api.GenerateResponse{Model: model, CreatedAt: time.Now().UTC(), Done: true, DoneReason: "load"})
		return
	}
	var err error
	if req.Raw {
		p.prompt, err = s.tokenize(req.Prompt)
	} else {
		sys := req.System
		if sys == "" {
			sys = s.o.Defaults.System
		}
		var msgs []llamacpp.ChatMessage
		if sys != "" {
			msgs = append(msgs, llamacpp.ChatMessage{Role: "system", Content: sys})
		}
		msgs = append(msgs, llamacpp.ChatMessage{Role: "user", Content: req.Prompt})
		p.prompt, err = s.chatPrompt(msgs)
	}
	if err != nil {
		s.writeRequestError(w, r, err)
		return
	}
	s.ollamaAnswer(w, r, p, req.Stream, func(text string, done *genResult) any {
		g := api.GenerateResponse{Model: model, CreatedAt: time.Now().UTC(), Response: text}
		if done != nil {
			g.Done, g.DoneReason, g.Metrics = true, ollamaReason(done.reason), ollamaMetrics(*done)
		}
		return g
	})
}

func (s *Server) ollamaTags(w http.ResponseWriter, r *http.Request) {
	var size int64
	var mod time.Time
	if st, err := os.Stat(s.model.Path()); err == nil {
		size, mod = st.Size(), st.ModTime()
	}
	_, nparams := s.model.Size()
	arch, _ := s.model.Meta("general.architecture")
	writeJSON(w, http.StatusOK, api.ListResponse{Models: []api.ListModelResponse{{
		Name: s.o.ModelName + ":latest", Model: s.o.ModelName + ":latest", ModifiedAt: mod, Size: size,
		Details: api.ModelDetails{Format: "gguf", Family: arch, ParameterSize: fmt.Sprintf("%.2fM", float64(nparams)/1e6)},
	}}})
}

func (s *Server) ollamaVersion(w http.ResponseWriter, r *http.Request) {
	v := s.o.Version
	if v == "" {
		v = "0.0.0"
	}
	writeJSON(w, http.StatusOK, map[string]string{"version": v})
}
