package render

import (
	"math"
	"strconv"
	"sync"
	"unicode/utf8"

	yamlv2 "go.yaml.in/yaml/v2"
	sigsyaml "sigs.k8s.io/yaml"
)

// parseExact decodes one rendered document into the map sigs.k8s.io/yaml.Unmarshal would give
// (the parser Helm, Argo CD and kubectl read manifests with), without its round trip through JSON.
//
// sigs.k8s.io/yaml (v1.6.0, yaml.go) parses with go.yaml.in/yaml/v2, converts the result to a
// JSON-able value (convertToJSONableObject: map keys to strings), marshals that to JSON and
// decodes the JSON into the target. For a map[string]any target the JSON step only turns every
// number into a float64 and every key into a string: this function does the same directly. On a
// fleet's pull request that moves a chart pin in 750 environments, the JSON step was a third of
// parsing the 21,000 rendered documents (issue 14).
//
// Anything the direct path does not reproduce byte for byte goes through sigs.k8s.io/yaml itself,
// so its errors and results stay the reference: a document that is not a mapping, a string JSON
// would alter (invalid UTF-8 becomes U+FFFD), a number JSON cannot hold (NaN, ±Inf), a key type
// other than those convertToJSONableObject formats, and any value type go-yaml v2 is not known to
// return for an interface{} target. TestParseObjectMatchesSigsYAML compares both paths on every
// document the kit and the test charts render, and on edge cases.
//
// It also says whether the document's JSON encoding is exact: json.Marshal of the map gives the
// bytes of sigs.k8s.io/yaml.YAMLToJSONStrict(doc), which is what the Kubernetes API machinery's
// YAML decoders convert a manifest to (see Object.JSON).
// That holds when the direct path took the document, go-yaml v2 parsed it strictly (no key
// twice in a mapping: YAMLToJSONStrict refuses those), and no integer lost digits on its way to a
// float64 (at most 2^53 in magnitude: beyond, json.Marshal prints the float64's digits, not the
// integer's). Floats, strings, booleans and nulls encode alike either way: YAMLToJSON is
// json.Marshal of the same values before their round trip, and a float64's shortest form parses
// back to itself.
func parseExact(doc []byte) (map[string]any, bool, error) {
	var raw any
	if err := yamlv2.UnmarshalStrict(doc, &raw); err == nil {
		switch top := raw.(type) {
		case nil:
			return nil, false, nil // JSON null: the target map stays nil
		case map[any]any:
			var c converter
			if out, ok := c.jsonMap(top); ok {
				return out, !c.lossy, nil
			}
		}
	}
	// A document with a key twice fails UnmarshalStrict and comes here: sigs.k8s.io/yaml's
	// Unmarshal is not strict, and keeps the last value as before.
	var out map[string]any
	if err := sigsyaml.Unmarshal(doc, &out); err != nil {
		return nil, false, err
	}
	return out, false, nil
}

// exactInt is the largest integer magnitude a float64 holds with every digit.
const exactInt = 1 << 53

// converter turns go-yaml v2's values into JSON's; lossy records an integer a float64 rounds.
type converter struct{ lossy bool }

// jsonMap is the JSON decoding of the JSON encoding of convertToJSONableObject(m) (ok false: the
// direct path cannot say, use sigs.k8s.io/yaml).
func (c *converter) jsonMap(m map[any]any) (map[string]any, bool) {
	out := make(map[string]any, len(m))
	for k, v := range m {
		var key string
		switch k := k.(type) {
		case string:
			if !utf8.ValidString(k) {
				return nil, false
			}
			key = k
		case int:
			key = strconv.Itoa(k)
		case int64:
			key = strconv.FormatInt(k, 10)
		case bool:
			key = strconv.FormatBool(k)
		default: // floats (formatted at 32 bits, with YAML's names for infinities), nil, others
			return nil, false
		}
		if _, dup := out[key]; dup {
			return nil, false // two keys spelling one string: leave the choice to the reference
		}
		jv, ok := c.jsonValue(v)
		if !ok {
			return nil, false
		}
		out[key] = jv
	}
	return out, true
}

// jsonValue is one value of jsonMap: what encoding/json decodes into an interface{} from the
// encoding of v (numbers are float64; a float64 conversion rounds to nearest as ParseFloat of the
// integer's decimal digits does, and the shortest formatting of a float64 parses back exactly).
func (c *converter) jsonValue(v any) (any, bool) {
	switch v := v.(type) {
	case nil, bool:
		return v, true
	case string:
		return v, utf8.ValidString(v)
	case int:
		c.lossy = c.lossy || v > exactInt || v < -exactInt
		return float64(v), true
	case int64:
		c.lossy = c.lossy || v > exactInt || v < -exactInt
		return float64(v), true
	case uint64:
		c.lossy = c.lossy || v > exactInt
		return float64(v), true
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, false
		}
		return v, true
	case map[any]any:
		return c.jsonMap(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			jv, ok := c.jsonValue(e)
			if !ok {
				return nil, false
			}
			out[i] = jv
		}
		return out, true
	}
	return nil, false
}

// Documents remembers rendered documents parsed, by their text, for renderers that render many
// documents again: the two sides of a diff, whose releases mostly render the same documents (a
// pull request that moves a chart pin in 750 environments renders 10,500 documents per side, and
// most are equal on both). The parsed maps are shared and read-only, as the render cache's are:
// whoever changes an object's Content copies it first (the diff's redact does).
//
// It holds every distinct document it has seen, so it is for commands that keep their releases
// anyway (a diff); `render -o dir=` streams instead. A nil *Documents parses every time.
type Documents struct {
	mu     sync.Mutex
	parsed map[string]parsedDoc
}

// parsedDoc is a parsed document and whether its JSON encoding is exact (parseExact).
type parsedDoc struct {
	m     map[string]any
	exact bool
}

// NewDocuments returns an empty memory of parsed documents.
func NewDocuments() *Documents { return &Documents{parsed: map[string]parsedDoc{}} }

// parse is parseExact of doc+"\n" (a block scalar ending the document keeps its final newline,
// as in Object.YAML), remembered by doc. Errors are not remembered.
func (d *Documents) parse(doc string) (parsedDoc, error) {
	if d == nil {
		m, exact, err := parseExact([]byte(doc + "\n"))
		return parsedDoc{m, exact}, err
	}
	d.mu.Lock()
	p, ok := d.parsed[doc]
	d.mu.Unlock()
	if ok {
		return p, nil
	}
	m, exact, err := parseExact([]byte(doc + "\n"))
	if err != nil {
		return parsedDoc{}, err
	}
	p = parsedDoc{m, exact}
	d.mu.Lock()
	d.parsed[doc] = p
	d.mu.Unlock()
	return p, nil
}
