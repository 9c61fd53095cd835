// Package depcheck_test proves that the CLI binary and the job binaries keep their dependencies apart:
// neither links the other's heavy modules.
package depcheck

import (
	"os/exec"
	"strings"
	"testing"
)

func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", pkg).Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("go list -deps %s: %v\n%s", pkg, err, stderr)
	}
	return strings.Fields(string(out))
}

func TestBinariesKeepDependenciesApart(t *testing.T) {
	for _, tc := range []struct {
		pkg       string
		forbidden []string
	}{
		{"github.com/lakeport/lakeport/cli/cmd/lakeport", []string{
			"github.com/apache/iceberg-go", "github.com/apache/arrow-go", "github.com/jackc/pgx",
			"modernc.org/sqlite", "github.com/parquet-go/parquet-go", "github.com/lakeport/lakeport/jobs/",
			// The image builder's registry library stays in hack/imagebuild.
			"github.com/google/go-containerregistry", "github.com/lakeport/lakeport/hack/imagebuild",
		}},
		{"github.com/lakeport/lakeport/jobs/cmd/distribution", []string{
			"github.com/argoproj/argo-cd", "helm.sh/helm", "github.com/open-policy-agent/opa",
			"github.com/go-git/go-git", "github.com/lakeport/lakeport/cli/",
			"github.com/google/go-containerregistry", "github.com/lakeport/lakeport/hack/imagebuild",
		}},
	} {
		for _, d := range deps(t, tc.pkg) {
			for _, f := range tc.forbidden {
				if strings.HasPrefix(d, f) {
					t.Errorf("%s links %s", tc.pkg, d)
				}
			}
		}
	}
}
