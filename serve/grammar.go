package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// ErrSchema is wrapped by SchemaGrammar's errors: a JSON schema that is
// malformed, uses a feature the converter does not support, or that no
// value can satisfy. The server answers them with 400.
var ErrSchema = errors.New("serve: JSON schema")

// JSONGrammar is the GBNF grammar of any JSON object (response_format
// json_object, Ollama's format "json"), in llama.cpp's json.gbnf style.
var JSONGrammar = mustGrammar(`{"type":"object"}`)

func mustGrammar(schema string) string {
	g, err := SchemaGrammar([]byte(schema))
	if err != nil {
		panic(err) // a constant of this file
	}
	return g
}

// maxEnumRange is the widest integer range (maximum − minimum + 1) that an
// integer schema with both bounds may have: it becomes an alternation of
// the literals.
const maxEnumRange = 1000

// maxSchemaDepth bounds the nesting of a schema.
const maxSchemaDepth = 64

// The primitive rules, as llama.cpp's json-schema-to-grammar writes them.
var primitiveRules = map[string]string{
	"space":         `| " " | "\n"{1,2} [ \t]{0,20}`,
	"boolean":       `("true" | "false") space`,
	"integral-part": `[0] | [1-9] [0-9]{0,15}`,
	"decimal-part":  `[0-9]{1,16}`,
	"integer":       `("-"? integral-part) space`,
	"number":        `("-"? integral-part) ("." decimal-part)? ([eE] [-+]? integral-part)? space`,
	"char":          `[^"\\\x7F\x00-\x1F] | [\\] (["\\bfnrt] | "u" [0-9a-fA-F]{4})`,
	"string":        `"\"" char* "\"" space`,
	"null":          `"null" space`,
	"value":         `object | array | string | number | boolean | null`,
	"object":        `"{" space ( string ":" space value ("," space string ":" space value)* )? "}" space`,
	"array":         `"[" space ( value ("," space value)* )? "]" space`,
}

// the rules each primitive uses
var primitiveDeps = map[string][]string{
	"boolean": {"space"}, "integer": {"integral-part", "space"}, "number": {"integral-part", "decimal-part", "space"},
	"string": {"char", "space"}, "null": {"space"},
	"value":  {"object", "array", "string", "number", "boolean", "null"},
	"object": {"string", "value", "space"}, "array": {"value", "space"},
}

// ignoredKeywords are annotations that do not constrain values.
var ignoredKeywords = map[string]bool{
	"$schema": true, "$id": true, "$comment": true, "title": true, "description": true, "default": true,
	"examples": true, "deprecated": true, "readOnly": true, "writeOnly": true, "$defs": true, "definitions": true,
	"strict": true,
}

type schemaConv struct {
	root  map[string]any
	rules map[string]string
	refs  map[string]string // $ref → rule name
}

// SchemaGrammar converts a JSON schema to a GBNF grammar for llama.cpp's
// grammar sampler (start rule "root"). It supports the types object
// (properties, required, additionalProperties), array (items, minItems,
// maxItems), string (minLength, maxLength), integer (minimum and maximum
// when both are given and span at most 1000 values), number, boolean and
// null; a list of types; enum and const; anyOf and oneOf; and local $ref
// (#/$defs/…, #/definitions/…). Objects are generated with their declared
// properties only, in declaration order. Anything else (pattern, format,
// allOf, not, prefixItems, …) is an error wrapping ErrSchema, as is a
// schema no value satisfies.
func SchemaGrammar(schema []byte) (string, error) {
	d := json.NewDecoder(bytes.NewReader(schema))
	d.UseNumber()
	v, err := decodeOrdered(d, 0)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrSchema, err)
	}
	if _, err := d.Token(); err != io.EOF {
		return "", fmt.Errorf("%w: trailing data after the schema", ErrSchema)
	}
	c := &schemaConv{rules: map[string]string{}, refs: map[string]string{}}
	if m, ok := v.(map[string]any); ok {
		c.root = m
	}
	body, err := c.visit(v, "root", 0)
	if err != nil {
		return "", err
	}
	c.rules["root"] = body
	names := make([]string, 0, len(c.rules))
	for k := range c.rules {
		names = append(names, k)
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteString("root ::= " + c.rules["root"] + "\n")
	for _, k := range names {
		if k != "root" {
			b.WriteString(k + " ::= " + c.rules[k] + "\n")
		}
	}
	return b.String(), nil
}

