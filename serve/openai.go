package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/sattva/sattva/llamacpp"
)

// --- request bodies ---

// stringList is a JSON string or array of strings (OpenAI's stop, prompt).
type stringList []string

func (s *stringList) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*s = nil
		return nil
	}
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = stringList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("want a string or an array of strings")
	}
	*s = many
	return nil
}

// messageContent is a message's content: a string, or an array of parts of
// which only "text" ones are accepted.
type messageContent string

func (c *messageContent) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*c = ""
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*c = messageContent(s)
		return nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(b, &parts); err != nil {
		return errors.New("content must be a string or an array of parts")
	}
	var sb strings.Builder
	for _, p := range parts {
		if p.Type != "text" {
			return fmt.Errorf("content part of type %q is not supported (text only)", p.Type)
		}
		sb.WriteString(p.Text)
	}
	*c = messageContent(sb.String())
	return nil
}

type chatMessage struct {
	Role    string         `json:"role"`
	Content messageContent `json:"content"`
}

type responseFormat struct {
	Type       string `json:"type"` // text, json_object, json_schema
	JSONSchema *struct {
		Name   string          `json:"name"`
		Schema json.RawMessage `json:"schema"`
		Strict *bool           `json:"strict"`
	} `json:"json_schema"`
}

// samplingFields are the sampling settings both OpenAI endpoints take
// (top_k, min_p, repeat_penalty, ignore_eos and grammar are llama-server's
// extensions).
type samplingFields struct {
	Model               string          `json:"model"`
	MaxTokens           *int            `json:"max_tokens"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	Temperature         *float64        `json:"temperature"`
	TopP                *float64        `json:"top_p"`
	Seed                *int64          `json:"seed"`
	Stop                stringList      `json:"stop"`
	N                   *int            `json:"n"`
	Stream              bool            `json:"stream"`
	StreamOptions       *streamOptions  `json:"stream_options"`
	ResponseFormat      *responseFormat `json:"response_format"`
	TopK                *int            `json:"top_k"`
	MinP                *float64        `json:"min_p"`
	RepeatPenalty       *float64        `json:"repeat_penalty"`
	IgnoreEOS           bool            `json:"ignore_eos"`
	Grammar             string          `json:"grammar"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

type chatRequest struct {
	samplingFields
	Messages    []chatMessage `json:"messages"`
	Logprobs    bool          `json:"logprobs"`
	TopLogprobs *int          `json:"top_logprobs"`
}

type completionRequest struct {
	samplingFields
	Prompt   stringList `json:"prompt"`
	Logprobs *int       `json:"logprobs"`
	Echo     bool       `json:"echo"`
	Suffix   string     `json:"suffix"`
}

// --- responses ---

type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
	// PromptTokensDetails.CachedTokens: prompt tokens reused from a slot's cache.
	PromptTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
}

func newUsage(r genResult) *usage {
	u := &usage{PromptTokens: r.promptTokens, CompletionTokens: r.genTokens, TotalTokens: r.promptTokens + r.genTokens}
	u.PromptTokensDetails.CachedTokens = r.reused
	return u
}

type chatLogprob struct {
	Token       string       `json:"token"`
	Logprob     float64      `json:"logprob"`
	Bytes       []int        `json:"bytes"`
	TopLogprobs []topLogprob `json:"top_logprobs"`
}

type topLogprob struct {
	Token   string  `json:"token"`
	Logprob float64 `json:"logprob"`
	Bytes   []int   `json:"bytes"`
}

type chatLogprobs struct {
	Content []chatLogprob `json:"content"`
}

type chatChoice struct {
	Index        int           `json:"index"`
	Message      *chatOut      `json:"message,omitempty"`
	Delta        *chatOut      `json:"delta,omitempty"`
	FinishReason *string       `json:"finish_reason"`
	Logprobs     *chatLogprobs `json:"logprobs"`
}

type chatOut struct {
	Role    string  `json:"role,omitempty"`
	Content *string `json:"content,omitempty"`
	Refusal *string `json:"refusal,omitempty"`
}

