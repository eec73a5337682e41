package cli

import (
	"errors"
	"net"
	"net/http"

	"github.com/sattva/sattva/evalrun"
	"github.com/sattva/sattva/llamacpp"
	"github.com/sattva/sattva/serve"
)

// serveEvalSlots and serveEvalContext size the server serveRunner starts:
// 8 slots of 4096 tokens (the control suite's prompts and answers fit).
const serveEvalSlots, serveEvalContext = 8, 4096

// servedRunner is an OpenAI runner against a serve.Server of this process.
type servedRunner struct {
	*evalrun.OpenAIRunner
	model    string
	shutdown func() error
}

// serveRunner is pipeline's in-process runner for `eval.runner: serve`: it
// loads o.Model (with o.Adapters), serves it with serve.Server on a loopback
// port of this process, and answers through its OpenAI API, so the report
// judges exactly what `sattva serve` answers. Close stops the server and
// frees the model.
func serveRunner(o evalrun.RunnerOptions) (evalrun.Runner, error) {
	if _, err := llamacpp.InitBackends(o.BackendDir, o.Logger); err != nil {
		return nil, err
	}
	mo := llamacpp.ModelOptions{GPULayers: o.GPULayers, CPUOnly: o.CPUOnly, Logger: o.Logger}
	for _, a := range o.Adapters {
		mo.LoRA = append(mo.LoRA, llamacpp.Adapter{Path: a.Path, Scale: a.Scale})
	}
	fa, err := llamacpp.ParseFlashAttention(o.FlashAttn)
	if err != nil {
		return nil, err
	}
	m, err := llamacpp.Load(o.Model, mo)
	if err != nil {
		return nil, err
	}
	lc, err := m.NewContext(llamacpp.ContextOptions{ContextSize: serveEvalContext, Parallel: serveEvalSlots, Threads: o.Threads, FlashAttention: fa})
	if err != nil {
		m.Close()
		return nil, err
	}
	srv, err := serve.New(lc, serve.Options{ModelName: "sattva", Version: Version, Logger: o.Logger})
	if err != nil {
		m.Close()
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Close()
		m.Close()
		return nil, err
	}
	hs := &http.Server{Handler: srv}
	go hs.Serve(ln)
	closed := false
	return &servedRunner{
		OpenAIRunner: &evalrun.OpenAIRunner{BaseURL: "http://" + ln.Addr().String(), Model: "sattva", Concurrency: serveEvalSlots, Retries: 1},
		model:        o.Model,
		shutdown: func() error {
			if closed {
				return nil
			}
			closed = true
			err := hs.Close()
			srv.Close()
			lc.Close()
			return errors.Join(err, m.Close())
		},
	}, nil
}

// Close implements evalrun.Runner.
func (r *servedRunner) Close() error { return r.shutdown() }

// Info implements evalrun.Describer.
func (r *servedRunner) Info() evalrun.GeneratorInfo {
	gi := r.OpenAIRunner.Info()
	gi.Model = r.model
	gi.Notes = append(gi.Notes, "answered by sattva serve in the pipeline's process")
	return gi
}
