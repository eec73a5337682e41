package dataset

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

func TestSplitStratifiedDeterministic(t *testing.T) {
	var b strings.Builder
	for i := range 1000 {
		lang := "en"
		if i%4 != 0 {
			lang = "ru"
		}
		b.WriteString(`{"instruction":"q` + string(rune('a'+i%26)) + `","output":"a","lang":"` + lang + `","n":` + strings.Repeat("1", 1+i%5) + "}\n")
	}
	b.WriteString("\n") // a blank line is dropped
	data := b.String()
	open := func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(data)), nil }
	run := func(seed uint64) (string, string, *SplitStats) {
		var tr, ev bytes.Buffer
		st, err := Split(context.Background(), open, &tr, &ev, SplitOptions{EvalShare: 0.1, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		return tr.String(), ev.String(), st
	}
	tr1, ev1, st := run(1)
	tr2, ev2, _ := run(1)
	tr3, _, _ := run(2)
	if tr1 != tr2 || ev1 != ev2 {
		t.Error("same seed, different split")
	}
	if tr1 == tr3 {
		t.Error("another seed gave the same split")
	}
	if st.Eval["ru"] != 75 || st.Eval["en"] != 25 || st.Train["ru"] != 675 || st.Train["en"] != 225 {
		t.Errorf("stats %+v", st)
	}
	// every input line is in exactly one output, in order
	all := strings.Split(strings.TrimSpace(data), "\n")
	got := append(strings.Split(strings.TrimSpace(tr1), "\n"), strings.Split(strings.TrimSpace(ev1), "\n")...)
	if len(got) != len(all) {
		t.Fatalf("%d lines out of %d", len(got), len(all))
	}
	bad := func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("{\"a\":1}\n{oops\n")), nil }
	_, err := Split(context.Background(), bad, io.Discard, io.Discard, SplitOptions{EvalShare: 0.5})
	var le *LineError
	if !errors.As(err, &le) || le.Line != 2 || !le.InvalidInput() {
		t.Errorf("bad line: %v", err)
	}
}

func TestConvertRoundTrip(t *testing.T) {
	exs := []Example{
		{Instruction: "Q", Output: "A", Lang: "en"},
		{System: "S", Instruction: "Вопрос", Output: "Ответ", History: [][2]string{{"q1", "a1"}, {"q2", "a2"}}, Lang: "ru"},
	}
	var in bytes.Buffer
	for _, ex := range exs {
		json.NewEncoder(&in).Encode(ex)
	}
	for _, mid := range []Format{ShareGPT, OpenAI} {
		var chat, back bytes.Buffer
		if n, err := Convert(context.Background(), bytes.NewReader(in.Bytes()), &chat, Alpaca, mid); err != nil || n != 2 {
			t.Fatalf("%s: %d %v", mid, n, err)
		}
		if _, err := Convert(context.Background(), bytes.NewReader(chat.Bytes()), &back, mid, Alpaca); err != nil {
			t.Fatalf("%s back: %v", mid, err)
		}
		if back.String() != in.String() {
			t.Errorf("%s round trip:\n%s\nwant\n%s\nvia\n%s", mid, back.String(), in.String(), chat.String())
		}
	}
	var out bytes.Buffer
	Convert(context.Background(), strings.NewReader(`{"instruction":"I","input":"X","output":"O"}`), &out, Alpaca, OpenAI)
	if want := `{"messages":[{"role":"user","content":"I\nX"},{"role":"assistant","content":"O"}]}` + "\n"; out.String() != want {
		t.Errorf("alpaca input joined: %s", out.String())
	}
	_, err := Convert(context.Background(), strings.NewReader(`{"conversations":[{"from":"gpt","value":"x"}]}`), io.Discard, ShareGPT, Alpaca)
	var le *LineError
	if !errors.As(err, &le) || le.Line != 1 {
		t.Errorf("bad turn order: %v", err)
	}
}

func TestTruncateLikeLLaMAFactory(t *testing.T) {
	// expected values worked by hand from infer_seqlen and the supervised
	// processor's loop
	tests := []struct {
		turns  []Turn
		cutoff int
		want   []Turn
	}{
		{[]Turn{{100, 50}}, 2048, []Turn{{100, 50}}},       // fits
		{[]Turn{{3000, 100}}, 2048, []Turn{{1948, 100}}},   // short answer: cut the prompt
		{[]Turn{{100, 3000}}, 2048, []Turn{{100, 1948}}},   // short prompt: cut the answer
		{[]Turn{{1500, 1500}}, 2048, []Turn{{1024, 1024}}}, // both long: proportionally
		// both long: answer int(2048 × 2400/3600) = 1365, prompt 2048 − 1365 = 683
		{[]Turn{{1200, 2400}}, 2048, []Turn{{683, 1365}}},
		// the second turn within the 148 left: both long for that budget, int(148 × 200/500) = 59
		{[]Turn{{1000, 900}, {300, 200}}, 2048, []Turn{{1000, 900}, {89, 59}}},
		{[]Turn{{1500, 600}, {10, 10}}, 2048, []Turn{{1448, 600}}}, // budget spent: turn 2 dropped
	}
	for _, tt := range tests {
		if got := Truncate(tt.turns, tt.cutoff); fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("Truncate(%v, %d) = %v, want %v", tt.turns, tt.cutoff, got, tt.want)
		}
	}
	if msg := describeTruncation([]Turn{{100, 3000}}, 2048); msg != "the answer: 3000 → 1948 tokens" {
		t.Errorf("describe: %q", msg)
	}
	if msg := describeTruncation([]Turn{{1500, 600}, {10, 10}}, 2048); msg != "turn 1's prompt: 1500 → 1448 tokens, turn 2: dropped" {
		t.Errorf("describe: %q", msg)
	}
}

func TestValidateCancel(t *testing.T) {
	var b strings.Builder
	for range 20000 {
		b.WriteString("{oops\n")
	}
	ctx, cancel := context.WithCancel(context.Background())
	seen := 0
	v := NewValidator(Options{Workers: 2, OnIssue: func(Issue) {
		if seen++; seen == 10 {
			cancel()
		}
	}})
	err := v.Validate(ctx, strings.NewReader(b.String()), "c")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if r := v.Report(); r.Lines >= 20000 {
		t.Errorf("went on after cancel: %d lines", r.Lines)
	}
}
