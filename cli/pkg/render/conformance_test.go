package render_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/lakeport/lakeport/cli/internal/helmpeer"
	"github.com/lakeport/lakeport/cli/internal/testkit"
	"github.com/lakeport/lakeport/cli/pkg/render"
	"github.com/lakeport/lakeport/cli/pkg/workspace"
	"github.com/lakeport/lakeport/hack/testenv"
)

// TestConformanceFixture: every fixture Application renders exactly as the real helm binary does
// with the arguments Argo CD's repo server passes (CRDs, hooks, .helmignore, pinned revisions).
func TestConformanceFixture(t *testing.T) {
	f := testkit.NewFixture(t)
	checkConformance(t, f.Dir)
}

// TestConformanceKit: every Application of the bundled kit renders exactly as the real helm binary.
func TestConformanceKit(t *testing.T) {
	checkConformance(t, repoRoot(t))
}

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for ; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		if filepath.Dir(dir) == dir {
			t.Fatal("go.mod not found")
		}
	}
}

func checkConformance(t *testing.T, dir string) {
	helm := testenv.Tool(t, "helm")
	w, err := workspace.Open(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	rels, err := w.Render(context.Background(), w.Apps)
	if err != nil {
		t.Fatal(err)
	}
	if len(rels) != len(w.Apps) || len(rels) == 0 {
		t.Fatalf("rendered %d of %d apps", len(rels), len(w.Apps))
	}
	invs, err := helmpeer.Prepare(w, rels, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for i, rel := range rels {
		t.Run(rel.App, func(t *testing.T) {
			want, err := helmpeer.Run(context.Background(), helm, invs[i])
			if err != nil {
				t.Fatal(err)
			}
			wantObjs, err := render.SplitManifest(want)
			if err != nil {
				t.Fatalf("helm output: %v", err)
			}
			if len(wantObjs) != len(rel.Objects) || len(wantObjs) == 0 {
				t.Fatalf("lakeport rendered %d objects, helm %d", len(rel.Objects), len(wantObjs))
			}
			for i, got := range rel.Objects {
				w := wantObjs[i]
				if got.Kind != w.Kind || got.Name != w.Name || got.Namespace != w.Namespace || got.Source != w.Source {
					t.Errorf("object %d: lakeport %s %s/%s (%s), helm %s %s/%s (%s)", i, got.Kind, got.Namespace, got.Name, got.Source, w.Kind, w.Namespace, w.Name, w.Source)
					continue
				}
				if !reflect.DeepEqual(got.Content, w.Content) {
					t.Errorf("%s %s differs:\nlakeport:\n%s\nhelm:\n%s", got.Kind, got.Name, got.YAML, w.YAML)
				}
			}
			if rel.Manifest != want {
				t.Errorf("objects match but the text differs from helm template's output")
			}
		})
	}
}
