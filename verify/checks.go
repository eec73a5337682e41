package verify

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/sattva/sattva/dataset"
	"github.com/sattva/sattva/evalrun"
	"github.com/sattva/sattva/llamacpp"
	"github.com/sattva/sattva/pipeline"
)

// headerTokens are the turn-header tokens a template family's stops must
// hold, so a model that starts a new turn by itself is cut there.
func headerTokens(fam string) []string {
	switch fam {
	case "Llama 3":
		return []string{"<|start_header_id|>", "<|end_header_id|>"}
	case "ChatML":
		return []string{"<|im_start|>"}
	}
	return nil
}

func (o *Options) checkEOT(r *renderer, vocab *llamacpp.Model, mf *pipeline.ParsedModelfile, renders map[string][]Render, rep *Report) {
	if r.train == nil {
		rep.add(Check{Gate: GateEOT, Name: "end of turn", Status: Skip, Detail: "template plain: the answer ends with EOS"})
	} else {
		end := r.train.EndOfTurn()
		ids, err := vocab.Tokenize(end, false, true)
		endID := int32(-1)
		if err == nil && len(ids) == 1 {
			endID = ids[0]
		}
		if endID < 0 {
			rep.add(Check{Gate: GateEOT, Name: "end token", Status: Fail,
				Detail: fmt.Sprintf("the training template's end of turn %q is not one token of this vocabulary (%d tokens): the model cannot learn to emit it", end, len(ids))})
		} else {
			// Training data: every answer segment ends with the end token.
			ex := o.sampleExamples(3)
			if len(ex) == 0 {
				ex = []dataset.Example{{Instruction: "q", Output: "An answer."}}
			}
			bad := 0
			for i := range ex {
				for _, s := range r.train.Segments(&ex[i]) {
					if !s.Response {
						continue
					}
					toks, err := vocab.Tokenize(s.Text, false, true)
					if err != nil || len(toks) == 0 || toks[len(toks)-1] != endID {
						bad++
					}
				}
			}
			if bad > 0 {
				rep.add(Check{Gate: GateEOT, Name: "training turns end", Status: Fail, Detail: fmt.Sprintf("%d answer turns of the training format do not end with %s (%d)", bad, end, endID)})
			} else {
				rep.add(Check{Gate: GateEOT, Name: "training turns end", Status: Pass, Detail: fmt.Sprintf("every answer turn of %q ends with %s (token %d), checked on %d examples", r.train.Name, end, endID, len(ex))})
			}
			eog := vocab.EOGTokens()
			ev := []string{fmt.Sprintf("EOS %d %s, EOT %d %s, EOG %v", vocab.EOS(), vocab.TokenPiece(vocab.EOS()), vocab.EOT(), vocab.TokenPiece(vocab.EOT()), pieces(vocab, eog))}
			if slices.Contains(eog, endID) {
				rep.add(Check{Gate: GateEOT, Name: "GGUF end-of-generation", Status: Pass, Detail: fmt.Sprintf("%s (%d) is an end-of-generation token of the GGUF", end, endID), Evidence: ev})
			} else {
				rep.add(Check{Gate: GateEOT, Name: "GGUF end-of-generation", Status: Fail, Detail: fmt.Sprintf("%s (%d) is not among the GGUF's EOS/EOT/EOG tokens: llama.cpp will not stop at the end of a turn", end, endID), Evidence: ev})
			}
			if mf == nil {
				rep.add(Check{Gate: GateEOT, Name: "Modelfile stops", Status: Skip, Detail: "no Modelfile"})
			} else {
				want := append([]string{end}, headerTokens(family(r.train.Render(&dataset.Example{Instruction: "q"})))...)
				var missing []string
				for _, w := range want {
					if !slices.Contains(mf.Stops, w) {
						missing = append(missing, w)
					}
				}
				ev := []string{fmt.Sprintf("PARAMETER stop: %q", mf.Stops)}
				if len(missing) > 0 {
					rep.add(Check{Gate: GateEOT, Name: "Modelfile stops", Status: Fail,
						Detail: fmt.Sprintf("the Modelfile's stop parameters miss %s: Ollama will not cut the answer at the end of the turn", strings.Join(quoteAll(missing), ", ")), Evidence: ev})
				} else {
					rep.add(Check{Gate: GateEOT, Name: "Modelfile stops", Status: Pass, Detail: fmt.Sprintf("the Modelfile stops on %s", strings.Join(quoteAll(want), ", ")), Evidence: ev})
				}
			}
		}
	}
	// Exactly one BOS at the start of every rendering.
	bos := vocab.BOS()
	if bos < 0 {
		rep.add(Check{Gate: GateEOT, Name: "one BOS", Status: Skip, Detail: "the vocabulary has no BOS token"})
		return
	}
	names := slices.Sorted(maps.Keys(renders))
	var bad []string
	ways := 0
	for _, conv := range names {
		for _, x := range renders[conv] {
			if x.Err != "" {
				continue
			}
			ways++
			total := 0
			for _, t := range x.Tokens {
				if t == bos {
					total++
				}
			}
			lead := leadingBOS(x.Tokens, bos)
			if lead != 1 || total != 1 {
				why := ""
				switch {
				case lead > 1 && x.Way == WayGGUFJinja:
					why = ": the GGUF's chat template writes the BOS text more than once and llama.cpp adds add_bos_token's on top"
				case lead > 1:
					why = ": the template writes BOS and the tokenizer adds another (add_bos_token)"
				case total == 0:
					why = ": no BOS at all"
				}
				bad = append(bad, fmt.Sprintf("%s on %q: prompt starts with %d BOS tokens (%d in all)%s", x.Way, conv, lead, total, why))
			}
		}
	}
	if len(bad) > 0 {
		rep.add(Check{Gate: GateEOT, Name: "one BOS", Status: Fail, Detail: bad[0], Evidence: bad})
	} else if ways > 0 {
		rep.add(Check{Gate: GateEOT, Name: "one BOS", Status: Pass, Detail: fmt.Sprintf("every rendering starts with exactly one %s (%d renderings)", vocab.TokenPiece(bos), ways)})
	}
}

