// Package kit is the environments model: the kit settings (environments/lakeport.yaml), one
// env.yaml per environment, the ApplicationSet and the AppProjects. It loads them from a
// source.Snapshot and validates them, returning every problem at once with the file, line and key.
package kit

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	argov1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	"go.yaml.in/yaml/v3"
	"golang.org/x/sync/errgroup"
	"helm.sh/helm/v3/pkg/chartutil"
	"k8s.io/apimachinery/pkg/util/validation"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/lakeport/lakeport/cli/pkg/source"
)

// File is the kit settings file, relative to the repository root.
const File = "environments/lakeport.yaml"

// EnvFileGlob matches every environment's settings file.
const EnvFileGlob = "environments/*/env.yaml"

// Floating is the chart revision that follows the branch instead of pinning a commit.
const Floating = "HEAD"

// Kit is the whole environments model, as read from one snapshot.
type Kit struct {
	// Promotion is the order a release moves through the environments, flattened: the
	// environments of each stage in turn (stages.go).
	Promotion []string
	// Stages is the promotion graph: each stage holds one or more environments. A linear
	// promotion list is one environment per stage.
	Stages []Stage
	// CodeOwnersFile is the repository path of the generated CODEOWNERS file, and Owners the
	// owners of the kit-wide files (lakeport.yaml, the ApplicationSet and the AppProjects).
	CodeOwnersFile string
	Owners         []string
	// ImagePins maps a component to the keys of its values files that are release pins.
	ImagePins map[string][]string
	// ApplicationSetFile and ProjectsFile are repository paths.
	ApplicationSetFile string
	ProjectsFile       string
	ApplicationSet     *argov1.ApplicationSet
	Projects           []argov1.AppProject
	// Environments are sorted by their place in Promotion.
	Environments []*Environment
}

// Settings is the schema of environments/lakeport.yaml.
type Settings struct {
	// APIVersion is the settings' schema version: lakeport.dev/v1alpha1. Required.
	APIVersion string `yaml:"apiVersion"`
	// Kind is Kit. Required.
	Kind string `yaml:"kind"`
	// ApplicationSet is the file of the one ApplicationSet that generates the Applications,
	// relative to lakeport.yaml (e.g. argocd/applicationset.yaml). Required.
	ApplicationSet string `yaml:"applicationSet"`
	// Projects is the file of the AppProjects, one per environment, relative to lakeport.yaml
	// (e.g. argocd/projects.yaml). Required.
	Projects string `yaml:"projects"`
	// Promotion is the order a release moves through the environments: a list of stages, each
	// an environment name, a list of environment names that promote together
	// ([prod-eu, prod-us], a stage named after their common prefix), or
	// {stage: NAME, environments: [...]}. Every environment appears exactly once. Required.
	Promotion yaml.Node `yaml:"promotion"`
	// ImagePins maps a component to the keys of its values files that lakeport promote copies
	// with the chart revision (dotted paths such as image.tag, image.digest); nothing else is
	// promoted, and lakeport check reports a values file that sets an image key not listed here.
	ImagePins map[string][]string `yaml:"imagePins"`
	// CodeOwners is the CODEOWNERS file lakeport generate writes from the owners, relative to
	// the repository root. Default: .github/CODEOWNERS.
	CodeOwners string `yaml:"codeOwners"`
	// Owners own the kit-wide files (lakeport.yaml, the ApplicationSet, the AppProjects) in
	// CODEOWNERS: @user, @org/team or an e-mail address.
	Owners []string `yaml:"owners"`
}

