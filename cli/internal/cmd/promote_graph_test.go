package cmd

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/lakeport/lakeport/cli/internal/testkit"
)

// The fixed clock of runWith is Wednesday 2026-11-25 12:00 UTC: the "lunch" window below is
// open (deny, 11:00 for 3h), the nightly publication window is not.
const (
	lunchWindow = `changeControl:
  owners: ["@kit/prod-approvers"]
  syncWindows:
    - kind: deny
      schedule: "0 11 * * *"
      duration: 3h
      timeZone: UTC
      description: lunch-time market close
    - kind: deny
      schedule: "0 22 * * 1-5"
      duration: 3h
      timeZone: Europe/London
      description: nightly publication
components:`
	nightlyWindow = `changeControl:
  syncWindows:
    - kind: deny
      schedule: "0 22 * * 1-5"
      duration: 3h
      timeZone: Europe/London
      description: nightly publication
components:`
	requireChangeID = `changeControl:
  requireChangeId: true
components:`
)

// TestPromoteGraphGolden: fan-out promotion (one environment of a stage, pins from the stage
// before), stage promotion (every environment in one commit, gated on the source stage), the
// refusals (a skipped stage, a source stage that does not run one release) and the plan.
func TestPromoteGraphGolden(t *testing.T) {
	for _, tc := range []struct {
		name, args string
		setup      func(f *testkit.Fixture)
		gateOK     bool
		wantCode   int
		wantGate   string
		check      func(t *testing.T, f *testkit.Fixture, before map[string]string)
	}{
		{name: "promote-fanout", args: "promote web --to prod-eu", gateOK: true, wantGate: "staging staging-web",
			check: func(t *testing.T, f *testkit.Fixture, before map[string]string) {
				if got := f.Read("environments/prod-eu/web.yaml"); !strings.Contains(got, `tag: "1.1.5"`) {
					t.Errorf("prod-eu web not at staging's 1.1.5:\n%s", got)
				}
				if f.Read("environments/prod-us/web.yaml") != before["environments/prod-us/web.yaml"] {
					t.Error("promoting prod-eu changed prod-us")
				}
				if branch, _ := headCommit(t, f); !strings.HasPrefix(branch, "promote/prod-eu/web-") {
					t.Errorf("branch %s", branch)
				}
			}},
		{name: "promote-stage", args: "promote web --to-stage prod --change-id CHG0012345", gateOK: true, wantGate: "staging staging-web",
			check: func(t *testing.T, f *testkit.Fixture, _ map[string]string) {
				for _, env := range []string{"prod-eu", "prod-us"} {
					if got := f.Read("environments/" + env + "/web.yaml"); !strings.Contains(got, `tag: "1.1.5"`) {
						t.Errorf("%s web not at 1.1.5:\n%s", env, got)
					}
				}
				branch, msg := headCommit(t, f)
				if !strings.HasPrefix(branch, "promote/prod/web-") {
					t.Errorf("branch %s", branch)
				}
				for _, want := range []string{"promote web to prod (prod-eu, prod-us) from staging", "environments/prod-eu/web.yaml image.tag: 1.1.0 -> 1.1.5", "environments/prod-us/web.yaml image.tag: 1.1.0 -> 1.1.5", "\n\nChange-Id: CHG0012345\n"} {
					if !strings.Contains(msg, want) {
						t.Errorf("commit message lacks %q:\n%s", want, msg)
					}
				}
			}},
		{name: "promote-stage-skip-refused", args: "promote web --to-stage prod --from dev", gateOK: true, wantCode: 2},
		{name: "promote-stage-unknown", args: "promote web --to-stage production", gateOK: true, wantCode: 2},
		{name: "promote-stage-gate-refused", args: "promote web --to-stage prod", wantCode: 1, wantGate: "staging staging-web"},
		{name: "promote-backwards-forced", args: "promote web --to staging --from prod-eu --force --dry-run", gateOK: true, wantGate: "prod-eu prod-eu-web"},
		{name: "promote-diverged-source-stage", args: "promote web --to-stage post", gateOK: true, wantCode: 2, setup: func(f *testkit.Fixture) {
			// A stage after prod: prod-eu and prod-us no longer run one release of web.
			f.Replace("environments/prod-us/web.yaml", `tag: "1.1.0"`, `tag: "1.1.1"`)
			addEnv(f, "post", "prod-eu")
			f.Replace("environments/lakeport.yaml", "[prod-eu, prod-us]]", "[prod-eu, prod-us], {stage: post, environments: [post]}]")
			f.Commit("a post-prod stage; prod-us runs another web")
		}},
		{name: "promote-plan-graph", args: "promote --plan --skip-gate", setup: func(f *testkit.Fixture) {
			f.Replace("environments/prod-eu/env.yaml", "components:", lunchWindow)
			f.Replace("environments/prod-us/env.yaml", "components:", nightlyWindow)
			f.Commit("prod windows")
		}},
		{name: "promote-plan-graph-json", args: "promote --plan --skip-gate -o json", setup: func(f *testkit.Fixture) {
			f.Replace("environments/prod-eu/env.yaml", "components:", lunchWindow)
			f.Commit("prod-eu windows")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := testkit.NewFixture(t)
			f.FanOut("[dev, staging, [prod-eu, prod-us]]")
			if tc.setup != nil {
				tc.setup(f)
			}
			before := map[string]string{}
			for _, p := range []string{"environments/prod-eu/web.yaml", "environments/prod-us/web.yaml", "environments/staging/web.yaml"} {
				before[p] = f.Read(p)
			}
			head, _ := f.Git.Head()
			gate := &fakeGate{ok: tc.gateOK}
			out, errOut, code := runPromote(t, f, gate, tc.args)
			goldenPromote(t, tc.name, f, tc.args, out, errOut, code)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d: %s", code, tc.wantCode, errOut)
			}
			var asked []string
			for _, c := range gate.calls {
				asked = append(asked, strings.Join(strings.Fields(c)[:2], " "))
			}
			if got := strings.Join(asked, "; "); tc.wantGate != "" && got != tc.wantGate {
				t.Errorf("gate asked %q, want %q", got, tc.wantGate)
			}
			if tc.check != nil {
				tc.check(t, f, before)
				return
			}
			if now, _ := f.Git.Head(); now.Hash() != head.Hash() {
				t.Errorf("HEAD moved to %s", now)
			}
			for p, b := range before {
				if f.Read(p) != b {
					t.Errorf("%s changed", p)
				}
			}
		})
	}
}

