package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sattva/sattva/llamacpp"
)

type chatOptions struct {
	Model  string
	System string
	LoRA   []string
	engineFlags
	samplingFlags
}

func newChatCmd(s *Streams) *cobra.Command {
	o := &chatOptions{}
	c := &cobra.Command{
		Use:   "chat MODEL",
		Short: "Chat with a GGUF model in the terminal",
		Long: "An interactive chat through the model's own chat template. The whole history\n" +
			"stays in the context (only new tokens are processed each turn); when it is\n" +
			"full the oldest turns are dropped. Type /reset to start over, /exit or EOF to quit.\n" +
			"Sampler flags not given take the model's general.sampling.* keys; -v says which.",
		Example: "  sattva chat model.gguf --system \"You are SatTva, a numerology assistant.\"",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if err := modelArg(&o.Model, args); err != nil {
				return err
			}
			return runChat(c.Context(), s, o)
		},
	}
	f := c.Flags()
	bindModel(f, &o.Model)
	f.StringVar(&o.System, "system", "", "system message")
	f.StringArrayVar(&o.LoRA, "lora", nil, "LoRA adapter GGUF, FILE or FILE:SCALE (repeatable)")
	o.engineFlags.bind(f, 0)
	o.samplingFlags.bind(f, 1024)
	return c
}

func runChat(ctx context.Context, s *Streams, o *chatOptions) error {
	adapters, err := parseLoRAFlags(o.LoRA)
	if err != nil {
		return err
	}
	m, err := o.load(s, o.Model, adapters)
	if err != nil {
		return err
	}
	defer m.Close()
	if _, err := m.ApplyChatTemplate([]llamacpp.ChatMessage{{Role: "user", Content: "x"}}, true); err != nil {
		return fmt.Errorf("chat needs a chat template: %w", err)
	}
	fa, err := o.flashAttention()
	if err != nil {
		return err
	}
	lc, err := m.NewContext(llamacpp.ContextOptions{ContextSize: o.ContextSize, Threads: o.Threads, FlashAttention: fa})
	if err != nil {
		return err
	}
	defer lc.Close()
	gen, _ := o.samplingFlags.options()
	gen.Sampling = withModelSampling(s.ErrOut, o.samplingFlags.flags, o.Model, gen.Sampling, o.Verbose)
	var history []llamacpp.ChatMessage
	if o.System != "" {
		history = append(history, llamacpp.ChatMessage{Role: "system", Content: o.System})
	}
	keep := len(history) // system turn is never dropped
	d := m.Device()
	fmt.Fprintf(s.ErrOut, "chatting with %s on %s (%s); context %d tokens. /reset, /exit\n", m.Description(), d.Name, d.Description, lc.ContextSize())
	in := bufio.NewScanner(s.In)
	in.Buffer(make([]byte, 64*1024), 1<<20)
	for {
		fmt.Fprint(s.ErrOut, "> ")
		if !in.Scan() {
			fmt.Fprintln(s.ErrOut)
			return in.Err()
		}
		line := strings.TrimSpace(in.Text())
		switch line {
		case "":
			continue
		case "/exit", "/quit":
			return nil
		case "/reset":
			history = history[:keep]
			continue
		}
		history = append(history, llamacpp.ChatMessage{Role: "user", Content: line})
		for {
			text, err := m.ApplyChatTemplate(history, true)
			if err != nil {
				return err
			}
			prompt, err := m.Tokenize(text, true, true)
			if err != nil {
				return err
			}
			if len(prompt)+16 > lc.ContextSize() && len(history) > keep+1 {
				history = append(history[:keep], history[keep+2:]...) // drop the oldest exchange
				continue
			}
			var reply strings.Builder
			st, err := streamReply(ctx, io.MultiWriter(s.Out, &reply), lc, prompt, gen)
			fmt.Fprintln(s.Out)
			if o.Verbose {
				st.report(s.ErrOut)
			}
			if errors.Is(err, llamacpp.ErrContextFull) && len(history) > keep+1 {
				fmt.Fprintln(s.ErrOut, "(context full: dropping the oldest turns)")
				history = append(history[:keep], history[len(history)-1:]...)
				history = append(history, llamacpp.ChatMessage{Role: "assistant", Content: reply.String()})
				break
			}
			if err != nil {
				return err
			}
			history = append(history, llamacpp.ChatMessage{Role: "assistant", Content: reply.String()})
			break
		}
	}
}
