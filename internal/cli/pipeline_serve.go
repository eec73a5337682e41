package cli

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"

	"github.com/sattva/sattva/evalrun"
	"github.com/sattva/sattva/llamacpp"
	"github.com/sattva/sattva/pipeline"
	"github.com/sattva/sattva/serve"
)

// serveEvalSlots and serveEvalContext size the server evalWithServe starts:
// 8 slots of 4096 tokens (the control suite's prompts and answers fit).
const serveEvalSlots, serveEvalContext = 8, 4096

// evalWithServe is pipeline's eval stage with `eval.runner: serve`: each
// model is served by a serve.Server on a loopback port of this process and
// the suite runs through its OpenAI API (evalrun.OpenAIRunner), so the
// report judges exactly what `sattva serve` answers. The report files and
// the outcome are those of pipeline.EvalWithLlamaCpp.
func evalWithServe(ctx context.Context, r pipeline.EvalRequest, lo evalrun.LlamaOptions) (*pipeline.EvalOutcome, error) {
	suite, err := evalrun.LoadSuite(r.Suite)
	if err != nil {
		return nil, err
	}
	if _, err := llamacpp.InitBackends(lo.BackendDir, lo.Logger); err != nil {
		return nil, err
	}
	runOne := func(model, adapter, label string) (*evalrun.Report, error) {
		mo := llamacpp.ModelOptions{GPULayers: lo.GPULayers, CPUOnly: lo.CPUOnly, Logger: lo.Logger}
		if adapter != "" {
			mo.LoRA = []llamacpp.Adapter{{Path: adapter, Scale: 1}}
		}
		m, err := llamacpp.Load(model, mo)
		if err != nil {
			return nil, err
		}
		defer m.Close()
		lc, err := m.NewContext(llamacpp.ContextOptions{ContextSize: serveEvalContext, Parallel: serveEvalSlots, Threads: lo.Threads})
		if err != nil {
			return nil, err
		}
		defer lc.Close()
		srv, err := serve.New(lc, serve.Options{ModelName: "sattva", Version: Version, Logger: lo.Logger})
		if err != nil {
			return nil, err
		}
		defer srv.Close()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		hs := &http.Server{Handler: srv}
		go hs.Serve(ln)
		defer hs.Close()
		g := &evalrun.OpenAIRunner{BaseURL: "http://" + ln.Addr().String(), Model: "sattva", Concurrency: serveEvalSlots, Retries: 1}
		rep, err := evalrun.Run(ctx, suite, g, evalrun.RunOptions{Label: label})
		if err == nil {
			rep.Generator.Model = model
			rep.Generator.Notes = append(rep.Generator.Notes, "answered by sattva serve in the pipeline's process")
		}
		return rep, err
	}
	var baseRep *evalrun.Report
	if r.Base != "" {
		if baseRep, err = runOne(r.Base, "", "base"); err != nil {
			return nil, err
		}
	}
	rep, err := runOne(r.Model, r.Adapter, "fine-tune")
	if err != nil {
		return nil, err
	}
	if rep.Summary.Errors > 0 && rep.Summary.Errors == rep.Summary.Total {
		return nil, errors.New("eval through sattva serve: every case failed (see the report's errors)")
	}
	if err := os.MkdirAll(r.OutDir, 0o755); err != nil {
		return nil, err
	}
	if _, err := evalrun.WriteFiles(r.OutDir, evalrun.NewDocument("sattva pipeline", rep, baseRep)); err != nil {
		return nil, err
	}
	out := &pipeline.EvalOutcome{PassRate: rep.Summary.PassRate, Passed: rep.Summary.Passed, Total: rep.Summary.Total,
		Report: filepath.Join(r.OutDir, "report.json")}
	if baseRep != nil {
		br := baseRep.Summary.PassRate
		out.BasePassRate = &br
	}
	return out, nil
}
