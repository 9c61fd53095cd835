package engine

import (
	"math"
	"strconv"
	"unicode/utf8"

	yamlv2 "go.yaml.in/yaml/v2"
	"helm.sh/helm/v3/pkg/chartutil"
)

// marshalYAML is sigs.k8s.io/yaml.Marshal (v1.6.0), the YAML of Helm's toYaml, without its JSON
// text: Marshal encodes v as JSON, go-yaml v2 reads that JSON back (choosing int, uint64 or
// float64 for each number as its resolver does) and writes it as YAML. For the plain values
// templates pass to toYaml (values maps and lists, strings, numbers, booleans) jsonValue builds
// what go-yaml v2 would have read, and go-yaml v2 writes it. toYaml was a twelfth of a fleet's
// render (issue 14). ok is false for anything else, which goes through sigs.k8s.io/yaml.
// TestMarshalYAMLMatchesSigs compares both on the kit's values and on edge cases.
func marshalYAML(v any) ([]byte, bool) {
	c, ok := yamlOfJSON(v)
	if !ok {
		return nil, false
	}
	out, err := yamlv2.Marshal(c)
	return out, err == nil
}

// yamlOfJSON is what go-yaml v2 decodes into an interface{} from the JSON encoding of v.
func yamlOfJSON(v any) (any, bool) {
	switch v := v.(type) {
	case nil, bool:
		return v, true
	case string:
		return v, plainJSONString(v)
	case float64:
		return jsonNumber(v)
	case int:
		return v, true
	case int64:
		return int(v), true
	case int32:
		return int(v), true
	case uint64:
		if v > math.MaxInt64 {
			return v, true
		}
		return int(v), true
	case map[string]any:
		return yamlMap(v)
	case chartutil.Values:
		return yamlMap(v)
	case map[string]string:
		if v == nil {
			return nil, true
		}
		out := make(map[any]any, len(v))
		for k, e := range v {
			if !plainJSONString(k) || !plainJSONString(e) {
				return nil, false
			}
			out[k] = e
		}
		return out, true
	case []any:
		if v == nil {
			return nil, true
		}
		out := make([]any, len(v))
		for i, e := range v {
			c, ok := yamlOfJSON(e)
			if !ok {
				return nil, false
			}
			out[i] = c
		}
		return out, true
	case []string:
		if v == nil {
			return nil, true
		}
		out := make([]any, len(v))
		for i, e := range v {
			if !plainJSONString(e) {
				return nil, false
			}
			out[i] = e
		}
		return out, true
	}
	return nil, false
}

func yamlMap(m map[string]any) (any, bool) {
	if m == nil {
		return nil, true // JSON null
	}
	out := make(map[any]any, len(m))
	for k, e := range m {
		if !plainJSONString(k) {
			return nil, false
		}
		c, ok := yamlOfJSON(e)
		if !ok {
			return nil, false
		}
		out[k] = c
	}
	return out, true
}

// jsonNumber is go-yaml v2's reading of encoding/json's text of f. A whole number below 1e21 is
// written as the shortest digits that read back as f, zeros after them (2^63 is written
// 9223372036854776000): go-yaml reads those digits as an int when they fit in 64 bits, else as
// a uint64, else as a float. Every other number is written so that it reads back as f exactly.
// NaN and ±Inf do not encode.
func jsonNumber(f float64) (any, bool) {
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return nil, false
	case f != math.Trunc(f) || math.Abs(f) >= 1e21:
		return f, true
	case math.Abs(f) <= 1<<53:
		return int(int64(f)), true // every such integer is its own shortest text
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return int(i), true
	}
	if u, err := strconv.ParseUint(s, 10, 64); err == nil {
		return u, true
	}
	return f, true
}

// plainJSONString says whether a string survives the JSON round trip unchanged: valid UTF-8
// (JSON replaces invalid bytes), and no character go-yaml's reader refuses in the JSON text
// ("control characters are not allowed": DEL, C1 controls, U+FFFE, U+FFFF; the C0 controls are
// written as escapes and read back).
func plainJSONString(s string) bool {
	for _, r := range s {
		switch {
		case r == utf8.RuneError:
			return false // invalid UTF-8, or a real U+FFFD: the reference decides
		case r < 0x7F, r >= 0xA0 && r <= 0xD7FF, r >= 0xE000 && r <= 0xFFFD, r >= 0x10000:
		default:
			return false
		}
	}
	return true
}