// Environment is the schema of environments/<env>/env.yaml.
type Environment struct {
	// File is the repository path the environment was read from.
	File string `yaml:"-"`
	// Name is the environment's name, a DNS label equal to its folder (environments/<name>).
	// Required.
	Name string `yaml:"environment"`
	// Project is the Argo CD AppProject that fences the environment (defined in the AppProjects
	// file, allowing the destination below). Required.
	Project string `yaml:"project"`
	// Destination is the cluster and namespace the environment's Applications deploy to.
	// Required.
	Destination Destination `yaml:"destination"`
	// KubeVersion is the cluster's Kubernetes version, what Helm renders for
	// (.Capabilities.KubeVersion) and what lakeport check validates against. Required.
	KubeVersion string `yaml:"kubeVersion"`
	// APIVersions are the extra API versions the cluster serves, as Helm's --api-versions
	// (e.g. monitoring.coreos.com/v1): charts render what depends on them only when listed.
	APIVersions []string `yaml:"apiVersions"`
	// Sync is the environment's automated sync policy.
	Sync Sync `yaml:"sync"`
	// Components are the environment's components, one Application each (<env>-<component>).
	// Required.
	Components []Component `yaml:"components"`
	// External lists the objects the environment's workloads reference that the kit does not
	// render: the Secrets the bank provides, claims and classes of the cluster.
	External External `yaml:"external"`
	// ChangeControl is who owns the environment, whether a promotion needs a change id, and
	// when Argo CD may sync it (change.go).
	ChangeControl ChangeControl `yaml:"changeControl"`

	node *lazyNode
}

// lazyNode is an env.yaml's node tree, parsed on the first question about a line. Only errors
// ask, and a fleet's load parsed 750 trees nobody read: an eighth of `lakeport apps` on 3,000
// Applications (issue 14).
type lazyNode struct {
	once sync.Once
	raw  []byte
	node *yaml.Node
}

func (l *lazyNode) tree() *yaml.Node {
	if l == nil {
		return nil
	}
	l.once.Do(func() {
		var n yaml.Node
		if yaml.Unmarshal(l.raw, &n) == nil {
			l.node = &n
		}
	})
	return l.node
}

// External is the env.yaml `external:` section, one list of object names per kind. Namespaced
// kinds live in the environment's namespace (destination.namespace).
type External struct {
	// Secrets provided outside the kit (by the bank's secret store, an operator).
	Secrets []string `yaml:"secrets"`
	// ConfigMaps provided outside the kit.
	ConfigMaps []string `yaml:"configMaps"`
	// PersistentVolumeClaims provided outside the kit.
	PersistentVolumeClaims []string `yaml:"persistentVolumeClaims"`
	// ServiceAccounts provided outside the kit.
	ServiceAccounts []string `yaml:"serviceAccounts"`
	// PriorityClasses of the cluster the workloads use.
	PriorityClasses []string `yaml:"priorityClasses"`
	// Services provided outside the kit.
	Services []string `yaml:"services"`
}

// ExternalList is one kind's list of external objects.
type ExternalList struct {
	// Kind is the Kubernetes kind; Key the env.yaml key under external.
	Kind, Key string
	Names     []string
}

// externalKinds are the kinds of External, in the order of its keys.
var externalKinds = [][2]string{
	{"Secret", "secrets"},
	{"ConfigMap", "configMaps"},
	{"PersistentVolumeClaim", "persistentVolumeClaims"},
	{"ServiceAccount", "serviceAccounts"},
	{"PriorityClass", "priorityClasses"},
	{"Service", "services"},
}

// Lists returns every kind's list, in a fixed order.
func (x *External) Lists() []ExternalList {
	names := [][]string{x.Secrets, x.ConfigMaps, x.PersistentVolumeClaims, x.ServiceAccounts, x.PriorityClasses, x.Services}
	out := make([]ExternalList, len(externalKinds))
	for i, k := range externalKinds {
		out[i] = ExternalList{Kind: k[0], Key: k[1], Names: names[i]}
	}
	return out
}

// ExternalKey is the env.yaml key under external for a kind ("" when the kind has none).
func ExternalKey(kind string) string {
	for _, k := range externalKinds {
		if k[0] == kind {
			return k[1]
		}
	}
	return ""
}