// prim adds a primitive rule and those it uses, and returns its name.
func (c *schemaConv) prim(name string) string {
	if _, ok := c.rules[name]; ok {
		return name
	}
	c.rules[name] = primitiveRules[name]
	for _, d := range primitiveDeps[name] {
		c.prim(d)
	}
	return name
}

// add defines a rule under a name derived from hint and returns the name.
func (c *schemaConv) add(hint, body string) string {
	name := ruleName(hint)
	if old, ok := c.rules[name]; !ok || old == body {
		c.rules[name] = body
		return name
	}
	for i := 1; ; i++ {
		n := name + strconv.Itoa(i)
		if old, ok := c.rules[n]; !ok || old == body {
			c.rules[n] = body
			return n
		}
	}
}

func ruleName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 128 && (r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	if b.Len() == 0 {
		return "r"
	}
	return b.String()
}

func schemaErr(path, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrSchema, path, fmt.Sprintf(format, args...))
}

// visit returns the grammar expression of schema s.
func (c *schemaConv) visit(s any, path string, depth int) (string, error) {
	if depth > maxSchemaDepth {
		return "", schemaErr(path, "nested deeper than %d", maxSchemaDepth)
	}
	switch s := s.(type) {
	case bool:
		if s {
			return c.prim("value"), nil
		}
		return "", schemaErr(path, "schema false allows no value")
	case map[string]any:
		return c.visitObject(s, path, depth)
	default:
		return "", schemaErr(path, "a schema must be an object or a boolean, not %T", s)
	}
}

func (c *schemaConv) visitObject(s map[string]any, path string, depth int) (string, error) {
	for k := range s {
		switch k {
		case orderKey, "type", "properties", "required", "additionalProperties", "items", "minItems", "maxItems",
			"minLength", "maxLength", "minimum", "maximum", "enum", "const", "anyOf", "oneOf", "$ref":
		default:
			if !ignoredKeywords[k] {
				return "", schemaErr(path, "keyword %q is not supported", k)
			}
		}
	}
	if ref, ok := s["$ref"]; ok {
		r, ok := ref.(string)
		if !ok {
			return "", schemaErr(path, "$ref must be a string")
		}
		return c.visitRef(r, path, depth)
	}
	if v, ok := s["const"]; ok {
		return c.literal(v, path)
	}
	if v, ok := s["enum"]; ok {
		list, ok := v.([]any)
		if !ok || len(list) == 0 {
			return "", schemaErr(path, "enum must be a non-empty array")
		}
		alts := make([]string, 0, len(list))
		for _, x := range list {
			l, err := c.literal(x, path)
			if err != nil {
				return "", err
			}
			alts = append(alts, l)
		}
		return "(" + strings.Join(alts, " | ") + ")", nil
	}
	for _, kw := range []string{"anyOf", "oneOf"} {
		if v, ok := s[kw]; ok {
			list, ok := v.([]any)
			if !ok || len(list) == 0 {
				return "", schemaErr(path, "%s must be a non-empty array", kw)
			}
			alts := make([]string, 0, len(list))
			for i, x := range list {
				e, err := c.visit(x, fmt.Sprintf("%s/%s/%d", path, kw, i), depth+1)
				if err != nil {
					return "", err
				}
				alts = append(alts, e)
			}
			return "(" + strings.Join(alts, " | ") + ")", nil
		}
	}
	switch t := s["type"].(type) {
	case nil:
		if _, ok := s["properties"]; ok {
			return c.visitType(s, "object", path, depth)
		}
		if _, ok := s["items"]; ok {
			return c.visitType(s, "array", path, depth)
		}
		return c.prim("value"), nil
	case string:
		return c.visitType(s, t, path, depth)
	case []any:
		if len(t) == 0 {
			return "", schemaErr(path, "type is an empty list")
		}
		alts := make([]string, 0, len(t))
		for _, x := range t {
			ts, ok := x.(string)
			if !ok {
				return "", schemaErr(path, "type list holds %T", x)
			}
			e, err := c.visitType(s, ts, path, depth)
			if err != nil {
				return "", err
			}
			alts = append(alts, e)
		}
		return "(" + strings.Join(alts, " | ") + ")", nil
	default:
		return "", schemaErr(path, "type must be a string or a list")
	}
}