func pieces(m *llamacpp.Model, toks []int32) []string {
	var out []string
	for _, t := range toks {
		out = append(out, fmt.Sprintf("%d %s", t, m.TokenPiece(t)))
	}
	return out
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = strconv.Quote(x)
	}
	return out
}

// ollamaDefaults are Ollama's defaults for parameters a Modelfile leaves out
// (api/types.go DefaultOptions).
var ollamaDefaults = map[string]string{"temperature": "0.8", "top_k": "40", "top_p": "0.9", "min_p": "0",
	"repeat_penalty": "1.1", "repeat_last_n": "64", "seed": "-1 (random)", "num_ctx": "2048 (v0.6.5) / 4096 (later)"}

func (o *Options) checkSampling(mf *pipeline.ParsedModelfile, rep *Report) {
	if mf == nil {
		rep.add(Check{Gate: GateSampling, Name: "served sampler", Status: Skip, Detail: "no Modelfile"})
		return
	}
	served := map[string]float64{}
	var missing, unlike []string
	for _, k := range pipeline.SamplerParams() {
		v, ok := mf.Params[k]
		if !ok {
			missing = append(missing, fmt.Sprintf("%s (Ollama's default %s applies silently)", k, ollamaDefaults[k]))
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			unlike = append(unlike, fmt.Sprintf("%s %q is not a number", k, v))
			continue
		}
		served[k] = f
		if o.Project != nil {
			if want, _ := o.Project.Sampler.Get(k); want != f {
				unlike = append(unlike, fmt.Sprintf("%s: Modelfile %s, sattva.yaml sampler %s (export again)", k, v, pipeline.FormatParam(want)))
			}
		}
	}
	switch {
	case len(missing) > 0 || len(unlike) > 0:
		ev := append(append([]string{}, missing...), unlike...)
		d := ""
		if len(missing) > 0 {
			d = "the Modelfile leaves out " + strings.Join(missing, ", ")
		} else {
			d = "the Modelfile's sampler is not sattva.yaml's: " + strings.Join(unlike, "; ")
		}
		rep.add(Check{Gate: GateSampling, Name: "served sampler", Status: Fail, Detail: d, Evidence: ev})
	default:
		rep.add(Check{Gate: GateSampling, Name: "served sampler", Status: Pass, Detail: "the Modelfile sets every sampler parameter: " + formatParams(served)})
	}
	if o.EvalSampling == nil {
		rep.add(Check{Gate: GateSampling, Name: "eval vs served", Status: Skip, Detail: "no eval sampler known"})
		return
	}
	e := o.EvalSampling
	rp := e.RepeatPenalty
	if rp == 0 {
		rp = 1 // the runners' default: off
	}
	rln := float64(e.RepeatLastN)
	if rln == 0 {
		rln = 64
	}
	eval := map[string]float64{"temperature": e.Temperature, "top_k": float64(e.TopK), "top_p": e.TopP, "min_p": e.MinP,
		"repeat_penalty": rp, "repeat_last_n": rln, "seed": float64(e.Seed)}
	greedy := e.Temperature == 0
	var diffs, fatal []string
	for _, k := range pipeline.SamplerParams() {
		ev, ok := eval[k]
		sv, sok := served[k]
		if !ok || !sok || ev == sv {
			continue
		}
		if k == "top_p" && (ev == 0 || ev == 1) && (sv == 0 || sv == 1) {
			continue // both off
		}
		if k == "seed" && sv == -1 {
			continue // served with a random seed; the eval fixes one to be reproducible
		}
		line := fmt.Sprintf("%s: evaluated %s, served %s", k, pipeline.FormatParam(ev), pipeline.FormatParam(sv))
		changesGreedy := k == "repeat_penalty" || (k == "repeat_last_n" && (rp != 1 || served["repeat_penalty"] != 1))
		switch {
		case greedy && changesGreedy:
			line += ": a repeat penalty changes even greedy output, so the eval does not describe what Ollama serves"
			fatal = append(fatal, line)
		case greedy && k != "temperature":
			line += " (no effect on the greedy eval; the served model samples with it)"
		case greedy:
			line += " (the eval was greedy; served answers are sampled)"
		}
		diffs = append(diffs, line)
	}
	src := o.EvalSource
	if src == "" {
		src = "the given eval sampler"
	}
	switch {
	case len(fatal) > 0:
		rep.add(Check{Gate: GateSampling, Name: "eval vs served", Status: Fail, Detail: fatal[0], Evidence: append([]string{"eval sampler from " + src}, diffs...)})
	case len(diffs) > 0:
		rep.add(Check{Gate: GateSampling, Name: "eval vs served", Status: Warn, Detail: fmt.Sprintf("%d parameters differ between the eval and Ollama, none that changes greedy output: %s", len(diffs), strings.Join(diffs, "; ")), Evidence: append([]string{"eval sampler from " + src}, diffs...)})
	default:
		rep.add(Check{Gate: GateSampling, Name: "eval vs served", Status: Pass, Detail: "the eval sampled as Ollama will (" + src + ")"})
	}
}

