package yamledit

import (
	"strings"
	"testing"
)

const values = `# Trino in prod.
image:
  registry: docker.io
  # the release pin
  tag: "478"   # promoted from staging
worker:
  image: {tag: '478'}
  replicas: 3
plain:
  tag: v1.2.3 # trailing comment
number:
  tag: 478
list:
  - name: a
    revision: HEAD
`

func TestSet(t *testing.T) {
	for _, tc := range []struct {
		path, value, wantLine, old string
	}{
		{"image.tag", "479", `  tag: "479"   # promoted from staging`, "478"},
		{"worker.image.tag", "479", `  image: {tag: '479'}`, "478"},
		{"plain.tag", "v1.3.0", `  tag: v1.3.0 # trailing comment`, "v1.2.3"},
		{"number.tag", "480", `  tag: 480`, "478"},
		{"list.0.revision", "0123abcd", `    revision: 0123abcd`, "HEAD"},
		{"list.0.revision", "1234567", `    revision: "1234567"`, "HEAD"},
		{"plain.tag", "a: b # c", `  tag: "a: b # c" # trailing comment`, "v1.2.3"},
	} {
		t.Run(tc.path+"="+tc.value, func(t *testing.T) {
			out, old, err := Set([]byte(values), ParsePath(tc.path), tc.value)
			if err != nil {
				t.Fatal(err)
			}
			if old != tc.old {
				t.Errorf("old = %q, want %q", old, tc.old)
			}
			if !strings.Contains(string(out), tc.wantLine+"\n") {
				t.Errorf("missing %q in:\n%s", tc.wantLine, out)
			}
			// Every other line is byte for byte the same.
			a, b := strings.Split(values, "\n"), strings.Split(string(out), "\n")
			if len(a) != len(b) {
				t.Fatalf("line count changed")
			}
			changed := 0
			for i := range a {
				if a[i] != b[i] {
					changed++
				}
			}
			if changed != 1 {
				t.Errorf("%d lines changed, want 1", changed)
			}
			if got, _ := Get(out, ParsePath(tc.path)); got != tc.value {
				t.Errorf("reads back %q", got)
			}
		})
	}
}

func TestSetErrors(t *testing.T) {
	for _, tc := range []struct{ path, want string }{
		{"image.digest", "line 2: image.digest: key not found"},
		{"image", "image: is not a scalar value"},
		{"list.3.revision", "list.3: no such list item"},
		{"worker.replicas.x", "worker.replicas.x: not a map or list"},
	} {
		_, _, err := Set([]byte(values), ParsePath(tc.path), "x")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Set(%s): %v, want %q", tc.path, err, tc.want)
		}
	}
	if _, _, err := Set([]byte("a: [1"), []string{"a"}, "x"); err == nil {
		t.Error("invalid YAML accepted")
	}
}

func TestInsert(t *testing.T) {
	for _, tc := range []struct {
		name, doc, path, value, want, err string
	}{
		{name: "after the last key", doc: "# web\nimage:\n  tag: \"1.2.0\" # pinned\nreplicas: 1\n", path: "image.digest", value: "sha256:abc",
			want: "# web\nimage:\n  tag: \"1.2.0\" # pinned\n  digest: \"sha256:abc\"\nreplicas: 1\n"},
		{name: "at the end without a newline", doc: "image:\n    tag: x", path: "image.digest", value: "sha256:abc",
			want: "image:\n    tag: x\n    digest: \"sha256:abc\"\n"},
		{name: "nested last", doc: "a:\n  image:\n    tag: x\n    nested:\n      k: v\nb: 1\n", path: "a.image.digest", value: "d",
			want: "a:\n  image:\n    tag: x\n    nested:\n      k: v\n    digest: \"d\"\nb: 1\n"},
		{name: "missing parent", doc: "replicas: 1\n", path: "image.digest", value: "d",
			want: "replicas: 1\nimage:\n  digest: \"d\"\n"},
		{name: "missing parents under an indented map", doc: "web:\n    replicas: 1\nother: 2\n", path: "web.image.tag", value: "1.2.0",
			want: "web:\n    replicas: 1\n    image:\n      tag: \"1.2.0\"\nother: 2\n"},
		{name: "comments only", doc: "# Helm values of api in prod.\n", path: "image.tag", value: "1.2.0",
			want: "# Helm values of api in prod.\nimage:\n  tag: \"1.2.0\"\n"},
		{name: "empty", doc: "", path: "image.tag", value: "1.2.0", want: "image:\n  tag: \"1.2.0\"\n"},
		{name: "only an empty map", doc: "# values\n{}\n# end\n", path: "image.tag", value: "1.2.0",
			want: "# values\n# end\nimage:\n  tag: \"1.2.0\"\n"},
		{name: "empty map with a comment on its line", doc: "{} # none\n", path: "image.tag", value: "1.2.0", err: "add the key by hand"},
		{name: "scalar on the way", doc: "image: x\n", path: "image.tag", value: "1.2.0", err: "image: is not a block map"},
		{name: "flow map", doc: "image: {tag: x}\n", path: "image.digest", value: "d", err: "is not a block map"},
		{name: "exists", doc: "image:\n  digest: d\n", path: "image.digest", value: "e", err: "already exists"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Insert([]byte(tc.doc), ParsePath(tc.path), tc.value)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

// A values file with comments only, or only `{}`, has no pins: promotion inserts them.
func TestHasEmptyDocument(t *testing.T) {
	for _, doc := range []string{"", "# comments only\n", "{}\n", "---\n"} {
		has, err := Has([]byte(doc), ParsePath("image.tag"))
		if err != nil || has {
			t.Errorf("Has(%q) = %v, %v; want false, nil", doc, has, err)
		}
	}
}