// openAIResponse is the body of a chat or text completion, whole or one
// chunk of a stream; C is its choice type.
type openAIResponse[C chatChoice | completionChoice] struct {
	ID                string `json:"id"`
	Object            string `json:"object"`
	Created           int64  `json:"created"`
	Model             string `json:"model"`
	SystemFingerprint string `json:"system_fingerprint"`
	Choices           []C    `json:"choices"`
	Usage             *usage `json:"usage,omitempty"`
}

type chatResponse = openAIResponse[chatChoice]

type completionLogprobs struct {
	Tokens        []string             `json:"tokens"`
	TokenLogprobs []float64            `json:"token_logprobs"`
	TopLogprobs   []map[string]float64 `json:"top_logprobs"`
	TextOffset    []int                `json:"text_offset"`
}

type completionChoice struct {
	Index        int                 `json:"index"`
	Text         string              `json:"text"`
	FinishReason *string             `json:"finish_reason"`
	Logprobs     *completionLogprobs `json:"logprobs"`
}

type completionResponse = openAIResponse[completionChoice]

// finishReason is OpenAI's name for a stop reason.
func finishReason(r string) string {
	switch r {
	case llamacpp.StopMaxTokens, llamacpp.StopContextFull:
		return "length"
	default:
		return "stop"
	}
}

// --- errors ---

type apiError struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	} `json:"error"`
}

// writeError answers in OpenAI's error shape, or Ollama's ({"error": …})
// under /api/.
func writeError(w http.ResponseWriter, r *http.Request, status int, typ, code, msg string) {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		writeJSON(w, status, map[string]string{"error": msg})
		return
	}
	var e apiError
	e.Error.Message, e.Error.Type = msg, typ
	if code != "" {
		e.Error.Code = &code
	}
	writeJSON(w, status, e)
}

func (s *Server) writeRequestError(w http.ResponseWriter, r *http.Request, err error) {
	re := s.asRequestError(err)
	if re.status == 499 {
		return // the client is gone
	}
	if re.retryAfter {
		w.Header().Set("Retry-After", fmt.Sprint(max(1, int(s.o.RetryAfter.Seconds()+0.5))))
	}
	writeError(w, r, re.status, re.typ, re.code, re.msg)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// decodeBody reads a JSON body into v: 413 beyond the size limit, 400 for
// JSON that does not parse or fit.
func decodeBody(r *http.Request, v any) error {
	d := json.NewDecoder(r.Body)
	if err := d.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &requestError{status: http.StatusRequestEntityTooLarge, typ: "invalid_request_error", code: "request_too_large",
				msg: fmt.Sprintf("the request body is larger than %d bytes", mbe.Limit)}
		}
		return badRequest("the request body is not valid JSON for this endpoint: %v", err)
	}
	if d.More() {
		return badRequest("the request body has data after its JSON value")
	}
	return nil
}

// checkModel answers 404 for a model this server does not serve.
func (s *Server) checkModel(name string) error {
	if name == "" || name == s.o.ModelName || name == s.o.ModelName+":latest" {
		return nil
	}
	return &requestError{status: http.StatusNotFound, typ: "invalid_request_error", code: "model_not_found",
		msg: fmt.Sprintf("model %q not found; this server serves %q", name, s.o.ModelName)}
}