func (c *schemaConv) visitRef(ref, path string, depth int) (string, error) {
	if name, ok := c.refs[ref]; ok {
		return name, nil
	}
	var key string
	switch {
	case strings.HasPrefix(ref, "#/$defs/"):
		key = "$defs"
	case strings.HasPrefix(ref, "#/definitions/"):
		key = "definitions"
	default:
		return "", schemaErr(path, "$ref %q: only local #/$defs/… and #/definitions/… are supported", ref)
	}
	defs, _ := c.root[key].(map[string]any)
	def, ok := defs[ref[len("#/"+key+"/"):]]
	if !ok {
		return "", schemaErr(path, "$ref %q not found", ref)
	}
	name := c.add("ref-"+ref[len("#/"+key+"/"):], "")
	c.refs[ref] = name // before visiting, so recursive schemas refer to the rule
	body, err := c.visit(def, ref, depth+1)
	if err != nil {
		return "", err
	}
	c.rules[name] = body
	return name, nil
}

func (c *schemaConv) visitType(s map[string]any, t, path string, depth int) (string, error) {
	switch t {
	case "object":
		return c.objectRule(s, path, depth)
	case "array":
		return c.arrayRule(s, path, depth)
	case "string":
		lo, hi, err := bounds(s, "minLength", "maxLength", path)
		if err != nil {
			return "", err
		}
		if lo == 0 && hi < 0 {
			return c.prim("string"), nil
		}
		c.prim("char")
		c.prim("space")
		return `"\"" ` + repeat("char", lo, hi) + ` "\"" space`, nil
	case "integer":
		return c.integerRule(s, path)
	case "number", "boolean", "null":
		for _, k := range []string{"minimum", "maximum"} {
			if _, ok := s[k]; ok && t == "number" {
				return "", schemaErr(path, "%s of a number is not supported (only of an integer)", k)
			}
		}
		return c.prim(t), nil
	default:
		return "", schemaErr(path, "unknown type %q", t)
	}
}

func (c *schemaConv) objectRule(s map[string]any, path string, depth int) (string, error) {
	props, _ := s["properties"].(map[string]any)
	if p, ok := s["properties"]; ok && props == nil {
		return "", schemaErr(path, "properties must be an object, not %T", p)
	}
	var required []string
	if r, ok := s["required"]; ok {
		list, ok := r.([]any)
		if !ok {
			return "", schemaErr(path, "required must be an array")
		}
		for _, x := range list {
			n, ok := x.(string)
			if !ok {
				return "", schemaErr(path, "required holds %T", x)
			}
			if _, ok := props[n]; !ok {
				return "", schemaErr(path, "required property %q is not among the properties", n)
			}
			required = append(required, n)
		}
	}
	c.prim("space")
	if len(propertyOrder(props)) == 0 {
		ap, ok := s["additionalProperties"]
		if !ok || ap == true {
			return c.prim("object"), nil
		}
		if ap == false {
			return `"{" space "}" space`, nil
		}
		v, err := c.visit(ap, path+"/additionalProperties", depth+1)
		if err != nil {
			return "", err
		}
		kv := c.add(ruleName(path)+"-kv", c.prim("string")+` ":" space `+v)
		return `"{" space ( ` + kv + ` ( "," space ` + kv + ` )* )? "}" space`, nil
	}
	// Declaration order: the order of the keys in the schema's text.
	names := propertyOrder(props)
	kv := map[string]string{}
	for _, n := range names {
		v, err := c.visit(props[n], path+"/properties/"+n, depth+1)
		if err != nil {
			return "", err
		}
		q, _ := json.Marshal(n)
		kv[n] = c.add(ruleName(path+"-"+n)+"-kv", jsonLiteral(string(q))+` space ":" space `+v)
	}
	var req, opt []string
	for _, n := range names {
		if slices.Contains(required, n) {
			req = append(req, kv[n])
		} else {
			opt = append(opt, kv[n])
		}
	}
	var b strings.Builder
	b.WriteString(`"{" space `)
	for i, r := range req {
		if i > 0 {
			b.WriteString(`"," space `)
		}
		b.WriteString(r + " ")
	}
	if len(opt) > 0 {
		if len(req) > 0 {
			b.WriteString(c.optionalChain(path, opt, true) + " ")
		} else {
			alts := make([]string, len(opt))
			for i := range opt {
				alts[i] = c.optionalChain(path, opt[i:], false)
			}
			b.WriteString("( " + strings.Join(alts, " | ") + " )? ")
		}
	}
	b.WriteString(`"}" space`)
	return b.String(), nil
}