// addEnv adds an environment copied from another (same pins), with its namespace and project.
func addEnv(f *testkit.Fixture, name, from string) {
	r := strings.NewReplacer("environment: "+from, "environment: "+name, "kit-"+from, "kit-"+name, "team-"+from, "team-"+name)
	f.Write(map[string]string{
		"environments/" + name + "/env.yaml": r.Replace(f.Read("environments/" + from + "/env.yaml")),
		"environments/" + name + "/web.yaml": f.Read("environments/" + from + "/web.yaml"),
		"environments/" + name + "/db.yaml":  f.Read("environments/" + from + "/db.yaml"),
		"environments/argocd/projects.yaml": f.Read("environments/argocd/projects.yaml") + r.Replace(
			"---\napiVersion: argoproj.io/v1alpha1\nkind: AppProject\nmetadata:\n  name: kit-"+from+"\n  namespace: argocd\nspec:\n  sourceRepos: [https://git.example.test/platform/kit.git, https://git.example.test/platform/kit.git/]\n  destinations:\n    - server: '*'\n      namespace: team-"+from+"\n"),
	})
}

// TestPromoteChangeControlGolden: the refusals of change control name the env.yaml file, line
// and key, and what settles them; an override and a change id are recorded in the commit (as
// trailers) and in the JSON report.
func TestPromoteChangeControlGolden(t *testing.T) {
	for _, tc := range []struct {
		name, args, envYAML string
		env                 map[string]string
		wantCode            int
		wantTrailers        []string
	}{
		{name: "promote-window-refused", args: "promote web --to prod", envYAML: lunchWindow, wantCode: 1},
		{name: "promote-window-refused-json", args: "promote web --to prod -o json", envYAML: lunchWindow, wantCode: 1},
		{name: "promote-window-override", args: `promote web --to prod --override "P1 incident INC42, CAB approved"`, envYAML: lunchWindow,
			wantTrailers: []string{"Sync-Window-Override: P1 incident INC42, CAB approved"}},
		{name: "promote-window-closed", args: "promote web --to prod", envYAML: nightlyWindow},
		{name: "promote-change-id-missing", args: "promote web --to prod", envYAML: requireChangeID, wantCode: 1},
		{name: "promote-change-id-env", args: "promote web --to prod -o json", envYAML: requireChangeID, env: map[string]string{"LAKEPORT_CHANGE_ID": "CHG0099"},
			wantTrailers: []string{"Change-Id: CHG0099"}},
		{name: "promote-change-id-bad", args: "promote web --to prod --change-id 'CHG 1'", envYAML: requireChangeID, wantCode: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := testkit.NewFixture(t)
			f.Replace("environments/prod/env.yaml", "components:", tc.envYAML)
			f.Commit("prod change control")
			head, _ := f.Git.Head()
			env := map[string]string{}
			for k, v := range gitAuthor {
				env[k] = v
			}
			for k, v := range tc.env {
				env[k] = v
			}
			out, errOut, code := runArgv(t, &Factory{Gate: &fakeGate{ok: true}}, f.Dir, shellWords(tc.args), env)
			goldenPromote(t, tc.name, f, tc.args, out, errOut, code)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d: %s", code, tc.wantCode, errOut)
			}
			if code != 0 {
				if now, _ := f.Git.Head(); now.Hash() != head.Hash() || now.Name() != head.Name() {
					t.Errorf("a refused promotion moved HEAD to %s", now)
				}
				return
			}
			_, msg := headCommit(t, f)
			for _, tr := range tc.wantTrailers {
				// Trailers are the last paragraph of the message.
				paras := strings.Split(strings.TrimRight(msg, "\n"), "\n\n")
				if !strings.Contains(paras[len(paras)-1], tr) {
					t.Errorf("last paragraph of the commit message lacks the trailer %q:\n%s", tr, msg)
				}
			}
			if strings.HasSuffix(tc.args, "-o json") {
				var rep struct {
					Plan struct {
						ChangeID string `json:"changeId"`
					} `json:"plan"`
				}
				if err := json.Unmarshal([]byte(out), &rep); err != nil {
					t.Fatal(err)
				}
				if rep.Plan.ChangeID != tc.env["LAKEPORT_CHANGE_ID"] {
					t.Errorf("JSON report changeId %q", rep.Plan.ChangeID)
				}
			}
		})
	}
}

