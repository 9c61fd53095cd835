// Package fleet builds a synthetic fleet of environments in a temporary git repository, the way a
// platform team grows the kit: the bundled kit is cloned (with its history, so that pinned chart
// revisions resolve) and N/4 environments are added, each copied from the staging or the prod
// shape with four components, its own namespace and AppProject, at least three values of its own,
// and chart pins spread over several release commits. The scale benchmark (make bench-scale) and
// the scale tests of the render, appset and action packages run on it.
package fleet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/lakeport/lakeport/cli/pkg/kit"
)

// ComponentsPerEnv is the number of Applications each generated environment has.
const ComponentsPerEnv = 4

// Releases is the number of release commits the generated environments' chart pins are spread
// over (each changes every chart's tree, so that the fleet renders several trees per chart).
const Releases = 3

// Options say what to build.
type Options struct {
	// Src is the kit repository to clone (its committed HEAD).
	Src string
	// Dir is where the fleet repository is created (it must not exist or be empty).
	Dir string
	// Apps is the number of Applications to add (rounded up to a multiple of ComponentsPerEnv).
	Apps int
}

// Fleet is a built fleet repository.
type Fleet struct {
	Dir string
	// Envs are the generated environments, in promotion order.
	Envs []string
	// Pins are the chart revisions the generated environments pin, oldest first; Next is a
	// release commit no environment pins yet (a pull request moves pins to it).
	Pins []string
	Next string
}

// shape is an environment of the bundled kit that generated environments copy.
type shape struct {
	env        string
	components []string
}

var shapes = []shape{
	{"staging", []string{"minio", "trino", "spark", "distribution"}},
	{"prod", []string{"trino", "spark", "distribution", "risk-api"}},
}

// edit is a per-environment change to a component's values file: the regular expression must
// match in the copied file (the generator fails loudly when the kit's values change shape), and
// its first group is kept before the new value.
type edit struct {
	component string
	re        *regexp.Regexp
	value     func(i int, env string) string
}

var edits = []edit{
	{"trino", regexp.MustCompile(`(?m)^(  environment: )\S+$`), func(_ int, env string) string { return strings.ReplaceAll("risk_"+env, "-", "_") }},
	{"trino", regexp.MustCompile(`(?m)^(    maxReplicas: )\d+$`), func(i int, _ string) string { return strconv.Itoa(4 + i%5) }},
	{"spark", regexp.MustCompile(`(?m)^(      size: )\d+Gi$`), func(i int, _ string) string { return strconv.Itoa(50+i%20) + "Gi" }},
	{"distribution", regexp.MustCompile(`(?m)^(    timeout: )\S+$`), func(i int, _ string) string { return strconv.Itoa(30+i%30) + "m" }},
	{"minio", regexp.MustCompile(`(?m)^(  size: )\d+Gi$`), func(i int, _ string) string { return strconv.Itoa(200+i%100) + "Gi" }},
	{"risk-api", regexp.MustCompile(`(?m)^(replicas: )\d+$`), func(i int, _ string) string { return strconv.Itoa(2 + i%3) }},
}

// EnvName is the name of the i-th generated environment (0-based).
func EnvName(i int) string { return fmt.Sprintf("fleet-%04d", i+1) }

// Build clones the kit and adds the fleet, in commits: the release commits first, then one commit
// with every environment.
func Build(ctx context.Context, o Options) (*Fleet, error) {
	if o.Apps <= 0 {
		return nil, errors.New("fleet: Apps must be positive")
	}
	src, err := filepath.Abs(o.Src)
	if err != nil {
		return nil, err
	}
	f := &Fleet{Dir: o.Dir}
	if err := Git(ctx, "", "clone", "--quiet", "--no-hardlinks", src, o.Dir); err != nil {
		return nil, err
	}
	// A fleet commit adds thousands of loose objects, enough for git commit to start `git gc
	// --auto` in the background, which repacks and deletes the pack files a reader opened a
	// moment later still looks for: a pinned chart then reads as missing, and timings include a
	// repack. The fleet's repository never collects by itself.
	if err := Git(ctx, o.Dir, "config", "gc.auto", "0"); err != nil {
		return nil, err
	}
	// The kit's staging pin is the oldest release; then Releases-1 new ones and one more (Next).
	k, err := loadEnv(filepath.Join(o.Dir, "environments", "staging", "env.yaml"))
	if err != nil {
		return nil, err
	}
	f.Pins = append(f.Pins, k.Components[0].Revision)
	for r := 1; r <= Releases; r++ {
		sha, err := f.release(ctx, r)
		if err != nil {
			return nil, err
		}
		if r < Releases {
			f.Pins = append(f.Pins, sha)
		} else {
			f.Next = sha
		}
	}
	n := (o.Apps + ComponentsPerEnv - 1) / ComponentsPerEnv
	var projects strings.Builder
	for i := 0; i < n; i++ {
		name := EnvName(i)
		f.Envs = append(f.Envs, name)
		if err := f.writeEnv(i, name, shapes[i%len(shapes)], &projects); err != nil {
			return nil, err
		}
	}
	if err := appendFile(filepath.Join(o.Dir, "environments", "argocd", "projects.yaml"), projects.String()); err != nil {
		return nil, err
	}
	settings := filepath.Join(o.Dir, "environments", "lakeport.yaml")
	if err := replaceOnce(settings, regexp.MustCompile(`(?m)^promotion: \[(.*)\]$`), func(m []string) string {
		return "promotion: [" + m[1] + ", " + strings.Join(f.Envs, ", ") + "]"
	}); err != nil {
		return nil, err
	}
	if err := Commit(ctx, o.Dir, fmt.Sprintf("fleet: %d environments × %d components", n, ComponentsPerEnv)); err != nil {
		return nil, err
	}
	return f, nil
}