func formatParams(m map[string]float64) string {
	var parts []string
	for _, k := range pipeline.SamplerParams() {
		if v, ok := m[k]; ok {
			parts = append(parts, k+" "+pipeline.FormatParam(v))
		}
	}
	return strings.Join(parts, ", ")
}

// load loads a model once per Run (the served model is both generated
// with and measured); Run closes them at its end.
func (o *Options) load(path string, lo llamacpp.ModelOptions) (*llamacpp.Model, error) {
	key := path
	for _, a := range lo.LoRA {
		key += "+" + a.Path
	}
	if m, ok := o.models[key]; ok {
		return m, nil
	}
	m, err := llamacpp.Load(path, lo)
	if err != nil {
		return nil, err
	}
	if o.models == nil {
		o.models = map[string]*llamacpp.Model{}
	}
	o.models[key] = m
	return m, nil
}

func (o *Options) closeModels() {
	for k, m := range o.models {
		m.Close()
		delete(o.models, k)
	}
}

// tooBig says why the heavy checks are skipped on this machine ("" to run them).
func (o *Options) tooBig() string {
	if o.CPUSizeLimit <= 0 {
		return ""
	}
	st, err := os.Stat(o.Served)
	if err != nil || st.Size() <= o.CPUSizeLimit {
		return ""
	}
	return fmt.Sprintf("no GPU and the model is %.1f GB: run `sattva verify` where a GPU is", float64(st.Size())/1e9)
}

