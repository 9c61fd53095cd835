// Package adopt writes the kit's model into an existing repository: environments/lakeport.yaml,
// one env.yaml and one values file per environment and component, the ApplicationSet and the
// AppProjects, all naming the repository's own URL. It is what `lakeport init` runs; it never
// prints and never overwrites a file unless asked to.
package adopt

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
	"helm.sh/helm/v3/pkg/chartutil"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/lakeport/lakeport/cli/pkg/atomicfile"
)

// applicationSetTemplate is the bundled kit's environments/argocd/applicationset.yaml with its
// repository URL replaced by @REPO_URL@ (a test keeps the two the same).
//
//go:embed templates/applicationset.yaml
var applicationSetTemplate string

// RepoURLPlaceholder stands for the repository URL in the embedded templates.
const RepoURLPlaceholder = "@REPO_URL@"

// Environment is one environment to create.
type Environment struct {
	// Name is the environment's name (a DNS label): the folder environments/<name>.
	Name string
	// Server is the cluster's API server URL as Argo CD knows it
	// (https://kubernetes.default.svc for the cluster Argo CD runs in).
	Server string
	// Namespace is the namespace the environment's Applications deploy to.
	Namespace string
}

// Chart is one component and the local chart folder that renders it.
type Chart struct {
	// Component names the component (a DNS label); Applications are <env>-<component>.
	Component string
	// Path is the chart folder relative to the repository root (a folder with Chart.yaml).
	Path string
}

// Options say what to adopt.
type Options struct {
	// Root is the repository's root folder (a git work tree).
	Root string
	// RepoURL is the URL Argo CD clones the repository from.
	RepoURL string
	// Environments in promotion order.
	Environments []Environment
	// Charts, one per component; every environment gets every component.
	Charts []Chart
	// KubeVersion is the clusters' Kubernetes version ("" = Helm's default,
	// chartutil.DefaultCapabilities: set your cluster's).
	KubeVersion string
	// ProjectPrefix prefixes each environment's AppProject name ("" = "lakeport").
	ProjectPrefix string
	// Force overwrites the kit files that exist (values files are never overwritten).
	Force bool
}

// File is one file of the plan.
type File struct {
	// Path is relative to the repository root, with slashes.
	Path string
	Data []byte
	// Exists: the file is already there; Keep: it is left as it is (an existing values file).
	Exists, Keep bool
}

// ExistsError refuses to overwrite files without Force.
type ExistsError struct{ Paths []string }

func (e *ExistsError) Error() string {
	return fmt.Sprintf("%s already exist%s: pass {Force} to overwrite them (values files are never overwritten)",
		strings.Join(e.Paths, ", "), map[bool]string{true: "s", false: ""}[len(e.Paths) == 1])
}

// UnsupportedChartError names a chart source lakeport cannot render.
type UnsupportedChartError struct {
	Component, Source, Why string
}