// release commits a change to every chart's tree that renders nothing different (a template
// comment), as a chart release that only touches docs would, and returns the commit.
func (f *Fleet) release(ctx context.Context, r int) (string, error) {
	helpers, err := filepath.Glob(filepath.Join(f.Dir, "charts", "*", "templates", "_helpers.tpl"))
	if err != nil || len(helpers) == 0 {
		return "", fmt.Errorf("fleet: no charts/*/templates/_helpers.tpl under %s", f.Dir)
	}
	for _, h := range helpers {
		if err := appendFile(h, fmt.Sprintf("{{- /* fleet release %d */ -}}\n", r)); err != nil {
			return "", err
		}
	}
	if err := Commit(ctx, f.Dir, fmt.Sprintf("fleet: chart release %d", r)); err != nil {
		return "", err
	}
	return RevParse(ctx, f.Dir, "HEAD")
}

func (f *Fleet) writeEnv(i int, name string, sh shape, projects *strings.Builder) error {
	srcDir := filepath.Join(f.Dir, "environments", sh.env)
	src, err := loadEnv(filepath.Join(srcDir, "env.yaml"))
	if err != nil {
		return err
	}
	ns := "risk-" + name
	dir := filepath.Join(f.Dir, "environments", name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	env := envFile{
		Environment: name,
		Project:     "lakeport-" + name,
		Destination: kit.Destination{Server: src.Destination.Server, Namespace: ns},
		KubeVersion: src.KubeVersion,
		APIVersions: src.APIVersions,
		Sync:        src.Sync,
		External:    src.External,
	}
	for c, comp := range sh.components {
		sc := src.Component(comp)
		if sc == nil {
			return fmt.Errorf("fleet: environments/%s/env.yaml has no component %s", sh.env, comp)
		}
		env.Components = append(env.Components, kit.Component{Component: comp, Chart: sc.Chart, Revision: f.Pins[(i+c)%len(f.Pins)]})
		raw, err := os.ReadFile(filepath.Join(srcDir, comp+".yaml"))
		if err != nil {
			return err
		}
		text := strings.ReplaceAll(string(raw), "risk-"+sh.env, ns)
		for _, e := range edits {
			if e.component != comp {
				continue
			}
			if !e.re.MatchString(text) {
				return fmt.Errorf("fleet: environments/%s/%s.yaml: no match for %s (the kit's values changed shape: update the fleet's edits)", sh.env, comp, e.re)
			}
			v := e.value(i, name)
			text = e.re.ReplaceAllString(text, "${1}"+v)
		}
		if err := os.WriteFile(filepath.Join(dir, comp+".yaml"), []byte(text), 0o644); err != nil {
			return err
		}
	}
	b, err := yaml.Marshal(&env)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "env.yaml"), append([]byte("# generated by the fleet generator (cli/internal/benchmarks/scale/fleet)\n"), b...), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(projects, `---
apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata:
  name: lakeport-%[1]s
  namespace: argocd
spec:
  description: Lakeport fleet environment %[1]s
  sourceRepos:
    - https://github.com/lakeport/lakeport.git
    - https://github.com/lakeport/lakeport.git/
  destinations:
    - server: %[2]s
      namespace: %[3]s
  clusterResourceWhitelist: []
  namespaceResourceBlacklist:
    - group: ""
      kind: ResourceQuota
    - group: ""
      kind: LimitRange
`, name, src.Destination.Server, ns)
	return nil
}