func (o *Options) loadOpts() llamacpp.ModelOptions {
	return llamacpp.ModelOptions{CPUOnly: o.CPUOnly, Logger: o.Logger}
}

// checkGeneration generates greedily from three prompts as Ollama renders
// them, with the Modelfile's stops, up to the served context: each must
// end by itself (an end-of-generation token or a stop string).
func (o *Options) checkGeneration(ctx context.Context, r *renderer, mf *pipeline.ParsedModelfile, rep *Report) {
	if mf == nil || r.modelfile == nil {
		rep.add(Check{Gate: GateEOT, Name: "generation stops", Status: Skip, Detail: "no Modelfile TEMPLATE to render prompts with"})
		return
	}
	if why := o.tooBig(); why != "" {
		rep.add(Check{Gate: GateEOT, Name: "generation stops", Status: Skip, Detail: why})
		return
	}
	nctx := 4096
	if v, err := strconv.Atoi(mf.Params["num_ctx"]); err == nil && v > 0 {
		nctx = v
	}
	lo := o.loadOpts()
	if o.Adapter != "" && mf.Adapter != "" {
		lo.LoRA = []llamacpp.Adapter{{Path: o.Adapter, Scale: 1}}
	}
	o.say("generating from 3 prompts with %s", filepath.Base(o.Served))
	m, err := o.load(o.Served, lo)
	if err != nil {
		rep.add(Check{Gate: GateEOT, Name: "generation stops", Status: Fail, Detail: err.Error()})
		return
	}
	if t := m.NCtxTrain(); t > 0 && t < nctx {
		nctx = t
	}
	c, err := m.NewContext(llamacpp.ContextOptions{ContextSize: nctx, Threads: o.Threads, BatchThreads: o.Threads})
	if err != nil {
		rep.add(Check{Gate: GateEOT, Name: "generation stops", Status: Fail, Detail: err.Error()})
		return
	}
	defer c.Close()
	var lines []string
	failed := 0
	for _, conv := range Conversations()[:3] {
		x := r.render(WayModelfile, conv)
		if x.Err != "" {
			continue
		}
		n, reason := 0, llamacpp.StopContextFull
		var text strings.Builder
		for tok, err := range c.Generate(ctx, x.Tokens, llamacpp.GenerateOptions{Stop: mf.Stops}) {
			if err != nil {
				break
			}
			n++
			if text.Len() < 80 {
				text.WriteString(tok.Text)
			}
		}
		switch {
		case len(x.Tokens)+n < nctx:
			reason = "ended by itself"
		default:
			failed++
			reason = fmt.Sprintf("ran into the end of the context (%d tokens) without an end-of-generation token or stop", nctx)
		}
		lines = append(lines, fmt.Sprintf("%q: %d tokens, %s: %s", conv.Name, n, reason, clip(text.String(), 90)))
	}
	if failed > 0 {
		// A warning, not a failed gate: whether the model ends its turns is
		// learned in training; the export's part (the end token among the
		// GGUF's EOG tokens, the Modelfile's stops) is gated above.
		rep.add(Check{Gate: GateEOT, Name: "generation stops", Status: Warn, Detail: fmt.Sprintf("%d of %d greedy generations never ended within num_ctx %d: the model does not emit its end token (undertrained, or trained without it)", failed, len(lines), nctx), Evidence: lines})
	} else {
		rep.add(Check{Gate: GateEOT, Name: "generation stops", Status: Pass, Detail: fmt.Sprintf("%d greedy generations ended by themselves within num_ctx %d", len(lines), nctx), Evidence: lines})
	}
}