// TestPromoteDigest: a digest-pinned prod. With image.digest declared as a pin, promotion copies
// the digest (adding it where the target had none) and clears a target digest the source does
// not set; with only image.tag declared (the kit's old lakeport.yaml) the digest-pinned target
// silently kept its old image, the defect this test pins down.
func TestPromoteDigest(t *testing.T) {
	const devDigest = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	const prodDigest = "sha256:0000000000000000000000000000000000000000000000000000000000000000"
	for _, tc := range []struct {
		name, pins         string
		devDigest          bool
		prodNoDigest       bool
		wantProd, wantGold string
	}{
		{name: "digest added", pins: "web: [image.tag, image.digest]", devDigest: true, prodNoDigest: true, wantProd: "  tag: \"1.2.0\" # pinned image\n  digest: \"" + devDigest + "\"\nreplicas: 3\n"},
		{name: "tag only declared (old defect)", pins: "web: [image.tag]", devDigest: true, wantProd: "digest: \"" + prodDigest + "\""},
		{name: "digest copied", pins: "web: [image.tag, image.digest]", devDigest: true, wantProd: "digest: \"" + devDigest + "\"", wantGold: "promote-digest"},
		{name: "digest cleared", pins: "web: [image.tag, image.digest]", wantProd: "digest: \"\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := testkit.NewFixture(t)
			// prod runs a chart that knows image.digest.
			chart := digestChart(f)
			f.Replace("environments/prod/env.yaml", f.V1, chart)
			f.Replace("environments/lakeport.yaml", "web: [image.tag]", tc.pins)
			if !tc.prodNoDigest {
				f.Replace("environments/prod/web.yaml", "  tag: \"1.1.0\" # pinned image\n", "  tag: \"1.1.0\" # pinned image\n  digest: \""+prodDigest+"\"\n")
			}
			if tc.devDigest {
				f.Replace("environments/dev/web.yaml", "  tag: \"1.2.0\" # pinned image\n", "  tag: \"1.2.0\" # pinned image\n  digest: \""+devDigest+"\"\n")
			}
			f.Commit("prod web pinned by digest")
			args := "promote web --to prod"
			out, errOut, code := runPromote(t, f, &fakeGate{ok: true}, args)
			if tc.wantGold != "" {
				goldenPromote(t, tc.wantGold, f, args, out, errOut, code)
			}
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			got := f.Read("environments/prod/web.yaml")
			if !strings.Contains(got, tc.wantProd) || !strings.Contains(got, `tag: "1.2.0"`) {
				t.Errorf("prod web.yaml after promotion:\n%s\nwant it to hold %s and tag 1.2.0", got, tc.wantProd)
			}
			// What prod renders: the image the chart picks (it prefers the digest).
			rout, rerr, rcode := runCmd(t, f.Dir, "render --env prod --app web", nil)
			if rcode != 0 {
				t.Fatalf("render: %s", rerr)
			}
			wantImage := fmt.Sprintf("@%s", devDigest)
			switch {
			case strings.HasPrefix(tc.name, "tag only"):
				wantImage = "@" + prodDigest // the promotion did not reach the running image
			case tc.name == "digest cleared":
				wantImage = ":1.2.0"
			}
			if !strings.Contains(rout, wantImage) {
				t.Errorf("rendered prod web does not use %s:\n%s", wantImage, rout)
			}
		})
	}
}

// shellWords splits a command line on spaces, keeping quoted ('...' or "...") words whole.
func shellWords(s string) []string {
	var out []string
	var cur strings.Builder
	quote, inWord := rune(0), false
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out
}

// digestChart makes the fixture's web chart prefer image.digest over image.tag when it is set,
// as the kit's charts do (charts/*/templates/_helpers.tpl).
func digestChart(f *testkit.Fixture) string {
	f.Replace("charts/web/templates/deployment.yaml", `image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"`,
		`image: "{{ .Values.image.repository }}{{ if .Values.image.digest }}@{{ .Values.image.digest }}{{ else }}:{{ .Values.image.tag }}{{ end }}"`)
	f.Replace("charts/web/values.schema.json", `"tag": {"type": "string"}}`, `"tag": {"type": "string"}, "digest": {"type": "string"}}`)
	f.Replace("charts/web/values.yaml", "  tag: \"1.0.0\"\n", "  tag: \"1.0.0\"\n  digest: \"\"\n")
	return f.Commit("web chart: image.digest")
}