// envFile is the env.yaml schema as the generator writes it (kit.Environment without its
// unexported node and deprecated fields).
type envFile struct {
	Environment string           `yaml:"environment"`
	Project     string           `yaml:"project"`
	Destination kit.Destination  `yaml:"destination"`
	KubeVersion string           `yaml:"kubeVersion"`
	APIVersions []string         `yaml:"apiVersions"`
	Sync        kit.Sync         `yaml:"sync"`
	Components  []kit.Component  `yaml:"components"`
	External    externalSections `yaml:"external"`
}

type externalSections = kit.External

func loadEnv(file string) (*kit.Environment, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var e kit.Environment
	if err := yaml.Unmarshal(raw, &e); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return &e, nil
}

// PRValuesFile changes one scalar of one environment's values file (trino's maxReplicas of the
// first generated environment).
func (f *Fleet) PRValuesFile() error {
	file := filepath.Join(f.Dir, "environments", f.Envs[0], "trino.yaml")
	return replaceOnce(file, regexp.MustCompile(`(?m)^(    maxReplicas: )(\d+)$`), func(m []string) string {
		n, _ := strconv.Atoi(m[2])
		return m[1] + strconv.Itoa(n+10)
	})
}

// PRMovePin moves one component's chart pin to the Next release in every generated environment.
func (f *Fleet) PRMovePin(component string) error {
	re := regexp.MustCompile(`(?m)^(    - component: ` + regexp.QuoteMeta(component) + `\n      chart: \S+\n      revision: )\S+$`)
	for _, env := range f.Envs {
		file := filepath.Join(f.Dir, "environments", env, "env.yaml")
		if err := replaceOnce(file, re, func(m []string) string { return m[1] + f.Next }); err != nil {
			return err
		}
	}
	return nil
}

// PRApplicationSet changes the ApplicationSet's template: a label on every generated
// Application (every Application changes, no manifest does).
func (f *Fleet) PRApplicationSet() error {
	file := filepath.Join(f.Dir, "environments", "argocd", "applicationset.yaml")
	return replaceOnce(file, regexp.MustCompile(`(?m)^(        lakeport.dev/component: "\{\{ \.component \}\}"\n)`), func(m []string) string {
		return m[1] + `        lakeport.dev/fleet: "{{ .project }}"` + "\n"
	})
}

// replaceOnce rewrites the first match of re in file (an error when there is none).
func replaceOnce(file string, re *regexp.Regexp, repl func(m []string) string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	loc := re.FindSubmatchIndex(b)
	if loc == nil {
		return fmt.Errorf("fleet: %s: no match for %s", file, re)
	}
	m := make([]string, len(loc)/2)
	for i := range m {
		if loc[2*i] >= 0 {
			m[i] = string(b[loc[2*i]:loc[2*i+1]])
		}
	}
	out := string(b[:loc[0]]) + repl(m) + string(b[loc[1]:])
	return os.WriteFile(file, []byte(out), 0o644)
}

func appendFile(file, text string) error {
	fh, err := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := fh.WriteString(text); err != nil {
		fh.Close()
		return err
	}
	return fh.Close()
}

// Git runs git in dir with a fixed identity and no system or global configuration.
func Git(ctx context.Context, dir string, args ...string) error {
	_, err := gitOut(ctx, dir, args...)
	return err
}

func gitOut(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=fleet", "GIT_AUTHOR_EMAIL=fleet@lakeport.dev",
		"GIT_COMMITTER_NAME=fleet", "GIT_COMMITTER_EMAIL=fleet@lakeport.dev",
		"GIT_AUTHOR_DATE=2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE=2026-01-01T00:00:00Z")
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("git %s: %w\n%s", strings.Join(args, " "), err, ee.Stderr)
		}
		return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	return string(out), nil
}

// Commit commits every change under environments/ and charts/.
func Commit(ctx context.Context, dir, msg string) error {
	if err := Git(ctx, dir, "add", "-A", "environments", "charts"); err != nil {
		return err
	}
	return Git(ctx, dir, "commit", "--quiet", "--no-verify", "-m", msg)
}

// RevParse resolves a revision to its full SHA.
func RevParse(ctx context.Context, dir, rev string) (string, error) {
	out, err := gitOut(ctx, dir, "rev-parse", rev)
	return strings.TrimSpace(out), err
}
