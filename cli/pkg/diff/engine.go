// Package diff compares two sets of rendered releases, dyff-style: objects are matched by API
// group, kind, namespace and name (the namespace defaulting to the release's for namespaced kinds),
// compared structurally after the ignore rules, and shown as a unified diff of their YAML. Secret
// values never leave the engine: they are replaced by salted hashes before anything is compared
// or printed.
//
// With Options.Impacts, each resource also carries its impacts (package impact: restart, sync
// fails, data at risk, security, scale), computed from the two objects whole, before the ignore
// rules and redaction.
//
// Compare is pure: it reads releases and returns a Report that is never modified afterwards. The
// writers (WriteText, Document for JSON/YAML, Markdown) only read a Report. The engine does not
// render, read git, print or exit; cli/pkg/diff/scope decides what to render and the command wires
// them together.
package diff

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/lakeport/lakeport/cli/pkg/diff/impact"
	"github.com/lakeport/lakeport/cli/pkg/render"
)

// Action is what happened to an application or a resource between base and head.
type Action string

// Actions.
const (
	Added     Action = "added"
	Removed   Action = "removed"
	Changed   Action = "changed"
	Unchanged Action = "unchanged"
)

// Mode says what the two sides are.
type Mode string

// Modes.
const (
	// Revisions compares the same Applications at two git revisions.
	Revisions Mode = "revisions"
	// Environments compares two environments' Applications, paired by component.
	Environments Mode = "environments"
	// Live compares what a cluster holds with what applying the rendered Applications makes of it.
	Live Mode = "live"
)

// Side is one side of a comparison: its releases and how to call it.
type Side struct {
	// Label is how the user named the side (origin/main, working tree, staging).
	Label string
	// Revision is the commit the side was read at, or "worktree".
	Revision string
	Releases []*render.Release
}

// Options tune Compare.
type Options struct {
	Mode Mode
	// Rules are the ignore rules (DefaultRules() plus --ignore, usually).
	Rules []Rule
	// Context is the number of context lines around each change in unified diffs.
	Context int
	// Hasher redacts secret values; required.
	Hasher *Hasher
	// Scope, when set, is carried into the report: which apps were rendered and why.
	Scope *Scope
	// Impacts computes what each change does (package impact) from the two objects whole,
	// before the ignore rules and redaction.
	Impacts bool
	// FileImpacts are impacts of changed repository files (impact.Files), carried into the
	// report as they are.
	FileImpacts []impact.FileImpact
}

// Scope records how the set of compared applications was chosen.
type Scope struct {
	// ChangedPaths are the kit files that differ between base and head.
	ChangedPaths []string `json:"changedPaths"`
	// Apps are every application considered, rendered or not.
	Apps []ScopedApp `json:"apps"`
}

// ScopedApp says whether one application was rendered, and why.
type ScopedApp struct {
	Name     string   `json:"name"`
	Rendered bool     `json:"rendered"`
	Reasons  []string `json:"reasons"`
}

// Report is the immutable result of Compare.
type Report struct {
	Mode       Mode
	Base, Head SideInfo
	// Apps are the compared applications in the order of the head side (then base-only ones).
	Apps []AppDiff
	// Rules are the ignore rules applied.
	Rules []Rule
	// Context is the unified diff context used.
	Context int
	// SaltSource is "random" or "flag".
	SaltSource string
	Scope      *Scope
	// ImpactsComputed says whether impacts were computed (Options.Impacts).
	ImpactsComputed bool
	// FileImpacts are the impacts of changed repository files (not of a resource).
	FileImpacts []impact.FileImpact
}

// SideInfo names one side of a report.
type SideInfo struct {
	Label    string `json:"label"`
	Revision string `json:"revision"`
}

// AppDiff is the comparison of one application (revisions) or one component (environments).
type AppDiff struct {
	// Name is the Application name (revisions) or the component (environments).
	Name      string
	Component string
	// Environment is the head side's environment (the base side's for a removed app).
	Environment string
	Action      Action
	// Base and Head describe the release on each side; nil where the app is absent.
	Base, Head *ReleaseInfo
	// Resources are the added, removed and changed resources, and the unchanged ones that have
	// ignored differences, sorted by kind, namespace, name, group.
	Resources []ResourceDiff
	Counts    Counts
}

// ReleaseInfo describes a release on one side.
type ReleaseInfo struct {
	App         string       `json:"app"`
	Environment string       `json:"environment"`
	Namespace   string       `json:"namespace"`
	Chart       render.Chart `json:"chart"`
	ValueFiles  []string     `json:"valueFiles"`
}

