package convert

import (
	"encoding/json"
	"errors"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

func spModel(pieces ...spPiece) []byte {
	var b []byte
	for _, p := range pieces {
		var m []byte
		m = protowire.AppendTag(m, 1, protowire.BytesType)
		m = protowire.AppendString(m, p.piece)
		m = protowire.AppendTag(m, 2, protowire.Fixed32Type)
		m = protowire.AppendFixed32(m, 0)
		m = protowire.AppendTag(m, 3, protowire.VarintType)
		m = protowire.AppendVarint(m, uint64(p.typ))
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendBytes(b, m)
	}
	// a trainer_spec-like field to skip
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendBytes(b, []byte{0x08, 0x01})
	return b
}

func TestParseSentencePiece(t *testing.T) {
	b := spModel(spPiece{"<unk>", 0, spUnknown}, spPiece{"<s>", 0, spControl}, spPiece{"<0x00>", 0, spByte}, spPiece{"▁a", 0, spNormal})
	ps, err := parseSentencePiece(b, "x")
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 4 || ps[0].typ != spUnknown || ps[3].piece != "▁a" {
		t.Errorf("%+v", ps)
	}
	var ie *InputError
	if _, err := parseSentencePiece(b[:len(b)-5], "x"); !errors.As(err, &ie) {
		t.Errorf("truncated: %v", err)
	}
}

// FuzzSentencePiece: tokenizer.model is untrusted; the parser must never panic.
func FuzzSentencePiece(f *testing.F) {
	f.Add(spModel(spPiece{"<unk>", 0, spUnknown}, spPiece{"a", 0, spNormal}))
	f.Add([]byte{0x0a, 0x03, 0x0a, 0x01, 0x61})
	f.Fuzz(func(t *testing.T, b []byte) {
		ps, err := parseSentencePiece(b, "x")
		if err == nil && len(ps) == 0 {
			t.Fatal("no pieces and no error")
		}
	})
}

// FuzzTokenizerParts: merges and pre_tokenizer blocks of tokenizer.json.
func FuzzTokenizerParts(f *testing.F) {
	f.Add([]byte(`["a b","c d"]`), []byte(`{"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":"\\s+"}},{"type":"ByteLevel","use_regex":false}]}`))
	f.Add([]byte(`[["a","b c"]]`), []byte(`{"type":"ByteLevel"}`))
	f.Fuzz(func(t *testing.T, merges, pre []byte) {
		if m, err := parseMerges(json.RawMessage(merges), "x"); err == nil {
			for _, s := range m {
				_ = s
			}
		}
		detectPre(json.RawMessage(pre), "x")
	})
}
