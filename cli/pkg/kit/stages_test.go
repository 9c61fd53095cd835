package kit_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/lakeport/lakeport/cli/internal/testkit"
	"github.com/lakeport/lakeport/cli/pkg/kit"
	"github.com/lakeport/lakeport/cli/pkg/source"
)

func loadKit(t *testing.T, f *testkit.Fixture) (*kit.Kit, error) {
	t.Helper()
	repo, err := source.Open(f.Dir)
	if err != nil {
		t.Fatal(err)
	}
	return kit.Load(repo.Worktree())
}

// TestStages: the three spellings of the promotion graph read as the same stages, and a linear
// list is one environment per stage, as before.
func TestStages(t *testing.T) {
	for _, tc := range []struct{ name, promotion, want string }{
		{"nested list", "[dev, staging, [prod-eu, prod-us]]", "dev[dev] staging[staging] prod[prod-eu prod-us]"},
		{"named stage", "\n  - dev\n  - staging\n  - stage: production\n    environments: [prod-eu, prod-us]", "dev[dev] staging[staging] production[prod-eu prod-us]"},
		{"stage of one, in brackets", "[dev, [staging], [prod-eu, prod-us]]", "dev[dev] staging[staging] prod[prod-eu prod-us]"},
		{"no common prefix", "[dev, staging, [prod-us, prod-eu]]", "dev[dev] staging[staging] prod[prod-us prod-eu]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := testkit.NewFixture(t)
			f.FanOut(tc.promotion)
			k, err := loadKit(t, f)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range k.Stages {
				got = append(got, fmt.Sprintf("%s[%s]", s.Name, strings.Join(s.Environments, " ")))
			}
			if strings.Join(got, " ") != tc.want {
				t.Errorf("stages %s, want %s", strings.Join(got, " "), tc.want)
			}
			if strings.Join(k.Promotion, ",") != strings.Join(k.EnvironmentNames(), ",") || len(k.Promotion) != 4 {
				t.Errorf("flattened order %v, environments %v", k.Promotion, k.EnvironmentNames())
			}
			if k.StageIndex("prod-us") != 2 || k.StageIndex("dev") != 0 || k.StageIndex("qa") != -1 {
				t.Errorf("stage index prod-us %d dev %d", k.StageIndex("prod-us"), k.StageIndex("dev"))
			}
		})
	}
	// The linear fixture is unchanged: one environment per stage.
	k, err := loadKit(t, testkit.NewFixture(t))
	if err != nil {
		t.Fatal(err)
	}
	if k.Order() != "dev → prod" || len(k.Stages) != 2 {
		t.Errorf("linear order %q", k.Order())
	}
}

// TestStageErrors: every mistake in the graph is reported at once, naming the file, line and key.
func TestStageErrors(t *testing.T) {
	for _, tc := range []struct {
		name, promotion string
		wants           []string
	}{
		{"environment in two stages", "[dev, [staging, prod-eu], [prod-eu, prod-us]]", []string{
			`environments/lakeport.yaml:6: promotion[2][0]: environment "prod-eu" is listed twice`,
		}},
		{"stage with no environment", "[dev, staging, [], [prod-eu, prod-us]]", []string{
			`environments/lakeport.yaml:6: promotion[2]: stage 3 has no environment`,
		}},
		{"named stage with no environment", "\n  - dev\n  - staging\n  - stage: prod\n    environments: []\n  - [prod-eu, prod-us]", []string{
			`environments/lakeport.yaml:10: promotion[2].environments: stage "prod" has no environment`,
		}},
		{"unknown name", "\n  - dev\n  - staging\n  - stage: prod\n    environments: [prod-eu, prod-asia, prod-us]", []string{
			`environments/lakeport.yaml:10: promotion[2].environments[1]: environment "prod-asia" has no environments/prod-asia/env.yaml`,
		}},
		{"unknown key in a named stage", "\n  - dev\n  - staging\n  - stage: prod\n    envs: [prod-eu, prod-us]", []string{
			`environments/lakeport.yaml:10: promotion[2].envs: unknown key`,
			`environments/lakeport.yaml:9: promotion[2].environments: stage "prod" has no environment`,
		}},
		{"missing environment", "[dev, [prod-eu, prod-us]]", []string{
			`environment "staging" (environments/staging/env.yaml) is missing from the promotion order`,
		}},
		{"stage named like an environment", "\n  - dev\n  - stage: staging\n    environments: [prod-eu, prod-us]\n  - staging", []string{
			`environments/lakeport.yaml:8: promotion: stage name "staging" is also an environment (promotion[2])`,
			`environments/lakeport.yaml:10: promotion[2]: stage name "staging" is already used by promotion[1]`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := testkit.NewFixture(t)
			f.FanOut(tc.promotion)
			_, err := loadKit(t, f)
			if err == nil {
				t.Fatal("no error")
			}
			for _, want := range tc.wants {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not contain %q:\n%v", want, err)
				}
			}
		})
	}
}

// TestChangeControlErrors: env.yaml changeControl is validated with Argo CD's own window rules.
func TestChangeControlErrors(t *testing.T) {
	f := testkit.NewFixture(t)
	f.Replace("environments/prod/env.yaml", "components:", `changeControl:
  owners: ["@bank/risk-prod", "not an owner"]
  requireChangeId: true
  syncWindows:
    - kind: deny
      schedule: "0 22 * * 1-5"
      duration: 3h
      timeZone: Europe/London
    - kind: block
      schedule: "0 22 * * *"
      duration: 1h
    - kind: deny
      schedule: "every night"
      duration: 1h
    - kind: deny
      schedule: "0 1 * * *"
      duration: 1h
      timeZone: Mars/Olympus
components:`)
	_, err := loadKit(t, f)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`environments/prod/env.yaml:13: changeControl.owners[1]: "not an owner" is not a CODEOWNERS owner`,
		`environments/prod/env.yaml:20: changeControl.syncWindows[1]: kind 'block' mismatch: can only be allow or deny`,
		`environments/prod/env.yaml:23: changeControl.syncWindows[2]: cannot parse schedule 'every night'`,
		`environments/prod/env.yaml:29: changeControl.syncWindows[3].timeZone: "Mars/Olympus" is not an IANA time zone`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not contain %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "syncWindows[0]") {
		t.Errorf("the valid window was reported:\n%v", err)
	}
}
