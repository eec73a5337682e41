package dataset

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/klauspost/compress/zstd"
	"github.com/sattva/sattva/numerology"
)

// plantedLine is a fault planted in a generated set and the issue it must cause.
type plantedLine struct {
	line int64
	kind Kind
	ref  int64
}

// longRussian is an answer far longer than the cutoff used in the tests.
func longRussian() string {
	var b strings.Builder
	for i := range 120 {
		fmt.Fprintf(&b, "Пункт %d: подробное объяснение того, как устроен расчёт и почему он важен для практики. ", i+1)
	}
	return b.String()
}

// plantedSet returns a generated numerology set of 40 lines with six faults
// planted, and the issues a validator must report for it, nothing else.
func plantedSet(t testing.TB) ([]byte, []plantedLine) {
	t.Helper()
	seq, err := numerology.Examples(numerology.GenOptions{N: 60, Seed: 42, RussianShare: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	var all []numerology.Example
	for ex := range seq {
		all = append(all, ex)
	}
	base, extra := all[:40], all[40:]
	var ruExtra, anyExtra []numerology.Example
	for _, ex := range extra {
		if ex.Lang == "ru" {
			ruExtra = append(ruExtra, ex)
		} else {
			anyExtra = append(anyExtra, ex)
		}
	}
	lines := make([]string, 40)
	enc := func(v any) string {
		var b bytes.Buffer
		e := json.NewEncoder(&b)
		e.SetEscapeHTML(false)
		if err := e.Encode(v); err != nil {
			t.Fatal(err)
		}
		return strings.TrimSuffix(b.String(), "\n")
	}
	for i, ex := range base {
		lines[i] = enc(ex)
	}
	// line 7: broken JSON
	lines[6] = `{"instruction": "Определи числа Джива, Дхарма, Подход, Метод, Карма для даты: 01.02.1990.", "output": `
	// line 12: empty output
	e12 := base[11]
	e12.Output = ""
	lines[11] = enc(e12)
	// line 20: a copy of line 3
	lines[19] = lines[2]
	// line 25: a wrong Karma
	e25 := anyExtra[0]
	d := numerology.FindDates(e25.Instruction + "\n" + e25.Input)[0].Date
	n := numerology.Compute(d)
	n.Karma = n.Karma%9 + 1
	var out []string
	for _, f := range numerology.Fields() {
		out = append(out, fmt.Sprintf("%s: %d", f.Label(e25.Lang), n.Get(f)))
	}
	e25.Output = strings.Join(out, "\n")
	lines[24] = enc(e25)
	// line 30: Russian text marked en
	e30 := ruExtra[0]
	e30.Lang = "en"
	lines[29] = enc(e30)
	// line 35: an answer far over the cutoff
	lines[34] = enc(Example{Instruction: "Расскажи подробно, как SatTva считает пять чисел.", Output: longRussian(), Lang: "ru"})
	want := []plantedLine{
		{7, KindJSON, 0}, {12, KindEmptyField, 0}, {20, KindDuplicate, 3},
		{25, KindNumerology, 0}, {30, KindLangMismatch, 0}, {35, KindTruncated, 0},
	}
	return []byte(strings.Join(lines, "\n") + "\n"), want
}

// byteCounter is a test double for a tokenizer: one token per 4 bytes of
// each segment plus BOS. It exercises the truncation plumbing without cgo;
// tokens_test.go checks the real Llama 3 tokenizer.
type byteCounter struct{ t *Template }

func (c byteCounter) CountTokens(ex *Example) (int, error) {
	n := 1
	for _, s := range c.t.Segments(ex) {
		n += (len(s.Text) + 3) / 4
	}
	return n, nil
}

const testCutoff = 512

func checkPlanted(t *testing.T, rep *Report, want []plantedLine) {
	t.Helper()
	var got []plantedLine
	for _, is := range rep.Issues {
		got = append(got, plantedLine{is.Line, is.Kind, is.Ref})
		t.Logf("%s", is)
	}
	sort.Slice(got, func(i, j int) bool { return got[i].line < got[j].line })
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("issues\n got %v\nwant %v", got, want)
	}
	if rep.Errors != int64(len(want)) || rep.Warnings != 0 {
		t.Errorf("errors %d warnings %d, want %d and 0", rep.Errors, rep.Warnings, len(want))
	}
}

func TestValidatePlantedFaults(t *testing.T) {
	data, want := plantedSet(t)
	tmpl, _ := LookupTemplate("llama3")
	v := NewValidator(Options{Tokens: byteCounter{tmpl}, Cutoff: testCutoff, Workers: 2})
	if err := v.Validate(context.Background(), bytes.NewReader(data), "planted.jsonl"); err != nil {
		t.Fatal(err)
	}
	rep := v.Report()
	checkPlanted(t, rep, want)
	if rep.Lines != 40 || rep.Examples != 39 {
		t.Errorf("lines %d examples %d, want 40 and 39", rep.Lines, rep.Examples)
	}
	if rep.Tokens == nil || rep.Tokens.Truncated != 1 || rep.Tokens.Counted != 39 {
		t.Errorf("token stats %+v", rep.Tokens)
	}
	if rep.Bytes != int64(len(data)) {
		t.Errorf("bytes %d, want %d", rep.Bytes, len(data))
	}
}

func TestValidateCompressed(t *testing.T) {
	data, want := plantedSet(t)
	var gz, zs bytes.Buffer
	gw := gzip.NewWriter(&gz)
	gw.Write(data)
	gw.Close()
	zw, _ := zstd.NewWriter(&zs)
	zw.Write(data)
	zw.Close()
	tmpl, _ := LookupTemplate("llama3")
	for name, in := range map[string][]byte{"gz": gz.Bytes(), "zst": zs.Bytes()} {
		t.Run(name, func(t *testing.T) {
			v := NewValidator(Options{Tokens: byteCounter{tmpl}, Cutoff: testCutoff})
			if err := v.Validate(context.Background(), bytes.NewReader(in), "planted.jsonl."+name); err != nil {
				t.Fatal(err)
			}
			checkPlanted(t, v.Report(), want)
		})
	}
	// a truncated gzip stream is a FormatError that is an invalid input
	v := NewValidator(Options{})
	err := v.Validate(context.Background(), bytes.NewReader(gz.Bytes()[:len(gz.Bytes())/2]), "cut.jsonl.gz")
	var fe *FormatError
	if !errors.As(err, &fe) || !errors.Is(err, ErrFormat) || !fe.InvalidInput() {
		t.Errorf("truncated gzip: err = %v", err)
	}
}

func TestValidateIssues(t *testing.T) {
	tests := []struct {
		name string
		line string
		want []Kind
	}{
		{"clean en", `{"instruction":"Say hello to the user please","input":"","output":"Hello there, dear user!","lang":"en"}`, nil},
		{"missing output", `{"instruction":"Say hello to the user please","lang":"en"}`, []Kind{KindMissingField}},
		{"blank instruction", `{"instruction":"  ","output":"Hello there, dear user!","lang":"en"}`, []Kind{KindEmptyField}},
		{"unknown field", `{"instruction":"Say hello to the user please","output":"Hello there, dear user!","lang":"en","ouput":"x"}`, []Kind{KindUnknownField}},
		{"number output", `{"instruction":"Say hello to the user please","output":5,"lang":"en"}`, []Kind{KindFieldType, KindEmptyField}},
		{"duplicate key", `{"instruction":"Say hello to the user please","output":"Hello there, dear user!","output":"Hello there, dear user!","lang":"en"}`, []Kind{KindDuplicateKey}},
		{"no lang", `{"instruction":"Say hello to the user please","output":"Hello there, dear user!"}`, []Kind{KindLangMissing}},
		{"lang de", `{"instruction":"Say hello to the user please","output":"Hello there, dear user!","lang":"de"}`, []Kind{KindLangUnknown}},
		{"EN text marked ru", `{"instruction":"Say hello to the user please","output":"Hello there, dear user!","lang":"ru"}`, []Kind{KindLangMismatch}},
		{"RU prose about code", "{\"instruction\":\"Почему падает функция?\",\"output\":\"Ошибка в цикле: ```go\\n// this loop reads past the end of the slice when the last element is processed by the worker pool\\nfor i := range items { process(items[i+1]) }\\nreturn results, fmt.Errorf(\\\"failed processing everything\\\")\\n``` — индекс `items[i+1]` выходит за границу.\",\"lang\":\"ru\"}", nil},
		{"array", `[1,2]`, []Kind{KindJSON}},
		{"trailing data", `{"instruction":"a","output":"b","lang":"en"} x`, []Kind{KindJSON}},
		{"bad utf8", "{\"instruction\":\"\xff\xfe\",\"output\":\"b\",\"lang\":\"en\"}", []Kind{KindEncoding}},
		{"history ok", `{"instruction":"Say hello to the user please","output":"Hello there, dear user!","lang":"en","history":[["hi","hello"]]}`, nil},
		{"history bad", `{"instruction":"Say hello to the user please","output":"Hello there, dear user!","lang":"en","history":[["hi"]]}`, []Kind{KindFieldType}},
		{"null input", `{"instruction":"Say hello to the user please","input":null,"output":"Hello there, dear user!","lang":"en"}`, nil},
		{"blank", `   `, []Kind{KindBlankLine}},
		{"numerology right", `{"instruction":"Jiva, Dharma, Approach, Method, Karma for 29.01.1988?","output":"2, 3, 1, 8, 5","lang":"en"}`, nil},
		{"numerology wrong Dharma", `{"instruction":"Определи Дживу и Дхарму для 5 ноября 2004","output":"Джива: 5, Дхарма: 6","lang":"ru"}`, []Kind{KindNumerology}},
		{"two dates not judged", `{"instruction":"Compare Jiva for 29.01.1988 and 05.11.2004","output":"Jiva: 9","lang":"en"}`, nil},
		{"numerology unnamed EN wrong Karma", `{"instruction":"Numbers for 29.01.1988?","output":"Jiva: 2, Dharma: 3, Approach: 1, Method: 8, Karma: 9","lang":"en"}`, []Kind{KindNumerology}},
		{"numerology unnamed RU wrong", `{"instruction":"Рассчитай мои числа, я родился 29.01.1988","output":"Джива: 2\nДхарма: 3\nПодход: 1\nМетод: 8\nКарма: 9","lang":"ru"}`, []Kind{KindNumerology}},
		{"numerology unnamed RU bare list wrong", `{"instruction":"Рассчитай мои числа, я родился 29 января 1988 года","output":"Ваши числа: 2, 3, 1, 8, 9.","lang":"ru"}`, []Kind{KindNumerology}},
		{"numerology unnamed EN bare list wrong, date in input", `{"instruction":"What are my numbers?","input":"born 1988-01-29","output":"2 3 1 8 9","lang":"en"}`, []Kind{KindNumerology}},
		{"numerology unnamed EN right", `{"instruction":"Numbers for 29.01.1988?","output":"2, 3, 1, 8, 5","lang":"en"}`, nil},
		{"numerology working shown right", `{"instruction":"Рассчитай мои числа, я родился 29.01.1988","output":"Метод: 1988 → 1 + 9 + 8 + 8 = 26 → 8\nДжива: 29 → 2 + 9 = 11 → 2\nПодход: 1\nДхарма = Джива + Подход = 2 + 1 = 3\nКарма = Джива + Дхарма + Подход + Метод = 14 → 5","lang":"ru"}`, nil},
		{"numerology correction", `{"instruction":"Numbers for 29.01.1988?","output":"Jiva: 2, Dharma: 3, Approach: 1, Method: 8, Karma: 5. Correction: Karma is actually 6.","lang":"en"}`, []Kind{KindNumerology}},
		{"numerology hedge RU", `{"instruction":"Мои числа? Дата: 29.01.1988","output":"Джива: 2 или 3, Дхарма: 3, Подход: 1, Метод: 8, Карма: 5","lang":"ru"}`, []Kind{KindNumerology}},
		{"date without numbers not judged", `{"instruction":"What day of the week was 29.01.1988?","output":"It was a Friday.","lang":"en"}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := NewValidator(Options{})
			if err := v.Validate(context.Background(), strings.NewReader(tt.line+"\n"), "t.jsonl"); err != nil {
				t.Fatal(err)
			}
			var got []Kind
			for _, is := range v.Report().Issues {
				if is.Kind == KindNoExamples {
					continue // a one-line file that is no example is also an empty dataset
				}
				if is.Line != 1 {
					t.Errorf("issue on line %d", is.Line)
				}
				got = append(got, is.Kind)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestValidateDuplicatesAcrossFiles(t *testing.T) {
	a := `{"instruction":"Say hello to the user please","output":"Hello there, dear user!","lang":"en"}` + "\n"
	near := `{"instruction":"say HELLO to the user, please!","output":"Hello there dear user","lang":"en"}` + "\n"
	v := NewValidator(Options{})
	ctx := context.Background()
	if err := v.Validate(ctx, strings.NewReader(a), "a.jsonl"); err != nil {
		t.Fatal(err)
	}
	if err := v.Validate(ctx, strings.NewReader(near+a), "b.jsonl"); err != nil {
		t.Fatal(err)
	}
	iss := v.Report().Issues
	if len(iss) != 2 || iss[0].Kind != KindNearDuplicate || iss[0].Line != 1 || iss[0].RefFile != "a.jsonl" ||
		iss[1].Kind != KindDuplicate || iss[1].File != "b.jsonl" || iss[1].Line != 2 || iss[1].Ref != 1 {
		t.Errorf("issues %+v", iss)
	}
	if v.Report().Errors != 1 || v.Report().Warnings != 1 {
		t.Errorf("errors/warnings %d/%d", v.Report().Errors, v.Report().Warnings)
	}
}

// TestValidateExactAmongNear: an exact repeat of a near duplicate is an
// exact duplicate (an error), not another near duplicate.
func TestValidateExactAmongNear(t *testing.T) {
	a := `{"instruction":"Say hello to the user please","output":"Hello there, dear user!","lang":"en"}`
	near := `{"instruction":"say HELLO to the user, please!","output":"Hello there dear user","lang":"en"}`
	v := NewValidator(Options{})
	if err := v.Validate(context.Background(), strings.NewReader(a+"\n"+near+"\n"+near+"\n"), "t.jsonl"); err != nil {
		t.Fatal(err)
	}
	iss := v.Report().Issues
	if len(iss) != 2 || iss[0].Kind != KindNearDuplicate || iss[0].Ref != 1 || iss[1].Kind != KindDuplicate || iss[1].Ref != 2 {
		t.Errorf("issues %+v", iss)
	}
}

func TestValidateLongLine(t *testing.T) {
	long := `{"instruction":"` + strings.Repeat("a", 5000) + `","output":"b","lang":"en"}`
	ok := `{"instruction":"Say hello to the user please","output":"Hello there, dear user!","lang":"en"}`
	v := NewValidator(Options{MaxLineBytes: 1000})
	if err := v.Validate(context.Background(), strings.NewReader(ok+"\n"+long+"\n"+ok+"x\n"), "t"); err != nil {
		t.Fatal(err)
	}
	iss := v.Report().Issues
	if len(iss) != 2 || iss[0].Line != 2 || iss[0].Kind != KindLineTooLong || iss[1].Line != 3 || iss[1].Kind != KindJSON {
		t.Errorf("issues %+v", iss)
	}
}

// FuzzValidate: the validator never panics, and its JSON reader agrees with
// encoding/json on which lines are valid JSON objects and on the decoded
// string fields (a differential test).
func FuzzValidate(f *testing.F) {
	data, _ := plantedSet(f)
	for _, l := range strings.Split(string(data), "\n")[:10] {
		f.Add([]byte(l))
	}
	f.Add([]byte(`{"instruction":"a\u00e9\ud83d\ude00","output":"\"x\\\/","lang":"en","history":[["a","b"]],"n":[1,-2.5e3,true,null,{}]}`))
	f.Add([]byte(`{"a":01}`))
	f.Add([]byte(`{"instruction":"\ud800"}`))
	f.Add([]byte("{\"x\":\"\x80\"}"))
	f.Fuzz(func(t *testing.T, line []byte) {
		if bytes.ContainsAny(line, "\n") {
			return
		}
		rec, err := parseRecord(line, false)
		var m map[string]any
		stdErr := json.Unmarshal(line, &m)
		validUTF8 := utf8.Valid(line) // encoding/json replaces invalid UTF-8; we reject it
		if err == nil && stdErr != nil {
			t.Fatalf("we accept what encoding/json rejects (%v): %q", stdErr, line)
		}
		if err != nil && stdErr == nil && validUTF8 && !strings.Contains(err.Error(), "UTF-8") && !strings.Contains(err.Error(), "nesting") {
			t.Fatalf("we reject (%v) what encoding/json accepts: %q", err, line)
		}
		if err == nil && m != nil {
			for key, field := range map[string]string{"instruction": rec.ex.Instruction, "output": rec.ex.Output, "input": rec.ex.Input} {
				if s, ok := m[key].(string); ok && s != field && !strings.ContainsRune(s, '\uFFFD') {
					t.Fatalf("%s: we decode %q, encoding/json %q", key, field, s)
				}
			}
		}
		var arena []byte
		rec2, err2 := parseRecordArena(line, &arena)
		if (err == nil) != (err2 == nil) || err == nil && fmt.Sprint(rec.ex) != fmt.Sprint(rec2.ex) {
			t.Fatalf("copying and arena parsers disagree: %v %v / %+v %+v", err, err2, rec, rec2)
		}
		v := NewValidator(Options{Workers: 1})
		if err := v.Validate(context.Background(), bytes.NewReader(line), "f"); err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatal(err)
			}
		}
	})
}

func TestHistogramBuckets(t *testing.T) {
	b := histBounds(2048)
	for _, tc := range []struct{ n, lo, hi int }{{0, 0, 16}, {1, 0, 16}, {16, 0, 16}, {17, 16, 24}, {2048, 1536, 2048}, {2049, 2048, 3072}} {
		i := bucketOf(b, tc.n)
		if b[i] != tc.lo || b[i+1] != tc.hi {
			t.Errorf("%d tokens in (%d, %d], want (%d, %d]", tc.n, b[i], b[i+1], tc.lo, tc.hi)
		}
	}
	if b := histBounds(100); !slices.Contains(b, 100) || !slices.IsSorted(b) {
		t.Errorf("cutoff 100 is not a bound: %v", b[:12])
	}
}

// TestEmptyDatasetFails: an empty file, or one of blank lines only, is an
// error (it passed validation before).
func TestEmptyDatasetFails(t *testing.T) {
	for _, in := range []string{"", "\n\n  \n"} {
		v := NewValidator(Options{})
		if err := v.Validate(context.Background(), strings.NewReader(in), "e.jsonl"); err != nil {
			t.Fatal(err)
		}
		if r := v.Report(); r.Errors == 0 || r.ByKind[KindNoExamples] != 1 {
			t.Fatalf("%q: %d errors, %v", in, r.Errors, r.ByKind)
		}
	}
}

// TestDuplicateIndexBounded: past MaxDuplicateIndex distinct examples the
// index stops growing, one warning says so, and duplicates of indexed
// examples are still found.
func TestDuplicateIndexBounded(t *testing.T) {
	var b strings.Builder
	for i := range 50 {
		fmt.Fprintf(&b, `{"instruction":"Question number %d, asked plainly","output":"Answer number %d, given plainly","lang":"en"}`+"\n", i, i)
	}
	b.WriteString(`{"instruction":"Question number 3, asked plainly","output":"Answer number 3, given plainly","lang":"en"}` + "\n")
	v := NewValidator(Options{MaxDuplicateIndex: 10})
	if err := v.Validate(context.Background(), strings.NewReader(b.String()), "d.jsonl"); err != nil {
		t.Fatal(err)
	}
	r := v.Report()
	if len(v.seen) != 10 || r.ByKind[KindDuplicatesUnchecked] != 1 || r.ByKind[KindDuplicate] != 1 {
		t.Fatalf("index %d, by kind %v", len(v.seen), r.ByKind)
	}
}

// TestDevZeroStops: a stream without newlines (/dev/zero) is read until the
// context is cancelled, not forever (the over-long-line loop never looked
// at the context).
func TestDevZeroStops(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	v := NewValidator(Options{MaxLineBytes: 1 << 10})
	done := make(chan error, 1)
	go func() { done <- v.Validate(ctx, zeros{}, "zero") }()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Validate did not stop after its context was cancelled")
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }
