package render

import "testing"

// TestSplitManifestKeepsFinalNewline: a block scalar that ends a document keeps its final newline
// in Content, as in the YAML and as Argo CD's repo server decodes it (found by the render parity
// test of cli/internal/argoloop: every ConfigMap whose last key was a `|` block differed).
func TestSplitManifestKeepsFinalNewline(t *testing.T) {
	objs, err := SplitManifest("---\n# Source: c/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  log.properties: |\n    io.trino=INFO\n")
	if err != nil {
		t.Fatal(err)
	}
	data := objs[0].Content["data"].(map[string]any)
	if got := data["log.properties"]; got != "io.trino=INFO\n" {
		t.Errorf("log.properties = %q, want %q", got, "io.trino=INFO\n")
	}
}