// params turns the shared fields into generation settings (prompt aside).
func (s *Server) params(f *samplingFields) (genParams, error) {
	var p genParams
	if err := s.checkModel(f.Model); err != nil {
		return p, err
	}
	if f.N != nil && *f.N != 1 {
		return p, badRequest("n must be 1")
	}
	d := s.o.Defaults
	so := llamacpp.SamplingOptions{TopK: 40, TopP: 0.95, MinP: 0.05, Temperature: 0.8, RepeatLastN: 64}
	set32 := func(dst *float32, def *float32, req *float64) {
		if def != nil {
			*dst = *def
		}
		if req != nil {
			*dst = float32(*req)
		}
	}
	set32(&so.Temperature, d.Temperature, f.Temperature)
	set32(&so.TopP, d.TopP, f.TopP)
	set32(&so.MinP, d.MinP, f.MinP)
	set32(&so.RepeatPenalty, d.RepeatPenalty, f.RepeatPenalty)
	if d.TopK != nil {
		so.TopK = *d.TopK
	}
	if f.TopK != nil {
		so.TopK = *f.TopK
	}
	if d.RepeatLastN != nil {
		so.RepeatLastN = *d.RepeatLastN
	}
	if so.Temperature < 0 || so.Temperature > 2 || so.TopP < 0 || so.TopP > 1 || so.MinP < 0 || so.MinP > 1 || so.TopK < 0 {
		return p, badRequest("sampling settings out of range: temperature %g (0–2), top_p %g (0–1), min_p %g (0–1), top_k %d (≥ 0)", so.Temperature, so.TopP, so.MinP, so.TopK)
	}
	switch {
	case f.Seed != nil && *f.Seed >= 0:
		so.Seed = uint32(*f.Seed)
	case d.Seed != nil && *d.Seed >= 0:
		so.Seed = uint32(*d.Seed)
	default:
		so.Seed = rand.Uint32()
	}
	p.slot.Sampling = so
	p.stop = d.Stop
	if f.Stop != nil {
		p.stop = f.Stop
	}
	switch {
	case f.MaxCompletionTokens != nil:
		p.maxTokens = *f.MaxCompletionTokens
	case f.MaxTokens != nil:
		p.maxTokens = *f.MaxTokens
	}
	if p.maxTokens < 0 {
		return p, badRequest("max_tokens %d is negative", p.maxTokens)
	}
	p.ignoreEOS = f.IgnoreEOS
	if f.Grammar != "" {
		p.slot.Grammar = f.Grammar
	}
	if rf := f.ResponseFormat; rf != nil {
		switch rf.Type {
		case "", "text":
		case "json_object":
			p.slot.Grammar = JSONGrammar
		case "json_schema":
			if rf.JSONSchema == nil || len(rf.JSONSchema.Schema) == 0 {
				return p, badRequest("response_format json_schema needs json_schema.schema")
			}
			g, err := SchemaGrammar(rf.JSONSchema.Schema)
			if err != nil {
				return p, &requestError{status: http.StatusBadRequest, typ: "invalid_request_error", code: "unsupported_schema", msg: err.Error()}
			}
			p.slot.Grammar = g
		default:
			return p, badRequest("response_format type %q is not supported (text, json_object, json_schema)", rf.Type)
		}
	}
	return p, nil
}

// chatPrompt renders messages with the model's chat template (or, for a
// model without one, their contents joined by blank lines, as evalrun's
// in-process runner does) and tokenizes them.
func (s *Server) chatPrompt(msgs []llamacpp.ChatMessage) ([]int32, error) {
	if len(msgs) == 0 {
		return nil, badRequest("messages is empty")
	}
	for _, m := range msgs {
		switch m.Role {
		case "system", "user", "assistant", "developer", "tool":
		default:
			return nil, badRequest("unknown message role %q", m.Role)
		}
	}
	text, err := s.model.ApplyChatTemplate(msgs, true)
	if errors.Is(err, llamacpp.ErrNoChatTemplate) {
		parts := make([]string, len(msgs))
		for i, m := range msgs {
			parts[i] = m.Content
		}
		text, err = strings.Join(parts, "\n\n"), nil
	}
	if err != nil {
		return nil, err
	}
	return s.tokenize(text)
}

// tokenize adds BOS and parses special tokens; a template that wrote BOS
// itself does not get a second one.
func (s *Server) tokenize(text string) ([]int32, error) {
	if len(text) > int(s.o.MaxBodyBytes) {
		return nil, badRequest("the prompt is too long")
	}
	toks, err := s.model.Tokenize(text, true, true)
	if err != nil {
		return nil, err
	}
	if bos := s.model.BOS(); len(toks) > 1 && toks[0] == bos && toks[1] == bos {
		toks = toks[1:]
	}
	return toks, nil
}

// --- handlers ---

