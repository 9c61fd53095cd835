package observability_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"sigs.k8s.io/yaml"
)

// ruleTests is the shape of the promtool unit test files in testdata/ that this test reads.
type ruleTests struct {
	RuleFiles []string `json:"rule_files"`
	Tests     []struct {
		AlertRuleTest []struct {
			Alertname string `json:"alertname"`
			ExpAlerts []any  `json:"exp_alerts"`
		} `json:"alert_rule_test"`
	} `json:"tests"`
}

type ruleFileShape struct {
	Groups []struct {
		Rules []struct {
			Alert string `json:"alert"`
		} `json:"rules"`
	} `json:"groups"`
}

// TestAlertRules renders each chart's PrometheusRule for dev, then runs the real promtool on it:
// `check rules` (syntax, templates, and promtool's lint) and `test rules` with
// testdata/<chart>.rules_test.yaml, which must test every alert both firing and not firing.
func TestAlertRules(t *testing.T) {
	bin := promtool(t)
	for _, component := range []string{"distribution", "trino", "spark", "minio"} {
		t.Run(component, func(t *testing.T) {
			dir := t.TempDir()
			rules := ruleFile(t, dir, component, alertValues[component])
			out, err := exec.Command(bin, "check", "rules", "--lint=all", "--lint-fatal", rules).CombinedOutput()
			if err != nil {
				t.Fatalf("promtool check rules: %v\n%s\n%s", err, out, must(os.ReadFile(rules)))
			}

			src := filepath.Join("testdata", component+".rules_test.yaml")
			raw, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			var tests ruleTests
			if err := yaml.Unmarshal(raw, &tests); err != nil {
				t.Fatalf("%s: %v", src, err)
			}
			// Every alert of the rendered rules is tested firing and not firing.
			var rf ruleFileShape
			if err := yaml.Unmarshal(must(os.ReadFile(rules)), &rf); err != nil {
				t.Fatal(err)
			}
			firing, quiet := map[string]bool{}, map[string]bool{}
			for _, tc := range tests.Tests {
				for _, a := range tc.AlertRuleTest {
					if len(a.ExpAlerts) > 0 {
						firing[a.Alertname] = true
					} else {
						quiet[a.Alertname] = true
					}
				}
			}
			var alerts []string
			for _, g := range rf.Groups {
				for _, r := range g.Rules {
					if r.Alert != "" && !slices.Contains(alerts, r.Alert) {
						alerts = append(alerts, r.Alert)
					}
				}
			}
			sort.Strings(alerts)
			if len(alerts) == 0 {
				t.Fatal("no alerts rendered")
			}
			for _, a := range alerts {
				if !firing[a] || !quiet[a] {
					t.Errorf("%s: alert %s is not tested both firing (%v) and not firing (%v)", src, a, firing[a], quiet[a])
				}
			}
			// The test file names the rendered rules, wherever the test runs.
			raw = bytes.Replace(raw, []byte("rule_files:\n  - RULES"), []byte("rule_files:\n  - "+rules), 1)
			test := filepath.Join(dir, component+".rules_test.yaml")
			if err := os.WriteFile(test, raw, 0o644); err != nil {
				t.Fatal(err)
			}
			out, err = exec.Command(bin, "test", "rules", test).CombinedOutput()
			if err != nil {
				t.Fatalf("promtool test rules %s: %v\n%s", src, err, out)
			}
			t.Logf("promtool test rules %s:\n%s", src, out)
		})
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
