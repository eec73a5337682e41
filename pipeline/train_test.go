package pipeline

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/sattva/sattva/dataset"
)

// The argument names checked below were read from LLaMA-Factory's hparams
// dataclasses (LlamaFactorySource): src/llamafactory/hparams/model_args.py and
// finetuning_args.py at commit 00577a85775a2a78b14641ff8f68c58c6f46b027,
// data_args.py at 072bfe29d3b10447b0702196028af2f0fb87ad6b, and transformers'
// Seq2SeqTrainingArguments (output_dir, per_device_train_batch_size, …),
// which LLaMA-Factory's TrainingArguments extends.
func TestLlamaFactoryYAMLKeyByKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sattva.yaml")
	if err := os.WriteFile(path, []byte(ExampleProjectYAML()), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := LoadProject(path)
	if err != nil {
		t.Fatal(err)
	}
	out, err := MarshalConfigYAML("header", p.LlamaFactoryConfig(p.TrainDir()))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := yaml.Unmarshal(out, &got); err != nil {
		t.Fatalf("generated YAML does not parse: %v\n%s", err, out)
	}
	want := map[string]any{
		// model_args.py BaseModelArguments / QuantizationArguments
		"model_name_or_path": filepath.Join(dir, "models/llama-3.1-8b"),
		"quantization_bit":   4,
		// finetuning_args.py FinetuningArguments / LoraArguments
		"stage":           "sft",
		"finetuning_type": "lora",
		"lora_rank":       16,
		"lora_alpha":      32,
		"lora_dropout":    0.05,
		"lora_target":     "all",
		"plot_loss":       true,
		// data_args.py DataArguments
		"dataset":         "sattva",
		"dataset_dir":     filepath.Join(dir, "out/train"),
		"template":        "llama3",
		"cutoff_len":      2048,
		"overwrite_cache": true,
		// transformers Seq2SeqTrainingArguments
		"do_train":                    true,
		"output_dir":                  filepath.Join(dir, "out/adapter"),
		"overwrite_output_dir":        true,
		"logging_steps":               10,
		"save_steps":                  200,
		"save_total_limit":            2,
		"report_to":                   "none",
		"per_device_train_batch_size": 1,
		"gradient_accumulation_steps": 8,
		"learning_rate":               0.0002,
		"num_train_epochs":            2.0,
		"lr_scheduler_type":           "cosine",
		"warmup_ratio":                0.03,
		"bf16":                        true,
		"seed":                        42,
	}
	if !reflect.DeepEqual(got, want) {
		for k, v := range want {
			if !reflect.DeepEqual(got[k], v) {
				t.Errorf("%s = %#v, want %#v", k, got[k], v)
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("unexpected key %s", k)
			}
		}
	}
	for k := range got {
		if _, ok := llamaFactoryKeys[k]; !ok {
			t.Errorf("%s is not in the LLaMA-Factory argument table", k)
		}
	}
	// The plan's wrong keys never appear.
	for _, bad := range []string{"prompt_template", "train_file", "load_in_4bit", "lora_r", "max_source_length", "max_target_length"} {
		if _, ok := got[bad]; ok {
			t.Errorf("generated YAML has %s", bad)
		}
	}
	// learning_rate must stay a float for PyYAML (YAML 1.1 reads 2e-4 as a string).
	if !strings.Contains(string(out), "learning_rate: 0.0002\n") {
		t.Errorf("learning_rate line: %s", out)
	}
}

func TestPyFloat(t *testing.T) {
	for f, want := range map[float64]string{2e-4: "0.0002", 1e-5: "1.0e-05", 2: "2.0", 0.05: "0.05", 1e21: "1.0e+21", 3e-7: "3.0e-07"} {
		if got := pyFloat(f); got != want {
			t.Errorf("pyFloat(%g) = %q, want %q", f, got, want)
		}
	}
}

