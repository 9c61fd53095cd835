package cmd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/lakeport/lakeport/cli/internal/testkit"
	"github.com/lakeport/lakeport/cli/pkg/promote"
)

// fakeGate is a hand-written gate: it answers what the test says and records what it was asked.
type fakeGate struct {
	ok    bool
	calls []string
}

func (g *fakeGate) Check(_ context.Context, env string, apps []string, rev string, soak time.Duration) (promote.GateResult, error) {
	g.calls = append(g.calls, fmt.Sprintf("%s %s %s %s", env, strings.Join(apps, ","), rev, soak))
	if !g.ok {
		return promote.GateResult{Summary: env + "-web is Progressing at " + rev[:12], Details: []string{"Deployment team-dev/web: Waiting for rollout to finish"}}, nil
	}
	return promote.GateResult{OK: true, Summary: env + "-web Synced and Healthy at " + rev[:12]}, nil
}

var gitAuthor = map[string]string{"GIT_AUTHOR_NAME": "Release Bot", "GIT_AUTHOR_EMAIL": "release@lakeport.dev"}

// addStaging turns the fixture into three stages: dev → staging → prod.
func addStaging(f *testkit.Fixture) {
	f.Write(map[string]string{
		"environments/staging/env.yaml": strings.NewReplacer("environment: dev", "environment: staging", "kit-dev", "kit-staging", "team-dev", "team-staging").Replace(f.Read("environments/dev/env.yaml")),
		"environments/staging/web.yaml": "# web in staging\nimage:\n  tag: \"1.1.5\" # pinned image\nreplicas: 2\n",
		"environments/staging/db.yaml":  f.Read("environments/prod/db.yaml"),
	})
	f.Replace("environments/lakeport.yaml", "promotion: [dev, prod]", "promotion: [dev, staging, prod]")
	f.Write(map[string]string{"environments/argocd/projects.yaml": f.Read("environments/argocd/projects.yaml") + `---
apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata:
  name: kit-staging
  namespace: argocd
spec:
  sourceRepos: [https://git.example.test/platform/kit.git, https://git.example.test/platform/kit.git/]
  destinations:
    - server: https://kubernetes.default.svc
      namespace: team-staging
`})
	f.Commit("add staging")
}

func runPromote(t *testing.T, f *testkit.Fixture, gate *fakeGate, args string) (string, string, int) {
	t.Helper()
	fac := &Factory{Gate: gate}
	return runWith(t, fac, f.Dir, args, gitAuthor)
}

func goldenPromote(t *testing.T, name string, f *testkit.Fixture, args, stdout, stderr string, code int) {
	t.Helper()
	got := fmt.Sprintf("$ lakeport %s\n--- exit %d\n--- stdout\n%s--- stderr\n%s", args, code, normalize(stdout, f.Dir, f), normalize(stderr, f.Dir, f))
	checkGolden(t, "testdata/"+name+".golden", got)
}

func headCommit(t *testing.T, f *testkit.Fixture) (string, string) {
	t.Helper()
	ref, err := f.Git.Head()
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.Git.CommitObject(ref.Hash())
	if err != nil {
		t.Fatal(err)
	}
	return ref.Name().Short(), c.Message
}

func TestPromote(t *testing.T) {
	f := testkit.NewFixture(t)
	gate := &fakeGate{ok: true}
	prodEnv, prodWeb := f.Read("environments/prod/env.yaml"), f.Read("environments/prod/web.yaml")
	args := "promote web --to prod"
	out, errOut, code := runPromote(t, f, gate, args)
	goldenPromote(t, "promote-web-to-prod", f, args, out, errOut, code)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if want := []string{fmt.Sprintf("dev dev-web %s 0s", f.V2)}; strings.Join(gate.calls, ";") != want[0] {
		t.Errorf("gate asked %v, want %v", gate.calls, want)
	}
	// Only the pins changed, byte for byte elsewhere, comments kept.
	if got, want := f.Read("environments/prod/env.yaml"), strings.Replace(prodEnv, f.V1, f.V2, 1); got != want {
		t.Errorf("prod/env.yaml:\n%s\nwant:\n%s", got, want)
	}
	if got, want := f.Read("environments/prod/web.yaml"), strings.Replace(prodWeb, `"1.1.0"`, `"1.2.0"`, 1); got != want {
		t.Errorf("prod/web.yaml:\n%s\nwant:\n%s", got, want)
	}
	branch, msg := headCommit(t, f)
	if branch != "promote/prod/web-"+f.V2[:8] {
		t.Errorf("branch %s", branch)
	}
	for _, want := range []string{"promote web to prod from dev", "environments/prod/web.yaml image.tag: 1.1.0 -> 1.2.0", "Gate: passed.", "prod-web: 0 added, 2 changed, 0 removed"} {
		if !strings.Contains(msg, want) {
			t.Errorf("commit message lacks %q:\n%s", want, msg)
		}
	}

	// Rollback: prod's pins as they were at V2 (before the promotion), previewed the same way.
	args = "promote web --to prod --pin " + f.V2
	out, errOut, code = runPromote(t, f, gate, args)
	goldenPromote(t, "promote-rollback", f, strings.Replace(args, f.V2, "<V2>", 1), out, errOut, code)
	if code != 0 {
		t.Fatalf("rollback exit %d: %s", code, errOut)
	}
	if f.Read("environments/prod/env.yaml") != prodEnv || f.Read("environments/prod/web.yaml") != prodWeb {
		t.Error("rollback did not restore prod's pins byte for byte")
	}
	if branch, msg = headCommit(t, f); !strings.HasPrefix(branch, "promote/prod/web-"+f.V1[:8]) || !strings.Contains(msg, "roll back web to prod") {
		t.Errorf("rollback branch %s message %s", branch, msg)
	}
}