// sampleExamples returns up to n examples from the held-out data (or the
// training data).
func (o *Options) sampleExamples(n int) []dataset.Example {
	ex, _, _ := o.examples(n)
	return ex
}

// examples reads up to n examples: the held-out file, else the last n of
// the last training file. It says where they came from.
func (o *Options) examples(n int) ([]dataset.Example, string, error) {
	file, src := o.Data, ""
	if file != "" {
		src = "held-out " + file
	} else if o.Project != nil && len(o.Project.Data.Train) > 0 {
		files := o.Project.DataFiles()
		file = files[len(files)-1]
		src = "the last examples of training file " + file + " (not held out: set verify.data)"
	}
	if file == "" {
		return nil, "", nil
	}
	rc, err := dataset.Open(file)
	if err != nil {
		return nil, src, err
	}
	defer rc.Close()
	var all []dataset.Example
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var e dataset.Example
		if err := json.Unmarshal([]byte(line), &e); err != nil || e.Output == "" {
			continue
		}
		all = append(all, e)
		if o.Data != "" && len(all) >= n {
			break
		}
	}
	if err := sc.Err(); err != nil {
		return nil, src, err
	}
	if len(all) > n {
		all = all[len(all)-n:]
	}
	return all, src, nil
}

// Sequences renders examples as the trainer does (prompt, then the answer
// with its end token) and returns them for KLD, the answer scored. Each is
// labelled by the answer's language ("ru" with Cyrillic letters, else "en").
func Sequences(vocab *llamacpp.Model, t *dataset.Template, examples []dataset.Example, maxTokens int) ([]Sequence, error) {
	var out []Sequence
	for i := range examples {
		ex := &examples[i]
		var toks []int32
		if t.BOS != "" && vocab.BOS() >= 0 {
			toks = append(toks, vocab.BOS())
		}
		segs := t.Segments(ex)
		start := 0
		for j, s := range segs {
			st, err := vocab.Tokenize(s.Text, false, true)
			if err != nil {
				return nil, err
			}
			if j == len(segs)-1 {
				start = len(toks)
			}
			toks = append(toks, st...)
		}
		if maxTokens > 0 && len(toks) > maxTokens {
			toks = toks[:maxTokens]
		}
		if start < 1 || start >= len(toks) {
			continue
		}
		out = append(out, Sequence{Tokens: toks, Start: start, Label: lang(ex)})
	}
	return out, nil
}

func lang(ex *dataset.Example) string {
	if ex.Lang != "" {
		return ex.Lang
	}
	for _, r := range ex.Output {
		if unicode.Is(unicode.Cyrillic, r) {
			return "ru"
		}
	}
	return "en"
}