func (e *UnsupportedChartError) Error() string {
	return fmt.Sprintf("chart %q for component %q: %s", e.Source, e.Component, e.Why)
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// Validate checks the options against the repository (chart folders must exist).
func (o *Options) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if err := validRepoURL(o.RepoURL); err != nil {
		bad("{RepoURL}: %v", err)
	}
	if len(o.Environments) == 0 {
		bad("{Environments}: name at least one environment, e.g. dev=risk-dev@https://kubernetes.default.svc")
	}
	seen := map[string]bool{}
	for _, e := range o.Environments {
		switch {
		case !dnsLabel.MatchString(e.Name):
			bad("environment %q: not a DNS label (lowercase letters, digits and '-')", e.Name)
		case seen[e.Name]:
			bad("environment %q: given twice", e.Name)
		}
		seen[e.Name] = true
		if msgs := validation.IsDNS1123Label(e.Namespace); len(msgs) > 0 {
			bad("environment %q: namespace %q: %s", e.Name, e.Namespace, strings.Join(msgs, "; "))
		}
		if u, err := url.Parse(e.Server); err != nil || u.Scheme != "https" || u.Host == "" {
			bad("environment %q: server %q is not an https:// API server URL (https://kubernetes.default.svc is the cluster Argo CD runs in)", e.Name, e.Server)
		}
	}
	if len(o.Charts) == 0 {
		bad("{Charts}: name at least one chart, e.g. trino=charts/trino")
	}
	comps := map[string]bool{}
	for _, c := range o.Charts {
		switch {
		case !dnsLabel.MatchString(c.Component):
			bad("component %q: not a DNS label (lowercase letters, digits and '-')", c.Component)
		case comps[c.Component]:
			bad("component %q: given twice", c.Component)
		}
		comps[c.Component] = true
		if err := o.checkChart(c); err != nil {
			errs = append(errs, err)
		}
	}
	if o.KubeVersion != "" {
		if _, err := chartutil.ParseKubeVersion(o.KubeVersion); err != nil {
			bad("{KubeVersion}: %q is not a Kubernetes version: %v", o.KubeVersion, err)
		}
	}
	if o.ProjectPrefix != "" && !dnsLabel.MatchString(o.ProjectPrefix) {
		bad("{ProjectPrefix}: %q is not a DNS label", o.ProjectPrefix)
	}
	return errors.Join(errs...)
}

func validRepoURL(s string) error {
	switch {
	case s == "":
		return errors.New("give the URL Argo CD clones this repository from, e.g. https://git.example.com/platform/lakehouse.git")
	case strings.ContainsAny(s, " \t\n\"'"):
		return fmt.Errorf("%q contains spaces or quotes", s)
	case regexp.MustCompile(`^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:.+`).MatchString(s): // scp-like git@host:org/repo.git
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http" && u.Scheme != "ssh" && u.Scheme != "git") {
		return fmt.Errorf("%q is not a git URL Argo CD can clone (https://, ssh://, git@host:path)", s)
	}
	return nil
}

// checkChart refuses what lakeport cannot render: only Helm charts in the repository.
func (o *Options) checkChart(c Chart) error {
	p := c.Path
	switch {
	case strings.HasPrefix(p, "oci://"):
		return &UnsupportedChartError{c.Component, p, "charts from OCI registries are not supported: vendor the chart into the repository (helm pull " + p + " --untar --untardir charts) and give its folder"}
	case strings.Contains(p, "://"):
		return &UnsupportedChartError{c.Component, p, "charts from Helm repositories are not supported: vendor the chart into the repository (helm pull REPO/CHART --untar --untardir charts) and give its folder"}
	case p == "" || path.IsAbs(p) || filepath.IsAbs(p) || strings.HasPrefix(path.Clean(filepath.ToSlash(p)), ".."):
		return &UnsupportedChartError{c.Component, p, "give the chart folder relative to the repository root, e.g. charts/trino"}
	}
	dir := filepath.Join(o.Root, filepath.FromSlash(p))
	if _, err := os.Stat(filepath.Join(dir, "Chart.yaml")); err == nil {
		return nil
	}
	for _, k := range []string{"kustomization.yaml", "kustomization.yml", "Kustomization"} {
		if _, err := os.Stat(filepath.Join(dir, k)); err == nil {
			return &UnsupportedChartError{c.Component, p, "is a Kustomize folder: lakeport renders Helm charts only (Kustomize and config management plugins are not supported)"}
		}
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return &UnsupportedChartError{c.Component, p, "no such folder in the repository"}
	}
	return &UnsupportedChartError{c.Component, p, "has no Chart.yaml: not a Helm chart"}
}

