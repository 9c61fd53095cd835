package cmd

import (
	"strings"
	"testing"

	"github.com/lakeport/lakeport/cli/internal/testkit"
)

const prodOwnersAndWindow = `changeControl:
  owners: ["@kit/prod-approvers"]
  syncWindows:
    - kind: deny
      schedule: "0 22 * * 1-5"
      duration: 3h
      timeZone: Europe/London
      description: nightly publication
components:`

// TestChangeControlCheckGolden: check's change-control findings (a stale CODEOWNERS, AppProject
// sync windows that drifted from env.yaml, a values file setting an image key that is not a
// declared pin) name the file and line; generate fixes the first two; the fixed kit passes.
func TestChangeControlCheckGolden(t *testing.T) {
	for _, tc := range []struct {
		name, args string
		setup      func(f *testkit.Fixture)
		wantCode   int
	}{
		{name: "check-stale-codeowners", args: "check --env prod --app web", wantCode: 1, setup: func(f *testkit.Fixture) {
			f.Replace("environments/prod/env.yaml", "components:", "changeControl:\n  owners: [\"@kit/prod-approvers\"]\ncomponents:")
			f.Write(map[string]string{".github/CODEOWNERS": "# hand-written\n/environments/prod/ @someone-else\n"})
		}},
		{name: "check-missing-codeowners", args: "check --env prod --app web", wantCode: 1, setup: func(f *testkit.Fixture) {
			f.Replace("environments/prod/env.yaml", "components:", "changeControl:\n  owners: [\"@kit/prod-approvers\"]\ncomponents:")
		}},
		{name: "check-sync-windows-not-rendered", args: "check --env prod --app web", wantCode: 1, setup: func(f *testkit.Fixture) {
			f.Replace("environments/prod/env.yaml", "components:", prodOwnersAndWindow)
			runGenerate(t, f)
			// A hand edit of the generated block: prod's window is shortened in the AppProject only.
			f.Replace("environments/argocd/projects.yaml", "duration: 3h", "duration: 1h")
		}},
		{name: "check-undeclared-pin", args: "check --env prod --app web", wantCode: 1, setup: func(f *testkit.Fixture) {
			// The old defect: prod pinned by digest while lakeport.yaml declares only image.tag.
			digestChart(f)
			f.Replace("environments/prod/env.yaml", f.V1, "HEAD")
			f.Replace("environments/prod/web.yaml", "  tag: \"1.1.0\" # pinned image\n", "  tag: \"1.1.0\" # pinned image\n  digest: \"sha256:0000000000000000000000000000000000000000000000000000000000000000\"\n")
		}},
		{name: "check-change-control-current", args: "check --env prod --app web", setup: func(f *testkit.Fixture) {
			digestChart(f)
			f.Replace("environments/prod/env.yaml", f.V1, "HEAD")
			f.Replace("environments/prod/web.yaml", "  tag: \"1.1.0\" # pinned image\n", "  tag: \"1.1.0\" # pinned image\n  digest: \"sha256:0000000000000000000000000000000000000000000000000000000000000000\"\n")
			f.Replace("environments/lakeport.yaml", "web: [image.tag]", "web: [image.tag, image.digest]")
			f.Replace("environments/prod/env.yaml", "components:", prodOwnersAndWindow)
			runGenerate(t, f)
		}},
		{name: "generate-check-stale", args: "generate --check", wantCode: 1, setup: func(f *testkit.Fixture) {
			f.Replace("environments/prod/env.yaml", "components:", prodOwnersAndWindow)
		}},
		{name: "generate", args: "generate", setup: func(f *testkit.Fixture) {
			f.Replace("environments/prod/env.yaml", "components:", prodOwnersAndWindow)
			f.Replace("environments/lakeport.yaml", "imagePins:", "owners: [\"@kit/platform\"]\nimagePins:")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := testkit.NewFixture(t)
			if tc.setup != nil {
				tc.setup(f)
			}
			out, errOut, code := runCmd(t, f.Dir, tc.args, nil)
			goldenPromote(t, tc.name, f, tc.args, out, errOut, code)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d: %s%s", code, tc.wantCode, out, errOut)
			}
			if tc.name == "generate" {
				if got := f.Read(".github/CODEOWNERS"); !strings.Contains(got, "/environments/prod/ @kit/prod-approvers\n") {
					t.Errorf("CODEOWNERS:\n%s", got)
				}
				if got := f.Read("environments/argocd/projects.yaml"); !strings.Contains(got, "namespaces: [team-prod]") {
					t.Errorf("projects.yaml:\n%s", got)
				}
				// Generated files are then current: generate --check and check pass.
				if _, e, c := runCmd(t, f.Dir, "generate --check", nil); c != 0 {
					t.Errorf("generate --check after generate: exit %d %s", c, e)
				}
				if o, e, c := runCmd(t, f.Dir, "check --env prod --app web", nil); c != 0 {
					t.Errorf("check after generate: exit %d %s%s", c, o, e)
				}
			}
		})
	}
}

func runGenerate(t *testing.T, f *testkit.Fixture) {
	t.Helper()
	if out, errOut, code := runCmd(t, f.Dir, "generate", nil); code != 0 {
		t.Fatalf("generate: exit %d %s%s", code, out, errOut)
	}
}