func TestDatasetInfo(t *testing.T) {
	p := mustProject(t, t.TempDir(), "")
	b, err := p.DatasetInfo("sattva.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "sattva": {
    "columns": {
      "prompt": "instruction",
      "query": "input",
      "response": "output",
      "system": "system"
    },
    "file_name": "sattva.jsonl",
    "formatting": "alpaca"
  }
}
`
	if string(b) != want {
		t.Errorf("dataset_info.json:\n%s", b)
	}
}

func TestParseTrainLine(t *testing.T) {
	cases := []struct {
		line        string
		ok, hasLoss bool
		loss, epoch float64
		step, total int64
	}{
		{"{'loss': 1.2345, 'grad_norm': 0.51, 'learning_rate': 0.0002, 'epoch': 0.12}", true, true, 1.2345, 0.12, 0, 0},
		{"{'loss': '0.8123', 'grad_norm': '0.4', 'learning_rate': '1.9e-05', 'epoch': '1.5'}", true, true, 0.8123, 1.5, 0, 0},
		{" 12%|█▏        | 12/100 [00:05<00:40,  2.1it/s]", true, false, 0, 0, 12, 100},
		{"{'train_runtime': 12.3, 'train_loss': 0.9, 'epoch': 2.0}", false, false, 0, 0, 0, 0},
		{"[INFO] loading model", false, false, 0, 0, 0, 0},
	}
	for _, c := range cases {
		ev, ok := ParseTrainLine(c.line)
		if ok != c.ok || ev.HasLoss != c.hasLoss || ev.Loss != c.loss || ev.Epoch != c.epoch || ev.Step != c.step || ev.Total != c.total {
			t.Errorf("%q: got ok=%v %+v", c.line, ok, ev)
		}
	}
}

func TestParseTrainRuntime(t *testing.T) {
	for _, c := range []struct {
		line string
		ok   bool
		secs float64
	}{
		{"{'train_runtime': 12.3, 'train_loss': 0.9, 'epoch': 2.0}", true, 12.3},
		{`{"train_runtime": 4.06, "train_steps_per_second": 12.303, "epoch": 1.0}`, true, 4.06},
		{"{'train_runtime': '31.5', 'train_samples_per_second': '3.1'}", true, 31.5},
		{"{'loss': 1.2345, 'epoch': 0.12}", false, 0},
		{"train_runtime without a dict", false, 0},
	} {
		secs, ok := ParseTrainRuntime(c.line)
		if ok != c.ok || secs != c.secs {
			t.Errorf("%q: got %v, %v; want %v, %v", c.line, secs, ok, c.secs, c.ok)
		}
	}
}

// mustProject writes a minimal project with a fake base folder and dataset.
func mustProject(t *testing.T, dir, extra string) *Project {
	t.Helper()
	base := filepath.Join(dir, "base")
	os.MkdirAll(base, 0o755)
	os.WriteFile(filepath.Join(base, "config.json"), []byte(`{"model_type":"llama"}`), 0o644)
	os.WriteFile(filepath.Join(base, "model.safetensors"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, "d.jsonl"), []byte(`{"instruction":"Q1","input":"","output":"A1","lang":"en"}`+"\n"+`{"instruction":"Q2","output":"A2","system":"S"}`+"\n"), 0o644)
	src := "name: m\nbase: base\ndata:\n  train: [d.jsonl]\n" + extra
	path := filepath.Join(dir, "sattva.yaml")
	os.WriteFile(path, []byte(src), 0o644)
	p, err := LoadProject(path)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// fakeBin writes an executable shell script named name into a new folder and
// puts that folder first on PATH.
func fakeBin(t *testing.T, name, script string) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("shell scripts")
	}
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	return bin
}

func TestTrainFakeLlamaFactory(t *testing.T) {
	dir := t.TempDir()
	rec := filepath.Join(dir, "record")
	fakeBin(t, "llamafactory-cli", `
{ for a in "$@"; do echo "arg=$a"; done
  env | grep -E '^(CUDA_VISIBLE_DEVICES|FORCE_TORCHRUN|NNODES|NODE_RANK|NPROC_PER_NODE|MASTER_ADDR|MASTER_PORT)=' | sort
} > "`+rec+`"
out=$(sed -n 's/^output_dir: //p' "$2")
printf ' 50%%|#####     | 1/2 [00:01<00:01,  1.0it/s]\r' >&2
echo "{'loss': 2.5, 'grad_norm': 1.0, 'learning_rate': 0.0002, 'epoch': 1.0}" >&2
printf '100%%|##########| 2/2 [00:02<00:00,  1.0it/s]\n' >&2
echo "{'loss': 1.25, 'grad_norm': 1.0, 'learning_rate': 0.0001, 'epoch': 2.0, 'step': 2}"
echo "{'train_runtime': 2.75, 'train_samples_per_second': 1.0, 'epoch': 2.0}"
mkdir -p "$out" && echo '{}' > "$out/adapter_config.json"
`)
	// Several GPUs on two machines: torchrun through llamafactory-cli.
	p := mustProject(t, dir, "train:\n  gpus: \"0,1\"\n  nodes: 2\n  node_rank: 1\n  master_addr: 10.0.0.1\n  master_port: 29501\n")
	// Variables the child must not inherit from us when the project sets them.
	t.Setenv("CUDA_VISIBLE_DEVICES", "7")
	var events []TrainEvent
	res, err := Train(context.Background(), p, TrainOptions{OnEvent: func(e TrainEvent) { events = append(events, e) }})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(rec)
	want := "arg=train\narg=" + p.TrainPaths().Config + "\n" +
		"CUDA_VISIBLE_DEVICES=0,1\nFORCE_TORCHRUN=1\nMASTER_ADDR=10.0.0.1\nMASTER_PORT=29501\nNNODES=2\nNODE_RANK=1\nNPROC_PER_NODE=2\n"
	if string(b) != want {
		t.Errorf("fake llamafactory-cli got:\n%s\nwant:\n%s", b, want)
	}
	if res.Trainer != TrainerLlamaFactory || res.AdapterDir != p.AdapterDir() || res.Steps != 2 || res.TrainSeconds != 2.75 {
		t.Errorf("result %+v", res)
	}
	wantLoss := []LossPoint{{Step: 1, Epoch: 1, Loss: 2.5}, {Step: 2, Epoch: 2, Loss: 1.25}}
	if !reflect.DeepEqual(res.Losses, wantLoss) {
		t.Errorf("losses %+v, want %+v", res.Losses, wantLoss)
	}
	if len(events) != 4 {
		t.Errorf("events: %d, want 4", len(events))
	}
	// The inputs it was given exist and say what the project says.
	for _, f := range []string{p.TrainPaths().Config, p.TrainPaths().DatasetInfo, p.TrainPaths().Dataset, filepath.Join(p.TrainDir(), "result.json")} {
		if _, err := os.Stat(f); err != nil {
			t.Error(err)
		}
	}
	ds, _ := os.ReadFile(p.TrainPaths().Dataset)
	if got := strings.Count(string(ds), "\n"); got != 2 {
		t.Errorf("merged dataset has %d lines", got)
	}
}

func TestTrainSingleGPUEnv(t *testing.T) {
	p := mustProject(t, t.TempDir(), "train:\n  gpus: \"3\"\n")
	if got, want := p.TrainEnv(), []string{"CUDA_VISIBLE_DEVICES=3"}; !reflect.DeepEqual(got, want) {
		t.Errorf("env %v, want %v", got, want)
	}
	p = mustProject(t, t.TempDir(), "")
	if got := p.TrainEnv(); len(got) != 0 {
		t.Errorf("env %v, want none", got)
	}
}

func TestTrainFailureHasStderrTail(t *testing.T) {
	fakeBin(t, "llamafactory-cli", `
