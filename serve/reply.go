package serve

import (
	"net/http"

	"github.com/sattva/sattva/llamacpp"
)

// stream is a response sent in pieces: OpenAI's server-sent events (sse) or
// Ollama's newline-delimited JSON (ndjson). Its headers go out with the
// first piece, so an error before it can still be a plain HTTP error.
type stream interface {
	send(v any) error // write and flush
	write(v any) error
	flush() error
	begun() bool
}

// reply is how a generation endpoint answers, in its API's shapes.
type reply struct {
	// whole is the body of a response that is not streamed.
	whole func(res genResult) any
	// stream, when not nil, streams the response: piece(text, toks) is
	// sent for every piece of text as it is generated, then end(res) sends
	// what closes the stream.
	stream stream
	piece  func(text string, toks []llamacpp.SlotToken) any
	end    func(res genResult)
	// failed is the event that reports an error after the stream began;
	// nil sends none.
	failed func(re *requestError) any
}

// readRequest decodes r's body into req, then returns the generation
// settings that settings reads from it. On an error of either it answers r
// and returns false.
func (s *Server) readRequest(w http.ResponseWriter, r *http.Request, req any, settings func() (genParams, error)) (genParams, bool) {
	if err := decodeBody(r, req); err != nil {
		s.writeRequestError(w, r, err)
		return genParams{}, false
	}
	p, err := settings()
	if err != nil {
		s.writeRequestError(w, r, err)
		return genParams{}, false
	}
	return p, true
}

// answer generates p and answers r as rp says. An error before anything
// was sent is an HTTP error; after, it is rp.failed's event, and a client
// that left gets nothing.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, p genParams, rp reply) {
	if rp.stream == nil {
		res, err := s.generate(r.Context(), p, nil, nil)
		if err != nil {
			s.writeRequestError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, rp.whole(res))
		return
	}
	// Each piece is written to the response's buffer, and flushed once per
	// batch of events the scheduler delivered.
	res, err := s.generate(r.Context(), p, func(text string, toks []llamacpp.SlotToken) error {
		return rp.stream.write(rp.piece(text, toks))
	}, rp.stream.flush)
	if err != nil {
		switch {
		case !rp.stream.begun():
			s.writeRequestError(w, r, err)
		case rp.failed != nil:
			if re := s.asRequestError(err); re.status != 499 {
				rp.stream.send(rp.failed(re))
			}
		}
		return
	}
	rp.end(res)
}
