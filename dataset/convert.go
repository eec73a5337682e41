package dataset

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
)

// Format is a JSONL dataset layout.
type Format string

// The layouts Convert reads and writes.
const (
	// Alpaca: {"instruction","input","output","system","history","lang"}.
	Alpaca Format = "alpaca"
	// ShareGPT as LLaMA-Factory reads it with its default tags:
	// {"conversations":[{"from":"human","value":…},{"from":"gpt","value":…}],"system":…,"lang":…}.
	ShareGPT Format = "sharegpt"
	// OpenAI messages: {"messages":[{"role":"system"|"user"|"assistant","content":…}],"lang":…}.
	OpenAI Format = "openai"
)

// ParseFormat accepts alpaca, sharegpt and openai (also "messages").
func ParseFormat(s string) (Format, error) {
	switch s {
	case "alpaca":
		return Alpaca, nil
	case "sharegpt":
		return ShareGPT, nil
	case "openai", "messages":
		return OpenAI, nil
	}
	return "", fmt.Errorf("dataset: unknown format %q (want alpaca, sharegpt or openai)", s)
}

type shareGPTTurn struct {
	From  string `json:"from"`
	Value string `json:"value"`
}

type shareGPTRecord struct {
	Conversations []shareGPTTurn `json:"conversations"`
	System        string         `json:"system,omitempty"`
	Lang          string         `json:"lang,omitempty"`
}

type openAIMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type openAIRecord struct {
	Messages []openAIMessage `json:"messages"`
	Lang     string          `json:"lang,omitempty"`
}

// chat is the format-neutral form: alternating user/assistant turns.
type chat struct {
	system string
	turns  []string // user, assistant, user, assistant, …
	lang   string
}

// Convert rewrites a JSONL dataset from one layout to another, line by line.
// An alpaca prompt becomes one user turn (instruction and input joined by a
// newline, as LLaMA-Factory does); converting back puts it all in instruction.
// Blank lines are dropped; a line that cannot be read is a *LineError. It
// returns the number of examples written.
func Convert(ctx context.Context, r io.Reader, w io.Writer, from, to Format) (int64, error) {
	rc, _, err := NewReader(r)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	lr := newLineReader(ctx, rc, 16<<20)
	var n int64
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		raw, tooLong, err := lr.next()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if tooLong {
			return n, &LineError{Line: lr.line, Msg: "line too long"}
		}
		if len(trimSpace(raw)) == 0 {
			continue
		}
		c, err := readChat(raw, from)
		if err != nil {
			return n, &LineError{Line: lr.line, Msg: err.Error()}
		}
		buf.Reset()
		if err := enc.Encode(writeChat(c, to)); err != nil {
			return n, err
		}
		if _, err := w.Write(buf.Bytes()); err != nil {
			return n, err
		}
		n++
	}
}

func readChat(raw []byte, f Format) (*chat, error) {
	switch f {
	case Alpaca:
		rec, err := parseRecord(raw, false)
		if err != nil {
			return nil, err
		}
		for _, p := range rec.problems {
			if p.kind == KindFieldType {
				return nil, fmt.Errorf("%s", p.msg)
			}
		}
		ex := rec.ex
		c := &chat{system: ex.System, lang: ex.Lang}
		for _, h := range ex.History {
			c.turns = append(c.turns, h[0], h[1])
		}
		c.turns = append(c.turns, ex.Prompt(), ex.Output)
		return c, nil
	case ShareGPT:
		var rec shareGPTRecord
		if err := json.Unmarshal(raw, &rec); err != nil {
			return nil, err
		}
		c := &chat{system: rec.System, lang: rec.Lang}
		for i, t := range rec.Conversations {
			if t.From == "system" && i == 0 && c.system == "" {
				c.system = t.Value
				continue
			}
			want := "human"
			if len(c.turns)%2 == 1 {
				want = "gpt"
			}
			if t.From != want {
				return nil, fmt.Errorf("conversations[%d] is from %q, want %q (turns alternate human, gpt)", i, t.From, want)
			}
			c.turns = append(c.turns, t.Value)
		}
		return c, checkTurns(c)
	case OpenAI:
		var rec openAIRecord
		if err := json.Unmarshal(raw, &rec); err != nil {
			return nil, err
		}
		c := &chat{lang: rec.Lang}
		for i, m := range rec.Messages {
			if m.Role == "system" && i == 0 {
				c.system = m.Content
				continue
			}
			want := "user"
			if len(c.turns)%2 == 1 {
				want = "assistant"
			}
			if m.Role != want {
				return nil, fmt.Errorf("messages[%d] has role %q, want %q (turns alternate user, assistant)", i, m.Role, want)
			}
			c.turns = append(c.turns, m.Content)
		}
		return c, checkTurns(c)
	}
	return nil, fmt.Errorf("unknown format %q", f)
}

func checkTurns(c *chat) error {
	if len(c.turns) == 0 || len(c.turns)%2 != 0 {
		return fmt.Errorf("%d turns: want user/assistant pairs ending with the assistant", len(c.turns))
	}
	return nil
}

func writeChat(c *chat, f Format) any {
	switch f {
	case ShareGPT:
		rec := shareGPTRecord{System: c.system, Lang: c.lang}
		for i, t := range c.turns {
			from := "human"
			if i%2 == 1 {
				from = "gpt"
			}
			rec.Conversations = append(rec.Conversations, shareGPTTurn{from, t})
		}
		return rec
	case OpenAI:
		rec := openAIRecord{Lang: c.lang}
		if c.system != "" {
			rec.Messages = append(rec.Messages, openAIMessage{"system", c.system})
		}
		for i, t := range c.turns {
			role := "user"
			if i%2 == 1 {
				role = "assistant"
			}
			rec.Messages = append(rec.Messages, openAIMessage{role, t})
		}
		return rec
	}
	ex := Example{System: c.system, Lang: c.lang}
	n := len(c.turns)
	for i := 0; i+3 < n; i += 2 {
		ex.History = append(ex.History, [2]string{c.turns[i], c.turns[i+1]})
	}
	ex.Instruction, ex.Output = c.turns[n-2], c.turns[n-1]
	return ex
}
