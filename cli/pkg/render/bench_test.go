package render_test

import (
	"context"
	"testing"

	"github.com/lakeport/lakeport/cli/pkg/workspace"
)

// BenchmarkRenderKit: open the bundled kit, expand the ApplicationSet and render every
// environment × app in-process (what `lakeport render` does after process start).
func BenchmarkRenderKit(b *testing.B) {
	dir := repoRoot(&testing.T{})
	for b.Loop() {
		w, err := workspace.Open(dir, "")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := w.Render(context.Background(), w.Apps); err != nil {
			b.Fatal(err)
		}
	}
}
