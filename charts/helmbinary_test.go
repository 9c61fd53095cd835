package charts_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lakeport/lakeport/charts/internal/chartrender"
	"github.com/lakeport/lakeport/hack/testenv"
)

// TestRenderMatchesHelmTemplate: the in-process render equals what the pinned helm binary
// prints for `helm template` with Argo CD's flags, for every component of every environment.
func TestRenderMatchesHelmTemplate(t *testing.T) {
	helm := testenv.Tool(t, "helm")
	forEachComponent(t, func(t *testing.T, env chartrender.Env, component string) {
		req := chartrender.ForEnv(repoRoot, env, component)
		ours, err := chartrender.Render(req)
		if err != nil {
			t.Fatal(err)
		}
		args := []string{"template", req.ReleaseName, req.ChartDir, "--namespace", req.Namespace,
			"--kube-version", req.KubeVersion, "--include-crds"}
		for _, f := range req.ValueFiles {
			args = append(args, "-f", f)
		}
		for _, v := range req.APIVersions {
			args = append(args, "--api-versions", v)
		}
		cmd := exec.Command(helm, args...)
		cmd.Env = append(cmd.Environ(), "HELM_CACHE_HOME="+filepath.Join(t.TempDir(), "cache"),
			"HELM_CONFIG_HOME="+filepath.Join(t.TempDir(), "config"), "HELM_DATA_HOME="+filepath.Join(t.TempDir(), "data"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		if strings.TrimSpace(string(out)) != strings.TrimSpace(ours) {
			t.Errorf("in-process render differs from helm template (%d vs %d bytes)", len(ours), len(out))
		}
	})
}