// Plan validates the options and returns every file to write, in path order, marking those
// that exist. It writes nothing.
func Plan(o Options) ([]File, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.ProjectPrefix == "" {
		o.ProjectPrefix = "lakeport"
	}
	if o.KubeVersion == "" {
		o.KubeVersion = chartutil.DefaultCapabilities.KubeVersion.Version
	}
	files := map[string][]byte{
		"environments/lakeport.yaml":              o.settings(),
		"environments/argocd/applicationset.yaml": []byte(strings.ReplaceAll(applicationSetTemplate, RepoURLPlaceholder, o.RepoURL)),
		"environments/argocd/projects.yaml":       Projects(o.RepoURL, o.ProjectPrefix, o.Environments),
	}
	values := map[string]bool{}
	for _, e := range o.Environments {
		files["environments/"+e.Name+"/env.yaml"] = o.envFile(e)
		for _, c := range o.Charts {
			f := "environments/" + e.Name + "/" + c.Component + ".yaml"
			files[f] = []byte(fmt.Sprintf("# Helm values of %s in %s (over %s/values.yaml). Promoted keys: environments/lakeport.yaml imagePins.\n# Add keys below this line, e.g. replicas: 2\n", c.Component, e.Name, path.Clean(c.Path)))
			values[f] = true
		}
	}
	out := make([]File, 0, len(files))
	for p, data := range files {
		f := File{Path: p, Data: data}
		if _, err := os.Lstat(filepath.Join(o.Root, filepath.FromSlash(p))); err == nil {
			f.Exists = true
			f.Keep = values[p]
		}
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// Write writes the plan's files as one set (all or nothing), refusing existing kit files
// unless force. Existing values files are kept.
func Write(root string, plan []File, force bool) error {
	var exist []string
	files := map[string][]byte{}
	for _, f := range plan {
		if f.Keep {
			continue
		}
		if f.Exists && !force {
			exist = append(exist, f.Path)
		}
		files[filepath.FromSlash(f.Path)] = f.Data
	}
	if len(exist) > 0 {
		return &ExistsError{Paths: exist}
	}
	for p := range files {
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755); err != nil {
			return fmt.Errorf("create %s: %w", filepath.Dir(p), err)
		}
	}
	return atomicfile.WriteAll(root, files, nil)
}

func (o *Options) settings() []byte {
	var b bytes.Buffer
	b.WriteString(`# Lakeport kit settings (written by lakeport init). The lakeport CLI reads this file; Argo CD does not.
# The Applications are whatever argocd/applicationset.yaml generates from environments/*/env.yaml.
# Reference: docs/reference/lakeport-yaml.md
apiVersion: lakeport.dev/v1alpha1
kind: Kit
applicationSet: argocd/applicationset.yaml
projects: argocd/projects.yaml

# A release moves through the environments in this order, one stage at a time.
promotion: [`)
	for i, e := range o.Environments {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(e.Name)
	}
	b.WriteString("]\n\n# The values keys `lakeport promote` copies with the chart revision, per component (found in\n# each chart's values.yaml: every key path ending in image.tag or image.digest).\nimagePins:")
	pins := 0
	for _, c := range o.Charts {
		keys := imageKeys(filepath.Join(o.Root, filepath.FromSlash(c.Path), "values.yaml"))
		if len(keys) == 0 {
			continue
		}
		pins++
		fmt.Fprintf(&b, "\n  %s: [%s]", c.Component, strings.Join(keys, ", "))
	}
	if pins == 0 {
		b.WriteString(" {}")
	}
	b.WriteString("\n")
	return b.Bytes()
}

// imageKeys lists the dotted key paths of a values file that end in image.tag or image.digest.
func imageKeys(file string) []string {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	var v map[string]any
	if yaml.Unmarshal(raw, &v) != nil {
		return nil
	}
	var keys []string
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, x := range m {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			if sub, ok := x.(map[string]any); ok {
				walk(p, sub)
				continue
			}
			if p == "image.tag" || p == "image.digest" || strings.HasSuffix(p, ".image.tag") || strings.HasSuffix(p, ".image.digest") {
				keys = append(keys, p)
			}
		}
	}
	walk("", v)
	sort.Strings(keys)
	return keys
}