// Destination is where an environment's Applications deploy.
type Destination struct {
	// Server is the cluster's API server URL as Argo CD knows it
	// (https://kubernetes.default.svc: the cluster Argo CD runs in). Server or name is required.
	Server string `yaml:"server"`
	// Name is the cluster's name in Argo CD, instead of server.
	Name string `yaml:"name"`
	// Namespace is the namespace every Application of the environment deploys to. Required.
	Namespace string `yaml:"namespace"`
}

// Sync is the environment's automated sync policy.
type Sync struct {
	// Automated makes Argo CD sync every change of the repository by itself. Default: false.
	Automated bool `yaml:"automated"`
	// Prune lets an automated sync delete the objects the kit no longer renders (needs
	// automated). Default: false.
	Prune bool `yaml:"prune"`
	// SelfHeal lets an automated sync revert changes made in the cluster (needs automated).
	// Default: false.
	SelfHeal bool `yaml:"selfHeal"`
}

// Component is one component of an environment, with its chart release pin.
type Component struct {
	// Component names the component, a DNS label; its values are in
	// environments/<env>/<component>.yaml. Required.
	Component string `yaml:"component"`
	// Chart is the chart's folder, relative to the repository root (e.g. charts/trino); one
	// chart may serve several components. Required.
	Chart string `yaml:"chart"`
	// Revision is the chart's release pin: the git revision Argo CD reads the chart at, a commit
	// SHA (what lakeport promote writes) or HEAD to follow the branch. Required.
	Revision string `yaml:"revision"`
	// Wave is deprecated and ignored: Argo CD does not order the Applications an ApplicationSet
	// generates by their sync-wave annotation (waves order resources inside one sync), so the
	// ApplicationSet no longer sets it. It is still read, so that env.yaml files at older
	// revisions (a diff's base, a promotion's source) keep loading; when set it must be an integer.
	Wave string `yaml:"wave,omitempty"`
}

// ValuesFile is the repository path of the component's values file in this environment.
func (e *Environment) ValuesFile(component string) string {
	return path.Join(path.Dir(e.File), component+".yaml")
}

// Component returns the named component, or nil.
func (e *Environment) Component(name string) *Component {
	for i := range e.Components {
		if e.Components[i].Component == name {
			return &e.Components[i]
		}
	}
	return nil
}

// Line is the line of a key path in the environment file (0 when unknown).
func (e *Environment) Line(keys ...string) int { return LineOf(e.node.tree(), keys...) }

// Environment returns the named environment, or nil.
func (k *Kit) Environment(name string) *Environment {
	for _, e := range k.Environments {
		if e.Name == name {
			return e
		}
	}
	return nil
}

// EnvironmentNames lists the environments in promotion order.
func (k *Kit) EnvironmentNames() []string {
	out := make([]string, 0, len(k.Environments))
	for _, e := range k.Environments {
		out = append(out, e.Name)
	}
	return out
}

// FieldError is one problem in a kit file, located by file, line and key path.
type FieldError struct {
	File string
	Line int
	Key  string
	Msg  string
}

func (e *FieldError) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc += ":" + strconv.Itoa(e.Line)
	}
	if e.Key != "" {
		return fmt.Sprintf("%s: %s: %s", loc, e.Key, e.Msg)
	}
	return fmt.Sprintf("%s: %s", loc, e.Msg)
}