func (s *Server) chatCompletions(w http.ResponseWriter, r *http.Request) {
	var req chatRequest
	p, ok := s.readRequest(w, r, &req, func() (genParams, error) { return s.params(&req.samplingFields) })
	if !ok {
		return
	}
	msgs := make([]llamacpp.ChatMessage, len(req.Messages))
	for i, m := range req.Messages {
		role := m.Role
		if role == "developer" {
			role = "system"
		}
		msgs[i] = llamacpp.ChatMessage{Role: role, Content: string(m.Content)}
	}
	var err error
	if p.prompt, err = s.chatPrompt(msgs); err != nil {
		s.writeRequestError(w, r, err)
		return
	}
	top := 0
	if req.TopLogprobs != nil {
		if *req.TopLogprobs < 0 || *req.TopLogprobs > llamacpp.MaxTopLogprobs {
			s.writeRequestError(w, r, badRequest("top_logprobs must be in [0,%d]", llamacpp.MaxTopLogprobs))
			return
		}
		top = *req.TopLogprobs
	}
	if req.Logprobs {
		p.slot.Logprobs = 1 + top
	}
	id, created := newID("chatcmpl-"), time.Now().Unix()
	base := chatResponse{ID: id, Created: created, Model: s.o.ModelName, SystemFingerprint: "sattva"}
	rp := reply{whole: func(res genResult) any {
		fr := finishReason(res.reason)
		base.Object = "chat.completion"
		base.Choices = []chatChoice{{Message: &chatOut{Role: "assistant", Content: &res.text}, FinishReason: &fr}}
		if req.Logprobs {
			base.Choices[0].Logprobs = &chatLogprobs{Content: chatLogprobList(res.tokens)}
		}
		base.Usage = newUsage(res)
		return base
	}}
	if req.Stream {
		base.Object = "chat.completion.chunk"
		sse := newSSE(w)
		first := true
		rp.stream = sse
		rp.piece = func(text string, toks []llamacpp.SlotToken) any {
			c := base
			out := &chatOut{Content: &text}
			if first {
				out.Role = "assistant"
				first = false
			}
			c.Choices = []chatChoice{{Delta: out}}
			if req.Logprobs {
				c.Choices[0].Logprobs = &chatLogprobs{Content: chatLogprobList(toks)}
			}
			return c
		}
		rp.end = func(res genResult) {
			fr := finishReason(res.reason)
			c := base
			empty := ""
			c.Choices = []chatChoice{{Delta: &chatOut{Content: &empty}, FinishReason: &fr}}
			if first {
				c.Choices[0].Delta.Role = "assistant"
			}
			sse.send(c)
			if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
				u := base
				u.Choices = []chatChoice{}
				u.Usage = newUsage(res)
				sse.send(u)
			}
			sse.done()
		}
		rp.failed = func(re *requestError) any {
			var e apiError
			e.Error.Message, e.Error.Type = re.msg, re.typ
			return e
		}
	}
	s.answer(w, r, p, rp)
}

func chatLogprobList(toks []llamacpp.SlotToken) []chatLogprob {
	out := make([]chatLogprob, 0, len(toks))
	for _, t := range toks {
		lp := chatLogprob{Token: t.Text, Logprob: float64(t.Logprob), Bytes: byteList(t.Text), TopLogprobs: []topLogprob{}}
		for _, a := range t.Top {
			lp.TopLogprobs = append(lp.TopLogprobs, topLogprob{Token: a.Text, Logprob: float64(a.Logprob), Bytes: byteList(a.Text)})
		}
		out = append(out, lp)
	}
	return out
}

func byteList(s string) []int {
	b := make([]int, len(s))
	for i := range len(s) {
		b[i] = int(s[i])
	}
	return b
}