// optionalChain is llama.cpp's get_recursive_refs: ks[0] (after a comma
// when afterComma), then optionally any later ones in order.
func (c *schemaConv) optionalChain(path string, ks []string, afterComma bool) string {
	var res string
	if afterComma {
		res = `( "," space ` + ks[0] + ` )?`
	} else {
		res = ks[0]
	}
	if len(ks) > 1 {
		res += " " + c.add(ruleName(path)+"-rest", c.optionalChain(path, ks[1:], true))
	}
	return res
}

// propertyOrder returns the property names in the order the schema's text
// declares them.
func propertyOrder(props map[string]any) []string {
	if o, ok := props[orderKey].([]string); ok {
		return o
	}
	names := make([]string, 0, len(props))
	for k := range props {
		if k != orderKey {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	return names
}

// orderKey is where decodeOrdered records the order of an object's keys
// (a key no JSON text can hold, so it never collides).
const orderKey = "\x00order"

// decodeOrdered decodes one JSON value like json.Unmarshal into any (with
// json.Number), recording each object's key order under orderKey.
func decodeOrdered(d *json.Decoder, depth int) (any, error) {
	if depth > 2*maxSchemaDepth {
		return nil, fmt.Errorf("nested deeper than %d", 2*maxSchemaDepth)
	}
	t, err := d.Token()
	if err != nil {
		return nil, err
	}
	switch t {
	case json.Delim('{'):
		m := map[string]any{}
		var order []string
		for d.More() {
			kt, err := d.Token()
			if err != nil {
				return nil, err
			}
			k, _ := kt.(string)
			v, err := decodeOrdered(d, depth+1)
			if err != nil {
				return nil, err
			}
			if _, dup := m[k]; dup {
				return nil, fmt.Errorf("duplicate key %q", k)
			}
			m[k] = v
			order = append(order, k)
		}
		if _, err := d.Token(); err != nil {
			return nil, err
		}
		m[orderKey] = order
		return m, nil
	case json.Delim('['):
		var list []any
		for d.More() {
			v, err := decodeOrdered(d, depth+1)
			if err != nil {
				return nil, err
			}
			list = append(list, v)
		}
		if _, err := d.Token(); err != nil {
			return nil, err
		}
		if list == nil {
			list = []any{}
		}
		return list, nil
	}
	return t, nil
}

func (c *schemaConv) arrayRule(s map[string]any, path string, depth int) (string, error) {
	item := c.prim("value")
	if it, ok := s["items"]; ok {
		if _, isList := it.([]any); isList {
			return "", schemaErr(path, "items as a list (tuple) is not supported")
		}
		v, err := c.visit(it, path+"/items", depth+1)
		if err != nil {
			return "", err
		}
		item = v
	}
	lo, hi, err := bounds(s, "minItems", "maxItems", path)
	if err != nil {
		return "", err
	}
	c.prim("space")
	item = c.add(ruleName(path)+"-item", item)
	if hi == 0 {
		return `"[" space "]" space`, nil
	}
	var inner string
	switch {
	case lo == 0 && hi < 0:
		inner = `( ` + item + ` ( "," space ` + item + ` )* )?`
	case lo == 0:
		inner = `( ` + item + ` ( "," space ` + item + ` ){0,` + strconv.Itoa(hi-1) + `} )?`
	case hi < 0:
		inner = item + ` ( "," space ` + item + ` ){` + strconv.Itoa(lo-1) + `,}`
	default:
		inner = item + ` ( "," space ` + item + ` ){` + strconv.Itoa(lo-1) + `,` + strconv.Itoa(hi-1) + `}`
	}
	return `"[" space ` + inner + ` "]" space`, nil
}

func (c *schemaConv) integerRule(s map[string]any, path string) (string, error) {
	_, hasMin := s["minimum"]
	_, hasMax := s["maximum"]
	if !hasMin && !hasMax {
		return c.prim("integer"), nil
	}
	if !hasMin || !hasMax {
		return "", schemaErr(path, "an integer with only one of minimum and maximum is not supported")
	}
	lo, err := intValue(s["minimum"], path, "minimum")
	if err != nil {
		return "", err
	}
	hi, err := intValue(s["maximum"], path, "maximum")
	if err != nil {
		return "", err
	}
	if lo > hi {
		return "", schemaErr(path, "minimum %d > maximum %d: no integer satisfies it", lo, hi)
	}
	if hi-lo >= maxEnumRange {
		return "", schemaErr(path, "integer range [%d,%d] is wider than %d values", lo, hi, maxEnumRange)
	}
	c.prim("space")
	alts := make([]string, 0, hi-lo+1)
	for v := hi; v >= lo; v-- { // longer literals first does not matter to GBNF; high first is arbitrary
		alts = append(alts, `"`+strconv.FormatInt(v, 10)+`"`)
	}
	return "(" + strings.Join(alts, " | ") + ") space", nil
}

func intValue(v any, path, key string) (int64, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, schemaErr(path, "%s must be a number", key)
	}
	if i, err := n.Int64(); err == nil {
		return i, nil
	}
	f, err := n.Float64()
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, schemaErr(path, "%s %s is not an integer", key, n)
	}
	return int64(f), nil
}

