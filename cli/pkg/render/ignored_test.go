package render

import "testing"

func TestIgnoredLine(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		want      int
	}{
		{"keys after {}", "# values\n{}\nreplicas: 3\n", 3},
		{"a second document", "a: 1\n---\n# more\nb: 2\n", 4},
		{"after a document end", "a: 1\n...\nb: 2\n", 3},
		{"a flow list then keys", "[1]\n\nb: 2\n", 3},
		{"a block map", "a: 1\nb:\n  c: 2\n# end\n", 0},
		{"a trailing document marker", "a: 1\n---\n", 0},
		{"comments only", "# nothing\n", 0},
		{"empty", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ignoredLine([]byte(tc.doc)); got != tc.want {
				t.Errorf("ignoredLine(%q) = %d, want %d", tc.doc, got, tc.want)
			}
		})
	}
}
