package cli

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/spf13/cobra"

	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/internal/fileguard"
	"github.com/sattva/sattva/internal/progress"
)

type ggufSetOptions struct {
	File      string
	Key       string
	Value     string
	ValueFile string // read Value from this file instead
	Type      string // value type; default: the key's current type
	Out       string // default: File, replaced atomically
	Quiet     bool
}

func newGGUFSetCmd(s *Streams) *cobra.Command {
	o := &ggufSetOptions{}
	c := &cobra.Command{
		Use:   "set FILE KEY [VALUE]",
		Short: "Write a copy of a GGUF file with one metadata key set",
		Long: "Write a copy of a GGUF file with one metadata key set to a typed value. The value\n" +
			"keeps the key's current type unless --type says otherwise; a new key needs --type.\n" +
			"Arrays are given as JSON: --type 'array[int32]' '[1, 2]'. The output (-o, default\n" +
			"FILE itself) is written atomically: a temporary file renamed into place when complete.",
		Example: "  sattva gguf set model.gguf tokenizer.ggml.eos_token_id 128009 -o fixed.gguf\n" +
			"  sattva gguf set model.gguf tokenizer.chat_template --value-file template.jinja\n" +
			"  sattva gguf set model.gguf general.name SatTva --type string\n" +
			"  sattva gguf set model.gguf some.int32.key --type int32 -- -1    (-- before a negative number)",
		Args: ggufArgs(cobra.RangeArgs(2, 3)),
		RunE: func(c *cobra.Command, args []string) error {
			o.File, o.Key = args[0], args[1]
			switch {
			case len(args) == 3 && o.ValueFile != "":
				return usagef("give VALUE or --value-file, not both")
			case len(args) == 2 && o.ValueFile == "":
				return usagef("missing VALUE (or --value-file)")
			case len(args) == 3:
				o.Value = args[2]
			default:
				b, err := readValueFile(o.ValueFile)
				if err != nil {
					return err
				}
				o.Value = string(b)
			}
			if o.Out == "" {
				o.Out = o.File // replaced in place: through a link, its target
			}
			if err := guardOutputs([]string{o.ValueFile}, o.Out); err != nil {
				return err
			}
			return runGGUFSet(c.Context(), s, o)
		},
	}
	c.Flags().StringVarP(&o.Out, "output", "o", "", "output file (default: replace FILE atomically)")
	c.Flags().StringVar(&o.Type, "type", "", "value type: uint8 … int64, float32, float64, bool, string, array[TYPE] (default: the key's current type)")
	c.Flags().StringVar(&o.ValueFile, "value-file", "", "read VALUE from this file (e.g. a chat template), byte for byte")
	c.Flags().BoolVarP(&o.Quiet, "quiet", "q", false, "no progress bar")
	return c
}

func runGGUFSet(ctx context.Context, s *Streams, o *ggufSetOptions) error {
	var set gguf.Value
	var old *gguf.Value
	edit := func(spec *gguf.Spec) error {
		if i := slices.IndexFunc(spec.KVs, func(kv gguf.KV) bool { return kv.Key == o.Key }); i >= 0 {
			old = &spec.KVs[i].Value
		}
		var t, elem gguf.ValueType
		switch {
		case o.Type != "":
			var err error
			if t, elem, err = gguf.ParseTypeName(o.Type); err != nil {
				return &UsageError{Err: err}
			}
		case old != nil:
			t, elem = old.Type, old.Elem
			if t == gguf.ValueArray && elem == gguf.ValueArray {
				return usagef("%s is an array of arrays, which cannot be set from the command line", o.Key)
			}
		default:
			return usagef("%s is a new key: give its type with --type (uint32, string, array[int32], …)", o.Key)
		}
		v, err := gguf.ParseValue(t, elem, o.Value)
		if err != nil {
			return &UsageError{Err: fmt.Errorf("%s: %w", o.Key, err)}
		}
		set = v
		spec.SetKV(o.Key, v)
		return nil
	}
	bar := progress.New(s.ErrOut, "writing "+o.Out, progress.Bytes, o.Quiet || ggufSmall(o.File))
	err := gguf.Rewrite(ctx, o.File, o.Out, edit, gguf.WriteOptions{Progress: bar.Func()})
	bar.Finish()
	if err != nil {
		return err
	}
	was := "new key"
	if old != nil {
		was = "was " + old.TypeName() + " " + ggufValueText(*old, 40)
	}
	fmt.Fprintf(s.Out, "%s: %s = %s %s (%s)\n", o.Out, o.Key, set.TypeName(), ggufValueText(set, 60), was)
	return nil
}

// maxValueFile bounds --value-file: a GGUF string value is at most
// gguf.Limits.MaxStringLen (64 MiB) for sattva's reader.
const maxValueFile = 64 << 20

// readValueFile reads a regular file of at most maxValueFile bytes.
func readValueFile(path string) ([]byte, error) {
	f, err := fileguard.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxValueFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxValueFile {
		return nil, usagef("--value-file %s: more than %d bytes", path, maxValueFile)
	}
	return b, nil
}
