package dataset

import (
	"fmt"
	"strings"
)

// Turn is the token length of one prompt/answer pair as LLaMA-Factory
// encodes it (encode_multiturn): Source is the prompt (for the first turn with
// BOS and the system message), Target the answer.
type Turn struct{ Source, Target int }

// TurnCounter is a TokenCounter that also gives every turn's lengths, so that
// a truncation can be described as LLaMA-Factory would do it.
type TurnCounter interface {
	TokenCounter
	CountTurns(ex *Example) ([]Turn, error)
}

// inferSeqlen is LLaMA-Factory's infer_seqlen (src/llamafactory/data/processor/
// processor_utils.py): how many prompt and answer tokens survive a budget of
// cutoff tokens.
func inferSeqlen(source, target, cutoff int) (int, int) {
	var maxTarget int
	switch {
	case target*2 < cutoff: // truncate the source
		maxTarget = cutoff
	case source*2 < cutoff: // truncate the target
		maxTarget = cutoff - source
	default: // truncate both
		maxTarget = int(float64(cutoff) * (float64(target) / float64(source+target)))
	}
	newTarget := min(maxTarget, target)
	newSource := min(max(cutoff-newTarget, 0), source)
	return newSource, newTarget
}

// Truncate returns the turns as LLaMA-Factory's supervised processor keeps
// them at cutoffLen (mask_history off): turn by turn, each within what the
// earlier ones left; turns after the budget is spent are dropped (absent
// from the result).
func Truncate(turns []Turn, cutoffLen int) []Turn {
	var out []Turn
	total := 0
	for _, t := range turns {
		if total >= cutoffLen {
			break
		}
		s, g := inferSeqlen(t.Source, t.Target, cutoffLen-total)
		out = append(out, Turn{s, g})
		total += s + g
	}
	return out
}

// describeTruncation says what LLaMA-Factory would cut.
func describeTruncation(turns []Turn, cutoff int) string {
	kept := Truncate(turns, cutoff)
	var parts []string
	for i, t := range turns {
		name := "the prompt"
		ans := "the answer"
		if len(turns) > 1 {
			name = fmt.Sprintf("turn %d's prompt", i+1)
			ans = fmt.Sprintf("turn %d's answer", i+1)
		}
		if i >= len(kept) {
			parts = append(parts, fmt.Sprintf("turn %d: dropped", i+1))
			continue
		}
		if k := kept[i]; k.Source < t.Source {
			parts = append(parts, fmt.Sprintf("%s: %d → %d tokens", name, t.Source, k.Source))
		}
		if k := kept[i]; k.Target < t.Target {
			parts = append(parts, fmt.Sprintf("%s: %d → %d tokens", ans, t.Target, k.Target))
		}
	}
	return strings.Join(parts, ", ")
}