// Load reads and validates the whole model from a snapshot.
func Load(snap source.Snapshot) (*Kit, error) {
	raw, err := snap.ReadFile(File)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s not found: run lakeport inside a clone of the kit, or give the path of one", File)
		}
		return nil, fmt.Errorf("read %s: %w", File, err)
	}
	var set Settings
	root, err := decodeStrict(File, raw, &set)
	if err != nil {
		return nil, err
	}
	var errs []error
	fe := func(line int, key, format string, args ...any) {
		errs = append(errs, &FieldError{File: File, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	if set.APIVersion != "lakeport.dev/v1alpha1" || set.Kind != "Kit" {
		fe(LineOf(root, "apiVersion"), "apiVersion", "want apiVersion lakeport.dev/v1alpha1 and kind Kit, got %q %q", set.APIVersion, set.Kind)
	}
	k := &Kit{ImagePins: set.ImagePins, Owners: set.Owners, CodeOwnersFile: set.CodeOwners}
	if k.CodeOwnersFile == "" {
		k.CodeOwnersFile = DefaultCodeOwnersFile
	} else if path.IsAbs(k.CodeOwnersFile) || strings.HasPrefix(path.Clean(k.CodeOwnersFile), "..") {
		fe(LineOf(root, "codeOwners"), "codeOwners", "%q must be a path relative to the repository root, e.g. .github/CODEOWNERS", k.CodeOwnersFile)
	}
	for i, o := range set.Owners {
		if !ownerRE.MatchString(o) {
			fe(LineOf(root, "owners", strconv.Itoa(i)), fmt.Sprintf("owners[%d]", i), "%q is not a CODEOWNERS owner (@user, @org/team or an e-mail address)", o)
		}
	}
	if set.ApplicationSet == "" {
		fe(0, "applicationSet", "must name the ApplicationSet file")
	} else {
		k.ApplicationSetFile = path.Join(path.Dir(File), set.ApplicationSet)
		if k.ApplicationSet, err = loadApplicationSet(snap, k.ApplicationSetFile); err != nil {
			errs = append(errs, err)
		}
	}
	if set.Projects == "" {
		fe(0, "projects", "must name the AppProjects file")
	} else {
		k.ProjectsFile = path.Join(path.Dir(File), set.Projects)
		if k.Projects, err = loadProjects(snap, k.ProjectsFile); err != nil {
			errs = append(errs, err)
		}
	}

	// One listing of environments/ serves the env.yaml glob and the values files' existence
	// (a fleet has thousands: a read each was a tenth of loading it).
	listed, err := source.Files(snap, path.Dir(File))
	if err != nil {
		return nil, fmt.Errorf("list environments: %w", err)
	}
	files := source.Match(listed, EnvFileGlob)
	exists := make(map[string]bool, len(listed))
	for _, f := range listed {
		exists[f] = true
	}
	// Each env.yaml is parsed and validated on its own, so a fleet's load is spread over the
	// processors; results are gathered in file order, as before.
	envs := make([]*Environment, len(files))
	envErrs := make([]error, len(files))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, f := range files {
		g.Go(func() error {
			envs[i], envErrs[i] = loadEnvironment(snap, f, exists)
			return nil
		})
	}
	_ = g.Wait()
	byName := map[string]*Environment{}
	broken := map[string]bool{} // environments whose env.yaml has errors of its own
	for i, f := range files {
		if envErrs[i] != nil {
			errs = append(errs, envErrs[i])
			broken[path.Base(path.Dir(f))] = true
			continue
		}
		byName[envs[i].Name] = envs[i]
	}

	stages, serrs := parseStages(&set.Promotion)
	errs = append(errs, serrs...)
	seen := map[string]bool{}
	for _, st := range stages {
		var kept []string
		for _, m := range st.members {
			name := m.name
			switch {
			case seen[name]:
				fe(m.line, m.key, "environment %q is listed twice", name)
			case broken[name]:
				kept = append(kept, name)
			case byName[name] == nil:
				fe(m.line, m.key, "environment %q has no environments/%s/env.yaml", name, name)
			default:
				kept = append(kept, name)
				k.Environments = append(k.Environments, byName[name])
			}
			seen[name] = true
		}
		k.Stages = append(k.Stages, Stage{Name: st.name, Environments: kept, Line: st.line})
		k.Promotion = append(k.Promotion, kept...)
	}
	for _, name := range sortedKeys(byName) {
		if !seen[name] && len(stages) > 0 {
			fe(LineOf(root, "promotion"), "promotion", "environment %q (%s) is missing from the promotion order", name, byName[name].File)
		}
	}
	for _, comp := range sortedKeys(set.ImagePins) {
		found := len(broken) > 0
		for _, e := range byName {
			found = found || e.Component(comp) != nil
		}
		if !found {
			fe(LineOf(root, "imagePins", comp), "imagePins."+comp, "no environment has a component %q", comp)
		}
		for i, p := range set.ImagePins[comp] {
			if p == "" || strings.HasPrefix(p, ".") || strings.HasSuffix(p, ".") {
				fe(LineOf(root, "imagePins", comp, strconv.Itoa(i)), fmt.Sprintf("imagePins.%s[%d]", comp, i), "%q is not a dotted key path such as image.tag", p)
			}
		}
	}
	projects := map[string]*argov1.AppProject{}
	for i := range k.Projects {
		projects[k.Projects[i].Name] = &k.Projects[i]
	}
	for _, e := range byName {
		if len(k.Projects) == 0 {
			break
		}
		p := projects[e.Project]
		if p == nil {
			errs = append(errs, &FieldError{File: e.File, Line: e.Line("project"), Key: "project", Msg: fmt.Sprintf("AppProject %q is not defined in %s", e.Project, k.ProjectsFile)})
			continue
		}
		if !projectAllows(p, e.Destination) {
			errs = append(errs, &FieldError{File: e.File, Line: e.Line("destination"), Key: "destination", Msg: fmt.Sprintf("AppProject %q does not allow server %q namespace %q (%s)", e.Project, e.Destination.Server, e.Destination.Namespace, k.ProjectsFile)})
		}
	}
	// The repository URL is written in the ApplicationSet and in every AppProject: a URL changed
	// in one place and not the other is an Application Argo CD refuses ("application repo ... is
	// not permitted in project"), seen only after a sync. Argo CD's own IsSourcePermitted decides.
	checked := map[string]bool{}
	for _, e := range k.Environments {
		p := projects[e.Project]
		if p == nil || checked[p.Name] || k.ApplicationSet == nil {
			continue
		}
		checked[p.Name] = true
		for _, u := range SourceURLs(k.ApplicationSet) {
			if !p.IsSourcePermitted(argov1.ApplicationSource{RepoURL: u}) {
				errs = append(errs, &FieldError{File: k.ProjectsFile, Key: "AppProject " + p.Name + " spec.sourceRepos",
					Msg: fmt.Sprintf("does not permit %s, a source of the Applications %s generates: Argo CD would refuse them", u, k.ApplicationSetFile)})
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return k, nil
}

var (
	envNameRE    = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	apiVersionRE = regexp.MustCompile(`^([a-z0-9.-]+/)?v[0-9]+((alpha|beta)[0-9]+)?(/[A-Za-z0-9]+)?$`)
)

// loadEnvironment reads and validates one env.yaml; exists lists the snapshot's files below
// environments/ (nil: ask the snapshot).
func loadEnvironment(snap source.Snapshot, file string, exists map[string]bool) (*Environment, error) {
	raw, err := snap.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	env := &Environment{}
	if err := decodeKnown(file, raw, env); err != nil {
		return nil, err
	}
	env.File, env.node = file, &lazyNode{raw: raw}
	node := env.node.tree
	dir := path.Base(path.Dir(file))
	var errs []error
	fe := func(key, format string, args ...any) {
		keys := strings.FieldsFunc(key, func(r rune) bool { return r == '.' || r == '[' || r == ']' })
		errs = append(errs, &FieldError{File: file, Line: LineOf(node(), keys...), Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	switch {
	case env.Name == "":
		fe("environment", "must be set to the folder name %q", dir)
	case env.Name != dir:
		fe("environment", "is %q but the file is in environments/%s: they must match", env.Name, dir)
	case !envNameRE.MatchString(env.Name):
		fe("environment", "%q is not a DNS label (lowercase letters, digits and '-')", env.Name)
	}
	if env.Project == "" {
		fe("project", "must name the environment's AppProject")
	}
	if env.Destination.Server == "" && env.Destination.Name == "" {
		fe("destination", "must set server or name")
	}
	if env.Destination.Namespace == "" {
		fe("destination.namespace", "must be set")
	}
	if env.KubeVersion == "" {
		fe("kubeVersion", "must be set to the cluster's Kubernetes version, e.g. \"1.33.0\"")
	} else if _, err := chartutil.ParseKubeVersion(env.KubeVersion); err != nil {
		fe("kubeVersion", "%q is not a Kubernetes version: %v", env.KubeVersion, err)
	}
	for i, v := range env.APIVersions {
		if !apiVersionRE.MatchString(v) {
			fe(fmt.Sprintf("apiVersions[%d]", i), "%q is not an API version such as monitoring.coreos.com/v1", v)
		}
	}
	if env.Sync.Automated == false && (env.Sync.Prune || env.Sync.SelfHeal) {
		fe("sync", "prune and selfHeal need automated: true")
	}
	if len(env.Components) == 0 {
		fe("components", "must list at least one component")
	}
	errs = append(errs, env.ChangeControl.validate(file, node)...)
	for _, l := range env.External.Lists() {
		seen := map[string]bool{}
		for i, n := range l.Names {
			key := fmt.Sprintf("external.%s[%d]", l.Key, i)
			switch {
			case seen[n]:
				fe(key, "%s %q is listed twice", l.Kind, n)
			case len(validation.IsDNS1123Subdomain(n)) > 0:
				fe(key, "%q is not a %s name: %s", n, l.Kind, strings.Join(validation.IsDNS1123Subdomain(n), "; "))
			}
			seen[n] = true
		}
	}
	names := map[string]bool{}
	for i, c := range env.Components {
		key := fmt.Sprintf("components[%d]", i)
		switch {
		case c.Component == "":
			fe(key+".component", "must be set")
		case !envNameRE.MatchString(c.Component):
			fe(key+".component", "%q is not a DNS label", c.Component)
		case names[c.Component]:
			fe(key+".component", "%q is listed twice", c.Component)
		}
		names[c.Component] = true
		if c.Chart == "" || path.IsAbs(c.Chart) || strings.HasPrefix(path.Clean(c.Chart), "..") {
			fe(key+".chart", "%q must be a chart folder relative to the repository root, e.g. charts/trino", c.Chart)
		}
		if strings.TrimSpace(c.Revision) == "" {
			fe(key+".revision", "must pin the chart's git revision (a commit SHA of main, or HEAD to follow the branch)")
		}
		if _, err := strconv.Atoi(c.Wave); c.Wave != "" && err != nil {
			fe(key+".wave", "%q must be an integer in quotes, e.g. \"1\"", c.Wave)
		}
		if c.Component != "" && !exists[env.ValuesFile(c.Component)] {
			// Not listed: read it, for the snapshot's own words (or a file the listing skips).
			if _, err := snap.ReadFile(env.ValuesFile(c.Component)); err != nil {
				fe(key+".component", "values file %s: %v", env.ValuesFile(c.Component), errors.Unwrap(err))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return env, nil
}

func loadApplicationSet(snap source.Snapshot, file string) (*argov1.ApplicationSet, error) {
	raw, err := snap.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read ApplicationSet %s: %w", file, err)
	}
	var as argov1.ApplicationSet
	if err := sigsyaml.UnmarshalStrict(raw, &as); err != nil {
		return nil, fmt.Errorf("%s: not a valid ApplicationSet: %w", file, err)
	}
	if as.Kind != "ApplicationSet" {
		return nil, fmt.Errorf("%s: kind is %q, want ApplicationSet", file, as.Kind)
	}
	return &as, nil
}

func loadProjects(snap source.Snapshot, file string) ([]argov1.AppProject, error) {
	raw, err := snap.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read AppProjects %s: %w", file, err)
	}
	var out []argov1.AppProject
	for i, doc := range SplitYAML(raw) {
		var p argov1.AppProject
		if err := sigsyaml.UnmarshalStrict(doc, &p); err != nil {
			return nil, fmt.Errorf("%s: document %d: not a valid AppProject: %w", file, i+1, err)
		}
		if p.Kind != "AppProject" {
			return nil, fmt.Errorf("%s: document %d: kind is %q, want AppProject", file, i+1, p.Kind)
		}
		out = append(out, p)
	}
	return out, nil
}

// templateRepoURL finds the repoURL keys of a templatePatch (a Go template, not YAML yet).
var templateRepoURL = regexp.MustCompile(`(?m)^\s*-?\s*repoURL:\s*["']?([^"'\s{}]+)["']?\s*(#.*)?$`)

// SourceURLs are the literal repository URLs of the sources the ApplicationSet's template and
// templatePatch give the Applications (templated URLs are left out), sorted.
func SourceURLs(as *argov1.ApplicationSet) []string {
	set := map[string]bool{}
	t := as.Spec.Template.Spec
	if t.Source != nil && !strings.Contains(t.Source.RepoURL, "{{") && t.Source.RepoURL != "" {
		set[t.Source.RepoURL] = true
	}
	for _, src := range t.Sources {
		if !strings.Contains(src.RepoURL, "{{") && src.RepoURL != "" {
			set[src.RepoURL] = true
		}
	}
	if as.Spec.TemplatePatch != nil {
		for _, m := range templateRepoURL.FindAllStringSubmatch(*as.Spec.TemplatePatch, -1) {
			set[m[1]] = true
		}
	}
	return sortedKeys(set)
}

func projectAllows(p *argov1.AppProject, d Destination) bool {
	for _, pd := range p.Spec.Destinations {
		serverOK := (pd.Server != "" && globMatch(pd.Server, d.Server)) || (pd.Name != "" && globMatch(pd.Name, d.Name))
		if serverOK && globMatch(pd.Namespace, d.Namespace) {
			return true
		}
	}
	return false
}

func globMatch(pattern, s string) bool {
	ok, err := path.Match(pattern, s)
	return err == nil && ok || pattern == "*"
}

// SplitYAML splits a multi-document YAML stream into its non-empty documents.
func SplitYAML(raw []byte) [][]byte {
	var out [][]byte
	for _, doc := range regexp.MustCompile(`(?m)^---[ \t]*(#.*)?$`).Split(string(raw), -1) {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		out = append(out, []byte(doc))
	}
	return out
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// decodeStrict decodes one YAML document into v, rejecting unknown keys, and returns its node tree
// for line lookups. Errors name the file and line.
func decodeStrict(file string, raw []byte, v any) (*yaml.Node, error) {
	var node yaml.Node
	if err := yaml.Unmarshal(raw, &node); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if err := decodeKnown(file, raw, v); err != nil {
		return nil, err
	}
	return &node, nil
}

// decodeKnown decodes one YAML document into v, rejecting unknown keys.
func decodeKnown(file string, raw []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", file, cleanYAMLError(err))
	}
	return nil
}

var unknownFieldRE = regexp.MustCompile(`^line (\d+): field (\S+) not found in type \S+$`)

func cleanYAMLError(err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs := make([]string, len(te.Errors))
		for i, m := range te.Errors {
			msgs[i] = unknownFieldRE.ReplaceAllString(m, `line $1: unknown key "$2"`)
		}
		return errors.New(strings.Join(msgs, "; "))
	}
	return err
}

// LineOf finds the line of a key path (map keys and list indexes) in a YAML node tree.
func LineOf(n *yaml.Node, keys ...string) int {
	if n == nil {
		return 0
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, k := range keys {
		switch n.Kind {
		case yaml.MappingNode:
			found := false
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == k {
					line, n, found = n.Content[i].Line, n.Content[i+1], true
					break
				}
			}
			if !found {
				return line
			}
		case yaml.SequenceNode:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(n.Content) {
				return line
			}
			n = n.Content[i]
			line = n.Line
		default:
			return line
		}
	}
	return line
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return slices.Clip(out)
}