// Counts tally resources by action.
type Counts struct {
	Added     int `json:"added"`
	Changed   int `json:"changed"`
	Removed   int `json:"removed"`
	Unchanged int `json:"unchanged"`
	// Ignored counts resources whose only differences were ignored.
	Ignored int `json:"ignored"`
}

// Total is the number of added, changed and removed resources.
func (c Counts) Total() int { return c.Added + c.Changed + c.Removed }

// Key identifies a resource: API group, kind, effective namespace and name.
type Key struct {
	Group     string `json:"group"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// String is "Kind namespace/name" (or "Kind name" for cluster-scoped kinds), with the group for
// kinds outside the core and well-known groups.
func (k Key) String() string {
	kind := k.Kind
	if k.Group != "" && !wellKnownGroups[k.Group] {
		kind += "." + k.Group
	}
	if k.Namespace == "" {
		return kind + " " + k.Name
	}
	return kind + " " + k.Namespace + "/" + k.Name
}

var wellKnownGroups = map[string]bool{
	"apps": true, "batch": true, "policy": true, "networking.k8s.io": true, "autoscaling": true,
	"rbac.authorization.k8s.io": true, "apiextensions.k8s.io": true, "monitoring.coreos.com": true,
	"argoproj.io": true, "storage.k8s.io": true, "scheduling.k8s.io": true,
}

// ResourceDiff is the comparison of one resource.
type ResourceDiff struct {
	Key Key
	// APIVersion is the head's (the base's for a removed resource); BaseAPIVersion is set when
	// the API version changed.
	APIVersion     string
	BaseAPIVersion string
	Action         Action
	// Hook is the helm.sh/hook annotation, when the resource is a hook.
	Hook string
	// Paths are the changed paths outside the ignore rules.
	Paths []string
	// Ignored are the paths that differ but match an ignore rule.
	Ignored []string
	// Diff is the unified diff of the redacted YAML (hunks only); every line of an added or
	// removed resource.
	Diff string
	// Impacts are what the change does once synced (when Options.Impacts), most consequential
	// first. A resource whose only differences are ignored can still have one (a changed
	// checksum/config annotation restarts pods).
	Impacts []impact.Impact
}

// Changed says whether the report has any change that counts (ignored ones never do).
func (r *Report) Changed() bool {
	for i := range r.Apps {
		if r.Apps[i].Action != Unchanged {
			return true
		}
	}
	return false
}

// Impacted says whether any resource or file has an impact of one of kinds.
func (r *Report) Impacted(kinds ...impact.Kind) bool {
	want := map[impact.Kind]bool{}
	for _, k := range kinds {
		want[k] = true
	}
	for _, fi := range r.FileImpacts {
		if want[fi.Kind] {
			return true
		}
	}
	for i := range r.Apps {
		for j := range r.Apps[i].Resources {
			for _, im := range r.Apps[i].Resources[j].Impacts {
				if want[im.Kind] {
					return true
				}
			}
		}
	}
	return false
}

// ImpactCounts counts impacts by kind, over every resource and file.
func (r *Report) ImpactCounts() map[impact.Kind]int {
	out := map[impact.Kind]int{}
	for _, fi := range r.FileImpacts {
		out[fi.Kind]++
	}
	for i := range r.Apps {
		for k, n := range r.Apps[i].ImpactCounts() {
			out[k] += n
		}
	}
	return out
}

// ImpactCounts counts the application's impacts by kind.
func (a *AppDiff) ImpactCounts() map[impact.Kind]int {
	out := map[impact.Kind]int{}
	for j := range a.Resources {
		for _, im := range a.Resources[j].Impacts {
			out[im.Kind]++
		}
	}
	return out
}

// Totals sums the counts of every application.
func (r *Report) Totals() Counts {
	var t Counts
	for i := range r.Apps {
		c := r.Apps[i].Counts
		t.Added += c.Added
		t.Changed += c.Changed
		t.Removed += c.Removed
		t.Unchanged += c.Unchanged
		t.Ignored += c.Ignored
	}
	return t
}

// Compare matches the releases of base and head and compares them. In Revisions mode releases
// pair by Application name; in Environments mode by component, and the release namespace is
// matched as "the release namespace" so that staging's and prod's objects pair up.
func Compare(base, head Side, o Options) (*Report, error) {
	if o.Hasher == nil {
		return nil, errors.New("diff: Options.Hasher is required")
	}
	if o.Mode == "" {
		o.Mode = Revisions
	}
	if o.Context < 0 {
		o.Context = 0
	}
	pairKey := func(r *render.Release) string { return r.App }
	if o.Mode == Environments {
		pairKey = func(r *render.Release) string { return r.Component }
	}
	baseBy := map[string]*render.Release{}
	for _, r := range base.Releases {
		if _, dup := baseBy[pairKey(r)]; dup {
			return nil, fmt.Errorf("diff: two base releases for %q", pairKey(r))
		}
		baseBy[pairKey(r)] = r
	}
	rep := &Report{
		Mode: o.Mode, Base: SideInfo{base.Label, base.Revision}, Head: SideInfo{head.Label, head.Revision},
		Rules: o.Rules, Context: o.Context, SaltSource: o.Hasher.Source, Scope: o.Scope,
		ImpactsComputed: o.Impacts, FileImpacts: o.FileImpacts,
	}
	seen := map[string]bool{}
	for _, h := range head.Releases {
		k := pairKey(h)
		if seen[k] {
			return nil, fmt.Errorf("diff: two head releases for %q", k)
		}
		seen[k] = true
		rep.Apps = append(rep.Apps, compareApp(k, baseBy[k], h, &o))
	}
	for _, b := range base.Releases {
		if k := pairKey(b); !seen[k] {
			rep.Apps = append(rep.Apps, compareApp(k, b, nil, &o))
		}
	}
	return rep, nil
}

func info(r *render.Release) *ReleaseInfo {
	if r == nil {
		return nil
	}
	return &ReleaseInfo{App: r.App, Environment: r.Environment, Namespace: r.Namespace, Chart: r.Chart, ValueFiles: r.ValueFiles}
}

type keyed struct {
	key   Key
	match string
	obj   *render.Object
}

func compareApp(name string, base, head *render.Release, o *Options) AppDiff {
	ad := AppDiff{Name: name, Base: info(base), Head: info(head)}
	cur := head
	if cur == nil {
		cur = base
	}
	ad.Component, ad.Environment = cur.Component, cur.Environment
	scope := clusterScopedKinds(base, head)
	baseObjs := index(base, scope, o.Mode)
	headObjs := index(head, scope, o.Mode)
	byMatch := map[string]keyed{}
	for _, b := range baseObjs {
		byMatch[b.match] = b
	}
	used := map[string]bool{}
	for _, h := range headObjs {
		b, ok := byMatch[h.match]
		if !ok {
			ad.Resources = append(ad.Resources, whole(h, Added, o))
			ad.Counts.Added++
			continue
		}
		used[h.match] = true
		rd := compareObjects(b, h, o)
		switch {
		case rd.Action == Changed:
			ad.Counts.Changed++
			ad.Resources = append(ad.Resources, rd)
		case len(rd.Ignored) > 0 || len(rd.Impacts) > 0:
			ad.Counts.Unchanged++
			ad.Counts.Ignored++
			ad.Resources = append(ad.Resources, rd)
		default:
			ad.Counts.Unchanged++
		}
	}
	for _, b := range baseObjs {
		if !used[b.match] {
			ad.Resources = append(ad.Resources, whole(b, Removed, o))
			ad.Counts.Removed++
		}
	}
	sort.SliceStable(ad.Resources, func(i, j int) bool { return lessKey(ad.Resources[i].Key, ad.Resources[j].Key) })
	switch {
	case base == nil:
		ad.Action = Added
	case head == nil:
		ad.Action = Removed
	case ad.Counts.Total() > 0:
		ad.Action = Changed
	default:
		ad.Action = Unchanged
	}
	return ad
}

func lessKey(a, b Key) bool {
	if a.Kind != b.Kind {
		return a.Kind < b.Kind
	}
	if a.Namespace != b.Namespace {
		return a.Namespace < b.Namespace
	}
	if a.Name != b.Name {
		return a.Name < b.Name
	}
	return a.Group < b.Group
}

// index keys a release's objects. Duplicate keys (a chart rendering the same object twice) get a
// "#2" suffix on their match key so that neither is lost.
func index(r *render.Release, clusterScoped map[string]bool, mode Mode) []keyed {
	if r == nil {
		return nil
	}
	out := make([]keyed, 0, len(r.Objects))
	count := map[string]int{}
	for _, obj := range r.Objects {
		k := Key{Group: obj.Group(), Kind: obj.Kind, Namespace: obj.Namespace, Name: obj.Name}
		if k.Namespace == "" && !clusterScoped[k.Group+"/"+k.Kind] {
			k.Namespace = r.Namespace
		}
		ns := k.Namespace
		if mode == Environments && ns == r.Namespace && ns != "" {
			ns = "<release namespace>"
		}
		m := k.Group + "/" + k.Kind + "/" + ns + "/" + k.Name
		count[m]++
		if n := count[m]; n > 1 {
			m += fmt.Sprintf("#%d", n)
		}
		out = append(out, keyed{key: k, match: m, obj: obj})
	}
	return out
}

// builtinClusterScoped are the cluster-scoped kinds of Kubernetes and the usual add-ons, as
// group/kind.
var builtinClusterScoped = map[string]bool{
	"/Namespace": true, "/Node": true, "/PersistentVolume": true, "/ComponentStatus": true,
	"rbac.authorization.k8s.io/ClusterRole": true, "rbac.authorization.k8s.io/ClusterRoleBinding": true,
	"apiextensions.k8s.io/CustomResourceDefinition":                 true,
	"storage.k8s.io/StorageClass":                                   true,
	"storage.k8s.io/CSIDriver":                                      true,
	"storage.k8s.io/CSINode":                                        true,
	"storage.k8s.io/VolumeAttachment":                               true,
	"scheduling.k8s.io/PriorityClass":                               true,
	"node.k8s.io/RuntimeClass":                                      true,
	"networking.k8s.io/IngressClass":                                true,
	"admissionregistration.k8s.io/ValidatingWebhookConfiguration":   true,
	"admissionregistration.k8s.io/MutatingWebhookConfiguration":     true,
	"admissionregistration.k8s.io/ValidatingAdmissionPolicy":        true,
	"admissionregistration.k8s.io/ValidatingAdmissionPolicyBinding": true,
	"apiregistration.k8s.io/APIService":                             true,
	"certificates.k8s.io/CertificateSigningRequest":                 true,
	"flowcontrol.apiserver.k8s.io/FlowSchema":                       true,
	"flowcontrol.apiserver.k8s.io/PriorityLevelConfiguration":       true,
	"cert-manager.io/ClusterIssuer":                                 true,
	"argoproj.io/ClusterWorkflowTemplate":                           true,
	"policy/PodSecurityPolicy":                                      true,
	"networking.k8s.io/IPAddress":                                   true,
	"networking.k8s.io/ServiceCIDR":                                 true,
	"resource.k8s.io/DeviceClass":                                   true,
	"resource.k8s.io/ResourceSlice":                                 true,
	"snapshot.storage.k8s.io/VolumeSnapshotClass":                   true,
	"snapshot.storage.k8s.io/VolumeSnapshotContent":                 true,
	"admissionregistration.k8s.io/MutatingAdmissionPolicy":          true,
	"admissionregistration.k8s.io/MutatingAdmissionPolicyBinding":   true,
	"storage.k8s.io/VolumeAttributesClass":                          true,
}

// clusterScopedKinds adds to the built-in list the kinds that CRDs in either release declare
// with scope Cluster.
func clusterScopedKinds(rels ...*render.Release) map[string]bool {
	var extra map[string]bool
	for _, r := range rels {
		if r == nil {
			continue
		}
		for _, obj := range r.Objects {
			if obj.Kind != "CustomResourceDefinition" {
				continue
			}
			spec, _ := obj.Content["spec"].(map[string]any)
			if s, _ := spec["scope"].(string); s != "Cluster" {
				continue
			}
			group, _ := spec["group"].(string)
			names, _ := spec["names"].(map[string]any)
			kind, _ := names["kind"].(string)
			if extra == nil {
				extra = map[string]bool{}
				for k, v := range builtinClusterScoped {
					extra[k] = v
				}
			}
			extra[group+"/"+kind] = true
		}
	}
	if extra == nil {
		return builtinClusterScoped
	}
	return extra
}

// whole is an added or removed resource: its whole redacted YAML as added or removed lines.
func whole(k keyed, action Action, o *Options) ResourceDiff {
	rd := ResourceDiff{Key: k.key, APIVersion: k.obj.APIVersion, Action: action, Hook: k.obj.Hook}
	if o.Impacts {
		if action == Added {
			rd.Impacts = impact.Analyze(nil, k.obj)
		} else {
			rd.Impacts = impact.Analyze(k.obj, nil)
		}
	}
	y := toYAML(redact(k.key.Group, k.key.Kind, k.obj.Content, o.Hasher))
	if action == Added {
		rd.Diff = Unified("", y, o.Context)
	} else {
		rd.Diff = Unified(y, "", o.Context)
	}
	return rd
}

func compareObjects(b, h keyed, o *Options) ResourceDiff {
	rd := ResourceDiff{Key: h.key, APIVersion: h.obj.APIVersion, Action: Unchanged, Hook: h.obj.Hook}
	if b.obj.APIVersion != h.obj.APIVersion {
		rd.BaseAPIVersion = b.obj.APIVersion
	}
	// Identical documents (most of them) need no further work.
	if b.obj.YAML == h.obj.YAML && b.obj.YAML != "" {
		return rd
	}
	if o.Impacts {
		rd.Impacts = impact.Analyze(b.obj, h.obj)
	}
	bc := redact(b.key.Group, b.key.Kind, b.obj.Content, o.Hasher)
	hc := redact(h.key.Group, h.key.Kind, h.obj.Content, o.Hasher)
	bIgn := strip(bc, h.key, o.Rules)
	hIgn := strip(hc, h.key, o.Rules)
	rd.Ignored = ignoredDifferences(bIgn, hIgn)
	var paths []string
	changedPaths(bc, hc, nil, &paths)
	if len(paths) == 0 {
		return rd
	}
	rd.Action = Changed
	rd.Paths = paths
	rd.Diff = Unified(toYAML(bc), toYAML(hc), o.Context)
	return rd
}

// strip removes from content every value an applicable rule matches, returning them by path.
func strip(content map[string]any, k Key, rules []Rule) map[string]any {
	var active []*Rule
	for i := range rules {
		if rules[i].appliesTo(k.Kind, k.Name) {
			active = append(active, &rules[i])
		}
	}
	removed := map[string]any{}
	if len(active) == 0 {
		return removed
	}
	var walk func(v any, p Path)
	walk = func(v any, p Path) {
		switch v := v.(type) {
		case map[string]any:
			for key, c := range v {
				cp := p.child(key)
				if matchAny(active, cp) {
					removed[cp.String()] = c
					delete(v, key)
					continue
				}
				walk(c, cp)
			}
		case []any:
			for i, c := range v {
				walk(c, p.child(i))
			}
		}
	}
	walk(content, nil)
	return removed
}

func matchAny(rules []*Rule, p Path) bool {
	ps := ""
	for _, r := range rules {
		if r.re != nil && ps == "" {
			ps = p.String()
		}
		if r.Match(p, ps) {
			return true
		}
	}
	return false
}

func ignoredDifferences(a, b map[string]any) []string {
	var out []string
	for p, av := range a {
		if bv, ok := b[p]; !ok || !reflect.DeepEqual(av, bv) {
			out = append(out, p)
		}
	}
	for p := range b {
		if _, ok := a[p]; !ok {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// changedPaths lists the leaf paths where a and b differ. Lists of different lengths are one
// change at the list's path.
func changedPaths(a, b any, p Path, out *[]string) {
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok {
			break
		}
		keys := make([]string, 0, len(av)+len(bv))
		for k := range av {
			keys = append(keys, k)
		}
		for k := range bv {
			if _, ok := av[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			ac, aok := av[k]
			bc, bok := bv[k]
			if aok != bok {
				*out = append(*out, p.child(k).String())
				continue
			}
			changedPaths(ac, bc, p.child(k), out)
		}
		return
	case []any:
		bv, ok := b.([]any)
		if !ok || len(av) != len(bv) {
			break
		}
		for i := range av {
			changedPaths(av[i], bv[i], p.child(i), out)
		}
		return
	}
	if !reflect.DeepEqual(a, b) {
		s := p.String()
		if s == "" {
			s = "(root)"
		}
		*out = append(*out, s)
	}
}

// toYAML prints content as YAML with sorted keys and no line folding: formatting and key order
// never show as changes, and a long line that changes is one changed line. Content must come
// from redact (whole numbers are int64 there, so they print as integers, not 1e+06).
func toYAML(content map[string]any) string {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(content); err != nil {
		// Content came from YAML; printing it back cannot fail short of a bug.
		return fmt.Sprintf("# lakeport: cannot print this object: %v\n", err)
	}
	_ = enc.Close()
	return b.String()
}

// trimNL is a helper for writers: text without a trailing newline.
func trimNL(s string) string { return strings.TrimSuffix(s, "\n") }