// bounds reads a minimum/maximum count pair (hi -1: none).
func bounds(s map[string]any, kmin, kmax, path string) (lo, hi int, err error) {
	hi = -1
	for _, k := range []string{kmin, kmax} {
		v, ok := s[k]
		if !ok {
			continue
		}
		n, err := intValue(v, path, k)
		if err != nil {
			return 0, 0, err
		}
		if n < 0 || n > 1<<16 {
			return 0, 0, schemaErr(path, "%s %d out of range [0,65536]", k, n)
		}
		if k == kmin {
			lo = int(n)
		} else {
			hi = int(n)
		}
	}
	if hi >= 0 && lo > hi {
		return 0, 0, schemaErr(path, "%s %d > %s %d: no value satisfies it", kmin, lo, kmax, hi)
	}
	return lo, hi, nil
}

// repeat is x{lo,hi} (hi -1: unbounded).
func repeat(x string, lo, hi int) string {
	switch {
	case hi < 0:
		return fmt.Sprintf("%s{%d,}", x, lo)
	case lo == hi:
		return fmt.Sprintf("%s{%d}", x, lo)
	default:
		return fmt.Sprintf("%s{%d,%d}", x, lo, hi)
	}
}

// literal is the grammar of one JSON value exactly (const, enum).
func (c *schemaConv) literal(v any, path string) (string, error) {
	b, err := json.Marshal(stripOrder(v))
	if err != nil {
		return "", schemaErr(path, "%v", err)
	}
	c.prim("space")
	return jsonLiteral(string(b)) + " space", nil
}

func stripOrder(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			if k != orderKey {
				m[k] = stripOrder(x)
			}
		}
		return m
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = stripOrder(x)
		}
		return out
	}
	return v
}

// jsonLiteral is a GBNF string literal matching the text of s: for a
// property name the JSON string with its quotes ("\"name\""), for a value
// literal its JSON text.
func jsonLiteral(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if r < 0x20 {
				fmt.Fprintf(&b, `\x%02X`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}
