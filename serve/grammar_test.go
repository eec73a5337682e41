package serve

import (
	"errors"
	"strings"
	"testing"
)

// numerologySchema is the shape the control suite's JSON cases ask for.
const numerologySchema = `{"type":"object","properties":{"jiva":{"type":"integer","minimum":1,"maximum":9},"dharma":{"type":"integer"},"approach":{"type":"integer"},"method":{"type":"integer"},"karma":{"type":"integer"}},"required":["jiva","dharma","approach","method","karma"],"additionalProperties":false}`

func TestSchemaGrammar(t *testing.T) {
	cases := []struct {
		name   string
		schema string
		want   []string // substrings of the grammar
	}{
		{"numerology", numerologySchema, []string{`root ::= "{" space root-jiva-kv "," space root-dharma-kv`, `"\"jiva\"" space ":" space ("9" | "8"`}},
		{"object", `{"type":"object"}`, []string{"root ::= object", "value ::= object | array"}},
		{"optional", `{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"boolean"}}}`, []string{"root-rest ::="}},
		{"array", `{"type":"array","items":{"type":"number"},"minItems":1,"maxItems":3}`, []string{`{0,2}`}},
		{"enum", `{"enum":["red","green",3]}`, []string{`"\"red\""`, `"3" space`}},
		{"types", `{"type":["string","null"]}`, []string{"(string | null)"}},
		{"ref", `{"$defs":{"n":{"type":"object","properties":{"next":{"anyOf":[{"$ref":"#/$defs/n"},{"type":"null"}]}}}},"$ref":"#/$defs/n"}`, []string{"ref-n ::="}},
		{"string lengths", `{"type":"string","minLength":2,"maxLength":5}`, []string{"char{2,5}"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g, err := SchemaGrammar([]byte(c.schema))
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range c.want {
				if !strings.Contains(g, w) {
					t.Errorf("grammar lacks %q:\n%s", w, g)
				}
			}
		})
	}
}

func TestSchemaGrammarRefuses(t *testing.T) {
	for name, s := range map[string]string{
		"pattern":       `{"type":"string","pattern":"^a+$"}`,
		"format":        `{"type":"string","format":"email"}`,
		"allOf":         `{"allOf":[{"type":"string"}]}`,
		"tuple":         `{"type":"array","items":[{"type":"string"}]}`,
		"unsatisfiable": `{"type":"string","minLength":5,"maxLength":2}`,
		"empty range":   `{"type":"integer","minimum":5,"maximum":2}`,
		"false":         `false`,
		"not json":      `{"type":`,
		"remote ref":    `{"$ref":"https://example.com/s.json"}`,
		"missing req":   `{"type":"object","properties":{"a":{}},"required":["b"]}`,
		"unknown type":  `{"type":"date"}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := SchemaGrammar([]byte(s))
			if !errors.Is(err, ErrSchema) {
				t.Fatalf("err = %v, want ErrSchema", err)
			}
		})
	}
}