func (o *Options) checkNumbers(ctx context.Context, r *renderer, rep *Report) error {
	if why := o.tooBig(); why != "" {
		rep.add(Check{Gate: GateNumbers, Name: "KL divergence", Status: Skip, Detail: why})
		return nil
	}
	n := o.Examples
	if n <= 0 {
		n = 200
	}
	exs, src, err := o.examples(n)
	if err != nil {
		return err
	}
	rep.Examples = src
	if len(exs) == 0 {
		rep.add(Check{Gate: GateNumbers, Name: "KL divergence", Status: Skip, Detail: "no examples to score (set verify.data or --data)"})
		return nil
	}
	t := r.train
	if t == nil {
		rep.add(Check{Gate: GateNumbers, Name: "KL divergence", Status: Skip, Detail: "template plain: the examples have no chat format to render answers with"})
		return nil
	}
	seqs, err := Sequences(r.vocab, t, exs, 2048)
	if err != nil {
		return err
	}
	merge, quant := pipeline.DefaultMergeThreshold(), pipeline.DefaultQuantThreshold
	if o.Project != nil {
		merge, quant = o.Project.Verify.Merge, o.Project.Verify.QuantThreshold
	}
	work := o.WorkDir
	if work == "" {
		if work, err = os.MkdirTemp("", "sattva-verify-"); err != nil {
			return err
		}
		defer os.RemoveAll(work)
	}
	p := o.Project
	// The references the export did not keep.
	adapterDir := ""
	if p != nil {
		if _, err := os.Stat(filepath.Join(p.AdapterDir(), "adapter_config.json")); err == nil {
			adapterDir = p.AdapterDir()
		}
	}
	if o.Reference == "" && p != nil {
		// The native trainer's checkpoint (F32) is what the export
		// quantized in place of the base: it is the reference.
		if native, ok := p.NativeCheckpoint(); ok {
			o.Reference = native
		}
	}
	if o.Reference == "" && p != nil && o.Convert != nil {
		o.Reference = filepath.Join(work, "reference-"+strings.ToLower(p.Export.OutType)+".gguf")
		o.say("converting the merged float reference")
		merge := ""
		if p.Export.Adapter == "merge" {
			merge = adapterDir
		}
		if err := o.Convert(ctx, p.BaseDir(), o.Reference, strings.ToLower(p.Export.OutType), merge); err != nil {
			return fmt.Errorf("converting the reference: %w", err)
		}
	}
	mergeMode := p == nil || p.Export.Adapter == "merge"
	if mergeMode && adapterDir != "" && o.Base == "" && o.Convert != nil {
		o.Base = filepath.Join(work, "base-"+strings.ToLower(p.Export.OutType)+".gguf")
		o.say("converting the unmerged base")
		if err := o.Convert(ctx, p.BaseDir(), o.Base, strings.ToLower(p.Export.OutType), ""); err != nil {
			return fmt.Errorf("converting the base: %w", err)
		}
	}
	if mergeMode && adapterDir != "" && o.Adapter == "" && o.ConvertLoRA != nil {
		o.Adapter = filepath.Join(work, "adapter.gguf")
		o.say("converting the adapter")
		if err := o.ConvertLoRA(ctx, adapterDir, p.BaseDir(), o.Adapter); err != nil {
			return fmt.Errorf("converting the adapter: %w", err)
		}
	}
	if o.Reference == "" {
		rep.add(Check{Gate: GateNumbers, Name: "KL divergence", Status: Skip, Detail: "no float reference model (give --ref)"})
		return nil
	}
	ref, err := o.load(o.Reference, o.loadOpts())
	if err != nil {
		return err
	}
	ko := KLOptions{Threads: o.Threads}
	// Merge: the merged reference against base + adapter at load.
	if o.Base != "" && o.Adapter != "" && mergeMode {
		lo := o.loadOpts()
		lo.LoRA = []llamacpp.Adapter{{Path: o.Adapter, Scale: 1}}
		bm, err := o.load(o.Base, lo)
		if err != nil {
			return err
		}
		o.say("KL: merged %s against base + adapter, %d examples", filepath.Base(o.Reference), len(seqs))
		st, err := KLD(ctx, bm, ref, seqs, ko)
		if err != nil {
			return err
		}
		o.addKL(rep, KLResult{Name: "merge", Reference: o.Base + " + " + filepath.Base(o.Adapter), Test: o.Reference, Threshold: merge, Stats: st})
	} else if mergeMode {
		rep.add(Check{Gate: GateNumbers, Name: "KL merge", Status: Skip, Detail: "no adapter: nothing was merged"})
	}
	types := slices.Sorted(maps.Keys(o.Quantized))
	var tests []*llamacpp.Model
	var names []string
	for _, ty := range types {
		m, err := o.load(o.Quantized[ty], o.loadOpts())
		if err != nil {
			return err
		}
		tests = append(tests, m)
		names = append(names, ty)
	}
	if len(tests) > 0 {
		o.say("KL: %s against %s, %d examples", strings.Join(names, ", "), filepath.Base(o.Reference), len(seqs))
		sts, err := KLDMany(ctx, ref, tests, seqs, ko)
		if err != nil {
			return err
		}
		for i, ty := range names {
			o.addKL(rep, KLResult{Name: ty, Reference: o.Reference, Test: o.Quantized[ty], Threshold: quant(ty), Stats: sts[i]})
		}
	}
	return nil
}

