package engine

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"sigs.k8s.io/yaml"
)

// TestMarshalYAMLMatchesSigs holds toYaml's direct path to sigs.k8s.io/yaml.Marshal, the
// reference it replaces: the same bytes, or the reference's own path (ok false). It runs over
// every chart's values and each of their sub-trees, and over numbers and strings at the edges of
// the JSON and go-yaml conversions.
func TestMarshalYAMLMatchesSigs(t *testing.T) {
	cases := map[string]any{
		"nil":          nil,
		"nil map":      map[string]any(nil),
		"nil list":     []any(nil),
		"empty":        map[string]any{},
		"empty list":   []any{},
		"bools":        map[string]any{"a": true, "b": false, "c": nil},
		"strings":      map[string]any{"yes": "yes", "on": "on", "null": "null", "num": "1", "float": "1.5", "ts": "2026-12-07", "colon": "a: b", "hash": "# c", "multi": "a\nb\n", "tab": "a\tb", "quote": `"q'`, "html": "<a>&amp;</a>", "empty": "", "space": " x ", "star": "*ref", "dash": "- x", "uni": "é😀", "ls": "a\u2028b"},
		"odd strings":  []any{"\x7f", "\u0085", "\u009f", "\ufeff", "\ufffe", "\uffff", "\ufffd", string([]byte{0xff, 'a'}), "\x00\x01\x1f"},
		"floats":       []any{0.0, math.Copysign(0, -1), 1.0, -1.0, 0.5, 0.1, 1e-7, 1e-6, 123456.789, 1e20, 1e21, 1e22, -1e21, 9007199254740993.0, math.MaxInt64, -math.MaxInt64 - 1, math.Ldexp(1, 63), math.Ldexp(1, 64), math.Ldexp(1, 64) * 2, -math.Ldexp(1, 63) * 2, math.MaxFloat64, math.SmallestNonzeroFloat64},
		"non-finite":   []any{math.NaN()},
		"inf":          map[string]any{"a": math.Inf(1)},
		"ints":         []any{0, 1, -1, math.MaxInt64, math.MinInt64, int64(5), int32(-7), uint64(math.MaxUint64), uint64(3)},
		"string maps":  map[string]any{"labels": map[string]string{"app": "x", "n": "1"}, "list": []string{"a", "true"}},
		"keys":         map[string]any{"1": "a", "true": "b", "null": "c", "": "d", "a b": "e", "-": "f", "10": "g", "9": "h"},
		"odd key":      map[string]any{"\x7f": 1},
		"values type":  chartutil.Values{"a": map[string]any{"b": 1.0}},
		"struct":       struct{ A int }{1},
		"float32":      []any{float32(0.1)},
		"unsupported":  map[string]any{"f": func() {}},
		"nested types": map[string]any{"a": []any{map[string]any{"b": []any{1.0, "2", true, nil}}}},
	}
	for name, v := range cases {
		t.Run(name, func(t *testing.T) { compareYAML(t, v) })
	}
	// Numbers of every magnitude and strings of random runes, with a fixed seed.
	rng := rand.New(rand.NewPCG(14, 0))
	for i := range 5000 {
		f := math.Ldexp(rng.Float64(), rng.IntN(140)-40)
		if rng.IntN(2) == 0 {
			f = math.Trunc(f)
		}
		if rng.IntN(2) == 0 {
			f = -f
		}
		r := make([]rune, 1+rng.IntN(4))
		for j := range r {
			r[j] = rune(rng.IntN(0x11000))
		}
		v := map[string]any{"f": f, "s": string(r), string(r[:1]): i}
		if got, want := toYAML(v), toYAMLReference(v); got != want {
			t.Fatalf("toYAML(%#v):\n got %q\nwant %q", v, got, want)
		}
	}

	charts, err := filepath.Glob(filepath.Join("..", "..", "..", "..", "..", "charts", "*", "Chart.yaml"))
	if err != nil || len(charts) < 4 {
		t.Fatalf("charts: %v (%d found)", err, len(charts))
	}
	for _, c := range charts {
		ch, err := loader.LoadDir(filepath.Dir(c))
		if err != nil {
			t.Fatal(err)
		}
		vals, err := chartutil.CoalesceValues(ch, map[string]any{})
		if err != nil {
			t.Fatal(err)
		}
		var walk func(p string, v any)
		walk = func(p string, v any) {
			t.Run(p, func(t *testing.T) { compareYAML(t, v) })
			switch v := v.(type) {
			case map[string]any:
				for k, e := range v {
					walk(p+"."+k, e)
				}
			case []any:
				for i, e := range v {
					walk(fmt.Sprintf("%s[%d]", p, i), e)
				}
			}
		}
		walk(ch.Name(), map[string]any(vals))
	}
	if _, err := os.Stat(filepath.Join("..", "..", "..", "..", "..", "go.mod")); err != nil {
		t.Fatal("not at the repository root's depth:", err)
	}
}

func compareYAML(t *testing.T, v any) {
	t.Helper()
	want := toYAMLReference(v)
	got := toYAML(v)
	if got != want {
		t.Fatalf("toYAML(%#v):\n got %q\nwant %q", v, got, want)
	}
}

// toYAMLReference is Helm's toYAML as written upstream.
func toYAMLReference(v any) string {
	data, err := yaml.Marshal(v)
	if err != nil {
		return ""
	}
	return string(data[:len(data)-min(len(data), 1)]) // TrimSuffix "\n": Marshal always ends with one
}