func (o *Options) envFile(e Environment) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `# The %s environment (written by lakeport init). Read by Argo CD (the ApplicationSet's git
# files generator) and by the lakeport CLI. Reference: docs/reference/env-yaml.md
environment: %s
# The Argo CD AppProject that fences this environment (argocd/projects.yaml).
project: %s-%s
destination:
  server: %s
  namespace: %s
# What Helm renders for: set the cluster's Kubernetes version and the extra API versions it serves.
kubeVersion: %q
apiVersions: []
# Automated sync that reverts drift but never prunes (set prune: true where deletions may be automatic).
sync:
  automated: true
  prune: false
  selfHeal: true
# One Application per component. revision is the chart's release pin: HEAD follows the branch;
# lakeport promote moves it to a commit SHA.
components:
`, e.Name, e.Name, o.ProjectPrefix, e.Name, e.Server, e.Namespace, o.KubeVersion)
	for _, c := range o.Charts {
		fmt.Fprintf(&b, "  - component: %s\n    chart: %s\n    revision: HEAD\n", c.Component, path.Clean(filepath.ToSlash(c.Path)))
	}
	return b.Bytes()
}

// Projects renders the AppProjects file: one AppProject per environment that may deploy only
// from the repository (both spellings of its URL the ApplicationSet uses), only to the
// environment's server and namespace, and only namespaced kinds.
func Projects(repoURL, prefix string, envs []Environment) []byte {
	var b bytes.Buffer
	b.WriteString(`# One AppProject per environment: each may deploy only from this repository, only to its own
# cluster and namespace, and only namespaced kinds (the platform team owns a namespace on a
# shared cluster, not the cluster).
`)
	for i, e := range envs {
		if i > 0 {
			b.WriteString("---\n")
		}
		fmt.Fprintf(&b, `apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata:
  name: %s-%s
  namespace: argocd
spec:
  description: Lakeport %s environment
  sourceRepos:
    - %s
    - %s/   # the same repository, spelled for the $values source
  destinations:
    - server: %s
      namespace: %s
  clusterResourceWhitelist: []
  namespaceResourceBlacklist:
    - group: ""
      kind: ResourceQuota
    - group: ""
      kind: LimitRange
`, prefix, e.Name, e.Name, repoURL, repoURL, e.Server, e.Namespace)
	}
	return b.Bytes()
}

// DiscoverCharts finds the Helm charts of the repository: every folder with a Chart.yaml at
// most two levels down (charts/trino, deploy/api), named after the folder, sorted.
func DiscoverCharts(root string) ([]Chart, error) {
	var out []Chart
	for _, pattern := range []string{"*/Chart.yaml", "*/*/Chart.yaml"} {
		m, err := filepath.Glob(filepath.Join(root, pattern))
		if err != nil {
			return nil, err
		}
		for _, f := range m {
			rel, err := filepath.Rel(root, filepath.Dir(f))
			if err != nil || strings.HasPrefix(rel, ".") || strings.Contains(filepath.ToSlash(rel), "/templates") {
				continue
			}
			out = append(out, Chart{Component: filepath.Base(rel), Path: filepath.ToSlash(rel)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// ParseEnvironment reads NAME=NAMESPACE@SERVER (the --env flag's form).
func ParseEnvironment(s string) (Environment, error) {
	name, rest, ok := strings.Cut(s, "=")
	ns, server, ok2 := strings.Cut(rest, "@")
	if !ok || !ok2 || name == "" || ns == "" || server == "" {
		return Environment{}, fmt.Errorf("%q: want NAME=NAMESPACE@SERVER, e.g. dev=risk-dev@https://kubernetes.default.svc", s)
	}
	return Environment{Name: name, Namespace: ns, Server: server}, nil
}

// ParseChart reads COMPONENT=PATH (the --chart flag's form).
func ParseChart(s string) (Chart, error) {
	comp, p, ok := strings.Cut(s, "=")
	if !ok || comp == "" || p == "" {
		return Chart{}, fmt.Errorf("%q: want COMPONENT=PATH, e.g. trino=charts/trino", s)
	}
	return Chart{Component: comp, Path: p}, nil
}