func (o *Options) addKL(rep *Report, k KLResult) {
	st, t := k.Stats, k.Threshold
	var over []string
	if st.MeanKLD > t.KLDMean {
		over = append(over, fmt.Sprintf("mean KLD %.4g > %.4g", st.MeanKLD, t.KLDMean))
	}
	if st.P99KLD > t.KLDP99 {
		over = append(over, fmt.Sprintf("p99 KLD %.4g > %.4g", st.P99KLD, t.KLDP99))
	}
	if st.Top1 < t.Top1Min {
		over = append(over, fmt.Sprintf("top-1 agreement %.2f%% < %.2f%%", 100*st.Top1, 100*t.Top1Min))
	}
	if st.PPLRatio > t.PPLRatioMax {
		over = append(over, fmt.Sprintf("PPL ratio %.4f > %.4f", st.PPLRatio, t.PPLRatioMax))
	}
	k.Status = Pass
	what := "merged model vs base + adapter at load"
	if k.Name != "merge" {
		what = k.Name + " vs " + filepath.Base(k.Reference)
	}
	line := fmt.Sprintf("mean KLD %.5f ± %.5f, p99 %.5f, max %.4f, top-1 %.2f%%, PPL %.4f/%.4f = %.4f over %d tokens of %d examples",
		st.MeanKLD, st.MeanKLDErr, st.P99KLD, st.MaxKLD, 100*st.Top1, st.PPLTest, st.PPLRef, st.PPLRatio, st.Tokens, st.Sequences)
	ev := []string{line}
	for _, l := range slices.Sorted(maps.Keys(st.ByLabel)) {
		b := st.ByLabel[l]
		ev = append(ev, fmt.Sprintf("%s: mean KLD %.5f, p99 %.5f, top-1 %.2f%%, PPL ratio %.4f over %d tokens", l, b.MeanKLD, b.P99KLD, 100*b.Top1, b.PPLRatio, b.Tokens))
	}
	ev = append(ev, fmt.Sprintf("threshold: mean ≤ %g, p99 ≤ %g, top-1 ≥ %g%%, PPL ratio ≤ %g", t.KLDMean, t.KLDP99, 100*t.Top1Min, t.PPLRatioMax))
	detail := what + ": " + line
	if len(over) > 0 {
		k.Status = Fail
		detail = what + ": " + strings.Join(over, ", ")
		if k.Name == "merge" {
			detail += ": the merged weights are not base + adapter (a tensor changed in the merge)"
		} else {
			detail += ": the quantized file is not a faithful copy of the float model (a broken tensor, or a type too coarse for this model)"
		}
	}
	if math.IsNaN(st.MeanKLD) {
		k.Status = Fail
		detail = what + ": KL divergence is NaN (non-finite logits)"
	}
	rep.KL = append(rep.KL, k)
	sort.SliceStable(rep.KL, func(i, j int) bool { return rep.KL[i].Name == "merge" && rep.KL[j].Name != "merge" })
	rep.add(Check{Gate: GateNumbers, Name: "KL " + k.Name, Status: k.Status, Detail: detail, Evidence: ev})
}

// evalReportSampling reads the sampling settings of an eval report.json.
func evalReportSampling(path string) (*evalrun.Sampling, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, false
	}
	var doc struct {
		Run *struct {
			Settings struct {
				Sampling evalrun.Sampling `json:"sampling"`
			} `json:"settings"`
		} `json:"run"`
	}
	if json.Unmarshal(b, &doc) != nil || doc.Run == nil {
		return nil, false
	}
	s := doc.Run.Settings.Sampling
	return &s, true
}
