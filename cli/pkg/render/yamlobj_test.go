package render_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	sigsyaml "sigs.k8s.io/yaml"

	"github.com/lakeport/lakeport/cli/pkg/render"
	"github.com/lakeport/lakeport/cli/pkg/workspace"
)

// TestParseObjectMatchesSigsYAML holds the direct document decoder to sigs.k8s.io/yaml.Unmarshal,
// the reference it replaces: same map (same types: float64 numbers, string keys), same error or
// none, on every document the bundled kit renders and on the shapes the direct path hands back to
// the reference.
func TestParseObjectMatchesSigsYAML(t *testing.T) {
	docs := map[string]string{
		"empty":             "",
		"comment only":      "# nothing\n",
		"null":              "null\n",
		"scalar":            "just a string\n",
		"list":              "- a\n- b\n",
		"numbers":           "a: 1\nb: -0\nc: 1.5\nd: 1e21\ne: 9007199254740993\nf: 18446744073709551615\ng: 0x1F\nh: 0o17\ni: 1_000\nj: .5\nk: -.inf\nl: .nan\n",
		"big negative":      "a: -9223372036854775808\n",
		"bools and yes":     "a: yes\nb: on\nc: True\nd: n\ne: ~\nf: null\n",
		"timestamps":        "a: 2026-12-07\nb: 2026-12-07T10:00:00Z\nc: !!timestamp 2026-12-07\n",
		"int and bool keys": "1: a\ntrue: b\n-3: c\n",
		"float key":         "1.5: a\n",
		"null key":          "~: a\n",
		"nested":            "a:\n  b: [1, {c: d}, [], {}]\n  e: |\n    block\n  f: >-\n    folded\n",
		"binary":            "a: !!binary gIGC\n",
		"binary valid":      "a: !!binary aGVsbG8=\n",
		"html":              "a: \"<b>&amp;</b>\"\n",
		"unicode":           "a: \"\\u00e9\\U0001F600\"\n",
		"anchors":           "a: &x {b: 1}\nc: *x\nd:\n  <<: *x\n  e: 2\n",
		"duplicate keys":    "a: 1\na: 2\n",
		"bad yaml":          "a: [\n",
		"tab":               "a:\n\tb: 1\n",
		"tagged str":        "a: !!str 12\nb: !!int \"3\"\n",
	}
	for name, doc := range docs {
		t.Run(name, func(t *testing.T) { compareParse(t, doc) })
	}

	w, err := workspace.Open(repoRoot(t), "")
	if err != nil {
		t.Fatal(err)
	}
	rels, err := w.Render(context.Background(), w.Apps)
	if err != nil {
		t.Fatal(err)
	}
	n, exact := 0, 0
	for _, rel := range rels {
		for _, o := range rel.Objects {
			t.Run(fmt.Sprintf("%s/%s/%s", rel.App, o.Kind, o.Name), func(t *testing.T) {
				compareParse(t, o.YAML)
				if doc, ok := o.JSON(); ok {
					exact++
					compareJSON(t, o.YAML, doc)
				}
			})
			n++
		}
	}
	if n < 100 {
		t.Fatalf("the kit rendered %d documents, want more than 100", n)
	}
	// Every kit document parses strictly with small integers: each must take the fast path.
	if exact != n {
		t.Fatalf("%d of the kit's %d documents have an exact JSON form, want all", exact, n)
	}
}

// TestParseExact says which documents' JSON encoding from the parsed map is the bytes of
// sigs.k8s.io/yaml.YAMLToJSONStrict, which the schema check then does not compute (issue 14).
func TestParseExact(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		exact     bool
	}{
		{"plain", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: \"<v>&\"}\n", true},
		{"numbers", "a: 1\nb: -0\nc: 1.5\nd: 1e21\ng: 0x1F\nh: 0o17\ni: 1_000\nj: .5\nk: 9007199254740992\nl: -9007199254740992\nm: 0.1\nn: 1e-7\n", true},
		{"integer past 2^53", "a: 9007199254740993\n", false},
		{"negative integer past 2^53", "a: -9007199254740993\n", false},
		{"uint64", "a: 18446744073709551615\n", false},
		{"duplicate keys", "a: 1\na: 2\n", false},
		{"nested duplicate keys", "a:\n  b: 1\n  b: 1\n", false},
		{"int and bool keys", "1: a\ntrue: b\n-3: c\n", true},
		{"float key", "1.5: a\n", false},
		{"anchors", "a: &x {b: 1}\nc: *x\nd:\n  <<: *x\n  e: 2\n", true},
		{"null", "null\n", false},
		{"bad yaml", "a: [\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, exact, _ := render.ParseExact([]byte(tc.doc))
			if exact != tc.exact {
				t.Fatalf("exact = %v, want %v", exact, tc.exact)
			}
			if exact {
				doc, err := json.Marshal(m)
				if err != nil {
					t.Fatal(err)
				}
				compareJSON(t, tc.doc, doc)
			}
		})
	}
}

// compareJSON fails unless doc is what YAMLToJSONStrict makes of yaml.
func compareJSON(t *testing.T, yaml string, doc []byte) {
	t.Helper()
	want, err := sigsyaml.YAMLToJSONStrict([]byte(yaml))
	if err != nil {
		t.Fatalf("YAMLToJSONStrict refuses a document marked exact: %v", err)
	}
	if !bytes.Equal(doc, want) {
		t.Fatalf("JSON from the parsed map:\n%s\nYAMLToJSONStrict:\n%s", doc, want)
	}
}

func compareParse(t *testing.T, doc string) {
	t.Helper()
	var want map[string]any
	wantErr := sigsyaml.Unmarshal([]byte(doc), &want)
	got, gotErr := render.ParseObject([]byte(doc))
	if (wantErr == nil) != (gotErr == nil) || (wantErr != nil && wantErr.Error() != gotErr.Error()) {
		t.Fatalf("error: got %v, want %v", gotErr, wantErr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v\nwant %#v", got, want)
	}
}