echo "loading checkpoint shards"
i=0; while [ $i -lt 100 ]; do echo "noise $i" >&2; i=$((i+1)); done
echo "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB" >&2
exit 3
`)
	p := mustProject(t, t.TempDir(), "")
	_, err := Train(context.Background(), p, TrainOptions{})
	var pe *ProcessError
	if !errors.As(err, &pe) {
		t.Fatalf("want *ProcessError, got %T %v", err, err)
	}
	if !strings.Contains(err.Error(), "CUDA out of memory") || !strings.Contains(err.Error(), "noise 99") {
		t.Errorf("error lacks the stderr tail:\n%v", err)
	}
	if strings.Contains(err.Error(), "noise 10\n") {
		t.Errorf("tail is not a tail:\n%v", err)
	}
	var ee interface{ ExitCode() int }
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Errorf("exit code not kept: %v", err)
	}
}

func TestTrainRefusesBadInput(t *testing.T) {
	fakeBin(t, "llamafactory-cli", "echo ran > ran\nexit 0\n")
	dir := t.TempDir()
	p := mustProject(t, dir, "")
	os.RemoveAll(p.BaseDir())
	_, err := Train(context.Background(), p, TrainOptions{})
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "base" || fe.Line != 2 {
		t.Errorf("missing base: %v", err)
	}
	p = mustProject(t, t.TempDir(), "")
	os.WriteFile(p.DataFiles()[0], []byte(`{"instruction":"x"}`+"\n"), 0o644)
	_, err = Train(context.Background(), p, TrainOptions{})
	var de *dataset.ExampleError
	if !errors.As(err, &de) || de.Line != 1 {
		t.Errorf("bad dataset: %v", err)
	}
	p = mustProject(t, t.TempDir(), "")
	_, err = Train(context.Background(), p, TrainOptions{ValidateData: func(context.Context, string) error { return errors.New("wrong Karma") }})
	if err == nil || !strings.Contains(err.Error(), "wrong Karma") {
		t.Errorf("validator not applied: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "ran")); err == nil {
		t.Error("the trainer ran despite bad input")
	}
}

func TestTrainCancelKillsProcessGroup(t *testing.T) {
	for _, ignoreInt := range []bool{false, true} {
		t.Run("ignoreINT="+strconv.FormatBool(ignoreInt), func(t *testing.T) {
			dir := t.TempDir()
			pids := filepath.Join(dir, "pids")
			trap := ""
			if ignoreInt {
				trap = "trap '' INT\n" // a trainer that ignores Ctrl-C gets SIGKILL after the grace period
			}
			fakeBin(t, "llamafactory-cli", trap+`