func (s *Server) completions(w http.ResponseWriter, r *http.Request) {
	var req completionRequest
	p, ok := s.readRequest(w, r, &req, func() (genParams, error) { return s.params(&req.samplingFields) })
	if !ok {
		return
	}
	if len(req.Prompt) != 1 {
		s.writeRequestError(w, r, badRequest("prompt must be one string"))
		return
	}
	if req.Echo || req.Suffix != "" {
		s.writeRequestError(w, r, badRequest("echo and suffix are not supported"))
		return
	}
	var err error
	if p.prompt, err = s.tokenize(req.Prompt[0]); err != nil {
		s.writeRequestError(w, r, err)
		return
	}
	if req.Logprobs != nil {
		if *req.Logprobs < 0 || *req.Logprobs > llamacpp.MaxTopLogprobs {
			s.writeRequestError(w, r, badRequest("logprobs must be in [0,%d]", llamacpp.MaxTopLogprobs))
			return
		}
		p.slot.Logprobs = 1 + *req.Logprobs
	}
	base := completionResponse{ID: newID("cmpl-"), Object: "text_completion", Created: time.Now().Unix(), Model: s.o.ModelName, SystemFingerprint: "sattva"}
	rp := reply{whole: func(res genResult) any {
		fr := finishReason(res.reason)
		base.Choices = []completionChoice{{Text: res.text, FinishReason: &fr}}
		if req.Logprobs != nil {
			base.Choices[0].Logprobs = completionLogprobList(res.tokens, 0)
		}
		base.Usage = newUsage(res)
		return base
	}}
	if req.Stream {
		sse := newSSE(w)
		offset := 0
		rp.stream = sse
		rp.piece = func(text string, toks []llamacpp.SlotToken) any {
			c := base
			c.Choices = []completionChoice{{Text: text}}
			if req.Logprobs != nil {
				c.Choices[0].Logprobs = completionLogprobList(toks, offset)
			}
			for _, t := range toks {
				offset += len(t.Text)
			}
			return c
		}
		rp.end = func(res genResult) {
			fr := finishReason(res.reason)
			c := base
			c.Choices = []completionChoice{{FinishReason: &fr}}
			if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
				c.Usage = newUsage(res)
			}
			sse.send(c)
			sse.done()
		}
	}
	s.answer(w, r, p, rp)
}

func completionLogprobList(toks []llamacpp.SlotToken, offset int) *completionLogprobs {
	lp := &completionLogprobs{Tokens: []string{}, TokenLogprobs: []float64{}, TopLogprobs: []map[string]float64{}, TextOffset: []int{}}
	for _, t := range toks {
		lp.Tokens = append(lp.Tokens, t.Text)
		lp.TokenLogprobs = append(lp.TokenLogprobs, float64(t.Logprob))
		top := map[string]float64{}
		for _, a := range t.Top {
			if _, dup := top[a.Text]; !dup {
				top[a.Text] = float64(a.Logprob)
			}
		}
		lp.TopLogprobs = append(lp.TopLogprobs, top)
		lp.TextOffset = append(lp.TextOffset, offset)
		offset += len(t.Text)
	}
	return lp
}

func (s *Server) models(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"object": "list",
		"data": []map[string]any{{
			"id": s.o.ModelName, "object": "model", "created": s.created.Unix(), "owned_by": "sattva",
		}},
	})
}

// sse writes server-sent events; the headers go out with the first event,
// so an error before it can still be a plain HTTP error. write buffers an
// event (in the response's buffer), flush sends what is buffered, send does
// both.
type sse struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	started bool
	buf     bytes.Buffer
	enc     *json.Encoder
}

func newSSE(w http.ResponseWriter) *sse {
	e := &sse{w: w, rc: http.NewResponseController(w)}
	e.enc = json.NewEncoder(&e.buf)
	return e
}

func (e *sse) begun() bool { return e.started }

func (e *sse) begin() {
	if e.started {
		return
	}
	e.started = true
	h := e.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	e.w.WriteHeader(http.StatusOK)
}

func (e *sse) write(v any) error {
	e.begin()
	e.buf.Reset()
	e.buf.WriteString("data: ")
	if err := e.enc.Encode(v); err != nil { // JSON and a newline
		return err
	}
	e.buf.WriteByte('\n')
	_, err := e.w.Write(e.buf.Bytes())
	return err
}

func (e *sse) flush() error { return e.rc.Flush() }

func (e *sse) send(v any) error {
	if err := e.write(v); err != nil {
		return err
	}
	return e.flush()
}

func (e *sse) done() {
	e.begin()
	io.WriteString(e.w, "data: [DONE]\n\n")
	e.rc.Flush()
}