func TestPromoteRefusals(t *testing.T) {
	for _, tc := range []struct {
		name     string
		args     string
		gateOK   bool
		setup    func(f *testkit.Fixture)
		wantCode int
	}{
		{name: "promote-dry-run", args: "promote web --to prod --dry-run -o json", gateOK: true},
		{name: "promote-gate-refused", args: "promote web --to prod", wantCode: 1},
		{name: "promote-skip-stage", args: "promote web --to prod --from dev", gateOK: true, setup: addStaging, wantCode: 2},
		{name: "promote-dirty-tree", args: "promote web --to prod", gateOK: true, wantCode: 2, setup: func(f *testkit.Fixture) {
			f.Replace("environments/prod/web.yaml", "replicas: 3", "replicas: 4")
		}},
		{name: "promote-moved-branch", args: "promote web --to prod --expect-head 0badc0de", gateOK: true, wantCode: 2},
		{name: "promote-unknown-component", args: "promote cache --to prod", gateOK: true, wantCode: 2},
		{name: "promote-unknown-env", args: "promote web --to qa", gateOK: true, wantCode: 2},
		{name: "promote-bad-pin", args: "promote web --to prod", gateOK: true, wantCode: 2, setup: func(f *testkit.Fixture) {
			f.Replace("environments/dev/env.yaml", "chart: charts/web\n    revision: HEAD", "chart: charts/web\n    revision: 0123456789abcdef0123456789abcdef01234567")
			f.Commit("pin dev web to a revision that does not exist")
		}},
		{name: "promote-malformed-target", args: "promote web --to prod --skip-gate", wantCode: 2, setup: func(f *testkit.Fixture) {
			// A missing pin key is added (a digest the target never had); an image that is not a
			// map cannot take one.
			f.Replace("environments/prod/web.yaml", "image:\n  tag: \"1.1.0\" # pinned image", "image: web-1.1.0 # not a map")
			f.Commit("prod web values lose their image map")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := testkit.NewFixture(t)
			if tc.setup != nil {
				tc.setup(f)
			}
			before := snapshotKit(t, f)
			head, _ := f.Git.Head()
			out, errOut, code := runPromote(t, f, &fakeGate{ok: tc.gateOK}, tc.args)
			goldenPromote(t, tc.name, f, tc.args, out, errOut, code)
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d: %s", code, tc.wantCode, errOut)
			}
			if after := snapshotKit(t, f); after != before {
				t.Error("a refused promotion changed the working tree")
			}
			if now, _ := f.Git.Head(); now.Name() != head.Name() || now.Hash() != head.Hash() {
				t.Errorf("HEAD moved to %s", now)
			}
		})
	}
}

func TestPromoteForcedSkip(t *testing.T) {
	f := testkit.NewFixture(t)
	addStaging(f)
	out, errOut, code := runPromote(t, f, &fakeGate{ok: true}, "promote web --to prod --from dev --force")
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	if _, msg := headCommit(t, f); !strings.Contains(msg, "FORCED: skips staging") {
		t.Errorf("commit message does not record the forced skip:\n%s", msg)
	}
}

// A crash between writing two files leaves the working tree as it was, and nothing is committed.
func TestPromoteCrashBetweenFiles(t *testing.T) {
	f := testkit.NewFixture(t)
	before := snapshotKit(t, f)
	head, _ := f.Git.Head()
	fac := &Factory{
		Gate: &fakeGate{ok: true},
		beforeRename: func(step int, path string) error {
			if step == 1 {
				return errors.New("injected crash before writing " + path)
			}
			return nil
		},
	}
	_, errOut, code := runWith(t, fac, f.Dir, "promote web --to prod", gitAuthor)
	if code != 2 || !strings.Contains(errOut, "injected crash") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if snapshotKit(t, f) != before {
		t.Error("the working tree changed")
	}
	if now, _ := f.Git.Head(); now.Hash() != head.Hash() || now.Name() != head.Name() {
		t.Errorf("HEAD moved to %s", now)
	}
	if _, err := f.Git.Reference(plumbing.NewBranchReferenceName("promote/prod/web-"+f.V2[:8]), false); err == nil {
		t.Error("the promotion branch was created")
	}
}

func snapshotKit(t *testing.T, f *testkit.Fixture) string {
	t.Helper()
	var b strings.Builder
	for _, name := range []string{"environments/dev/env.yaml", "environments/prod/env.yaml", "environments/dev/web.yaml", "environments/prod/web.yaml", "environments/prod/db.yaml"} {
		b.WriteString(name + "\n" + f.Read(name))
	}
	return b.String()
}

func TestPromotePlanGolden(t *testing.T) {
	for _, tc := range []struct{ name, args string }{
		{"promote-plan", "promote --plan --skip-gate"},
		{"promote-plan-json", "promote --plan -o json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := testkit.NewFixture(t)
			addStaging(f)
			out, errOut, code := runPromote(t, f, &fakeGate{ok: true}, tc.args)
			goldenPromote(t, tc.name, f, tc.args, out, errOut, code)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
		})
	}
}