sleep 1000 &
echo $$ $! > "`+pids+`.tmp" && mv "`+pids+`.tmp" "`+pids+`"
echo started
wait
`)
			p := mustProject(t, dir, "")
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				for i := 0; i < 500; i++ {
					if _, err := os.Stat(pids); err == nil {
						break
					}
					time.Sleep(10 * time.Millisecond)
				}
				cancel()
			}()
			start := time.Now()
			_, err := Train(ctx, p, TrainOptions{Grace: 300 * time.Millisecond})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
			if time.Since(start) > 10*time.Second {
				t.Errorf("cancel took %v", time.Since(start))
			}
			b, err := os.ReadFile(pids)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range strings.Fields(string(b)) {
				pid, _ := strconv.Atoi(f)
				dead := false
				for i := 0; i < 200 && !dead; i++ {
					dead = processGone(pid)
					if !dead {
						time.Sleep(10 * time.Millisecond)
					}
				}
				if !dead {
					syscall.Kill(pid, syscall.SIGKILL)
					t.Errorf("process %d (trainer or its child) survived the cancel", pid)
				}
			}
		})
	}
}

func TestTrainAutoSkipsWithoutTrainer(t *testing.T) {
	empty := t.TempDir()
	t.Setenv("PATH", empty)
	p := mustProject(t, t.TempDir(), "")
	res, err := Train(context.Background(), p, TrainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Skipped || !strings.Contains(res.Reason, "no trainer") {
		t.Errorf("result %+v", res)
	}
	_, err = Train(context.Background(), p, TrainOptions{Trainer: TrainerLlamaFactory})
	if !errors.Is(err, ErrNoTrainer) {
		t.Errorf("explicit llamafactory without the CLI: %v", err)
	}
}

// processGone reports whether pid has exited: no such process, or a zombie
// waiting for its (re)parent to reap it.
func processGone(pid int) bool {
	if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil {
		if i := strings.LastIndexByte(string(b), ')'); i >= 0 && i+2 < len(b) {
			return b[i+2] == 'Z' || b[i+2] == 'X'
		}
	} else if _, serr := os.Stat("/proc/self"); serr == nil {
		return true // /proc works and the pid is gone
	}
	return syscall.Kill(pid, 0) != nil
}
