package trinoaccess_test

import (
	"context"
	"strings"
	"testing"

	"github.com/lakeport/lakeport/cli/pkg/check/envcheck"
	"github.com/lakeport/lakeport/cli/pkg/check/trinoaccess"
	"github.com/lakeport/lakeport/cli/pkg/workspace"
	"github.com/lakeport/lakeport/hack/testenv"
)

// beforeFix is main as issue 11 found it: staging and prod rules matched a group no provider
// gave, left the distribution user out of iceberg and had no system_information rules; workers
// had no access control, so the graceful-shutdown call got 403.
const beforeFix = "b5197db0f5e6087fb0eb0ec8a57af7f6a1b67079"

// run renders the kit at revision (the working tree when empty) and evaluates the intent of the
// working tree on every environment.
func run(t *testing.T, revision string) map[string][]envcheck.Finding {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	head, err := workspace.Open(root, "")
	if err != nil {
		t.Fatal(err)
	}
	c, err := trinoaccess.Load(head.Head)
	if err != nil {
		t.Fatal(err)
	}
	w := head
	if revision != "" {
		if w, err = workspace.Open(root, revision); err != nil {
			t.Fatal(err)
		}
	}
	rels, err := w.Render(context.Background(), w.Apps)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]envcheck.Finding{}
	for _, env := range w.Kit.Environments {
		in := envcheck.Input{Environment: env}
		for _, r := range rels {
			if r.Environment == env.Name {
				in.Releases = append(in.Releases, r)
			}
		}
		fs, err := c.Check(context.Background(), in)
		if err != nil {
			t.Fatalf("%s: %v", env.Name, err)
		}
		out[env.Name] = fs
	}
	return out
}

// TestKitMeetsIntent: every environment's rendered rules grant and deny what the intent says.
func TestKitMeetsIntent(t *testing.T) {
	got := run(t, "")
	if len(got) < 3 {
		t.Fatalf("checked %d environments", len(got))
	}
	for env, fs := range got {
		for _, f := range fs {
			t.Errorf("%s: %s:%d %s", env, f.File, f.Line, f.Message)
		}
	}
}

// TestOldRulesFail renders the kit before the fix and shows that the intent catches each defect,
// naming the principal, the action, the object, the environment and the rules file.
func TestOldRulesFail(t *testing.T) {
	got := run(t, beforeFix)
	want := map[string][]string{
		"prod": {
			// The pipeline is shut out of iceberg: no catalog rule names it.
			`distribution (user "distribution") must be allowed to select iceberg.risk.var_es in prod, but the coordinator's rules (ConfigMap trino-access-control, key rules.json) deny it: no catalogs rule matches catalog "iceberg": denied`,
			`distribution (user "distribution") must be allowed to insert iceberg.risk.next_dataset in prod`,
			// Readers match no rule: no group provider gives them risk-readers.
			`reader (user "risk-analyst", groups risk-readers) must be allowed to select iceberg.risk.drc in prod, but the coordinator's rules (ConfigMap trino-access-control, key rules.json) deny it`,
			`no group provider is configured on the coordinator, so user "risk-analyst" has no groups and group rules never match`,
			// No system_information rules.
			`distribution (user "distribution") must be allowed to read-system-information in prod, but the coordinator's rules (ConfigMap trino-access-control, key rules.json) deny it: no system_information section`,
			// Workers refuse the shutdown call (Trino's default access control).
			`admin (user "admin") must be allowed to write-system-information in prod, but the worker's rules (default access control) deny it: no access-control.properties: Trino's default access control denies writing system information (graceful shutdown)`,
			// Any user could kill the nightly publication.
			`reader (user "risk-analyst", groups risk-readers) must be denied to kill-query distribution in prod, but the coordinator's rules (ConfigMap trino-access-control, key rules.json) allow it: no queries section`,
		},
		"dev": {
			`admin (user "admin") must be allowed to write-system-information in dev, but the worker's rules (default access control) deny it`,
		},
	}
	for env, msgs := range want {
		var all []string
		for _, f := range got[env] {
			if f.File != trinoaccess.IntentFile || f.Line == 0 || f.Rule != trinoaccess.RuleID {
				t.Errorf("%s: finding not located in the intent file: %+v", env, f)
			}
			all = append(all, f.Message)
		}
		joined := strings.Join(all, "\n")
		for _, m := range msgs {
			if !strings.Contains(joined, m) {
				t.Errorf("%s: no finding containing\n  %s\ngot:\n%s", env, m, joined)
			}
		}
	}
}

func TestIntentErrors(t *testing.T) {
	raw := `apiVersion: lakeport.dev/v1alpha1
kind: TrinoAccessIntent
principals:
  - name: reader
    user: bob
expectations:
  - principal: reader
    actions: [select]
    object: iceberg.risk.var_es
    expect: allow
  - principal: nobody
    actions: [select, drop]
    object: iceberg.risk
    expect: maybe
`
	_, err := trinoaccess.ParseIntent("policies/intent/trino-access.yaml", []byte(raw))
	if err == nil {
		t.Fatal("bad intent accepted")
	}
	for _, want := range []string{
		`policies/intent/trino-access.yaml:11: expectations[1].principal: unknown principal "nobody"`,
		`policies/intent/trino-access.yaml:11: expectations[1].expect: "maybe": use allow or deny`,
		`policies/intent/trino-access.yaml:11: expectations[1].actions: unknown action "drop"`,
		`policies/intent/trino-access.yaml:11: expectations[1].object: select: object "iceberg.risk": want catalog.schema.table`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if _, err := trinoaccess.ParseIntent("x.yaml", []byte("kind: TrinoAccessIntent\nprincipal: []\n")); err == nil || !strings.Contains(err.Error(), "x.yaml") {
		t.Errorf("unknown key: %v", err)
	}
}
