package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
)

// StagePlan is what one stage of a pipeline run would do: Action is "run",
// "skip" (it would be skipped, Detail says why) or "blocked" (an input is
// missing or invalid: Missing says what to do first).
type StagePlan struct {
	Stage   string   `json:"stage"`
	Action  string   `json:"action"`
	Detail  string   `json:"detail"`
	Missing []string `json:"missing,omitempty"`
}

// Dry-run actions.
const (
	PlanRun     = "run"
	PlanSkip    = "skip"
	PlanBlocked = "blocked"
)

// DryRun says, stage by stage and in order, what RunPipeline would do with
// this project and what is missing, without writing anything and without the
// base model's weights. It never fails: problems are the plans' Missing.
func DryRun(ctx context.Context, p *Project, o PipelineOptions) []StagePlan {
	var plans []StagePlan
	// data
	data := StagePlan{Stage: StageData, Action: PlanRun}
	examples, err := p.CheckData(ctx, o.Train.ValidateData)
	if err != nil {
		data.Action, data.Missing = PlanBlocked, []string{err.Error()}
	} else {
		data.Detail = fmt.Sprintf("check %d examples in %s", len(examples), strings.Join(p.Data.Train, ", "))
	}
	plans = append(plans, data)

	// train
	baseErr := p.CheckBase()
	var baseMissing []string
	if baseErr != nil {
		if errors.Is(baseErr, ErrBaseMissing) {
			baseMissing = []string{"the base model: " + p.DownloadCommand()}
		} else {
			baseMissing = []string{baseErr.Error()}
		}
	}
	train := StagePlan{Stage: StageTrain, Action: PlanRun}
	topt := o.Train
	topt.AllowMissingBase = true
	tplan, _, err := PlanTrain(ctx, p, topt)
	switch {
	case err != nil:
		train.Action, train.Missing = PlanBlocked, []string{err.Error()}
	case tplan.Trainer == TrainerNone:
		train.Action, train.Detail = PlanSkip, tplan.Reason+"; export uses the base model alone"
	default:
		train.Detail = fmt.Sprintf("%s on %d examples → %s", tplan.Command, tplan.Examples, tplan.AdapterDir)
		train.Missing = baseMissing
	}
	if len(train.Missing) > 0 {
		train.Action = PlanBlocked
	}
	plans = append(plans, train)

	// export
	export := StagePlan{Stage: StageExport, Action: PlanRun, Missing: baseMissing}
	export.Detail = fmt.Sprintf("convert to %s, quantize to %s, Modelfile and manifest.json → %s",
		p.Export.OutType, strings.Join(p.Export.Types, ", "), p.ExportDir())
	if len(export.Missing) > 0 {
		export.Action = PlanBlocked
	}
	plans = append(plans, export)

	// eval
	eval := StagePlan{Stage: StageEval, Action: PlanRun}
	if p.Eval.Suite == "" {
		eval.Action, eval.Detail = PlanSkip, "no eval.suite in the project"
	} else if _, err := os.Stat(p.Resolve(p.Eval.Suite)); err != nil {
		eval.Action, eval.Missing = PlanBlocked, []string{p.Errorf("eval.suite", "%v", err).Error()}
	} else {
		eval.Detail = "the suite " + p.Eval.Suite + " on the exported model"
		if p.Eval.CompareBase {
			eval.Detail += " and on the base model (compare_base)"
		}
		if export.Action == PlanBlocked {
			eval.Action, eval.Missing = PlanBlocked, []string{"the export stage's model"}
		}
	}
	plans = append(plans, eval)
	return plans
}
