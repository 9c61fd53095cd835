package health

import (
	"context"
	"regexp"
	"slices"
	"sort"
	"strings"

	argov1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"

	"github.com/lakeport/lakeport/cli/pkg/workspace"
)

// Selector picks the Applications to check.
type Selector struct {
	// Namespaces are where the Applications live; one List per namespace. Empty: "argocd".
	Namespaces []string
	// Envs select by the lakeport.dev/environment label (server-side); empty: all.
	Envs []string
	// Apps select by component label or Application name (client-side); empty: all.
	Apps []string
}

// DefaultNamespace is where Argo CD keeps Applications unless told otherwise.
const DefaultNamespace = "argocd"

// namespaces returns the namespaces to list, defaulted.
func (s Selector) namespaces() []string {
	if len(s.Namespaces) == 0 {
		return []string{DefaultNamespace}
	}
	return s.Namespaces
}

// LabelSelector is the server-side part of the selection.
func (s Selector) LabelSelector() string {
	switch len(s.Envs) {
	case 0:
		return LabelEnvironment
	case 1:
		return LabelEnvironment + "=" + s.Envs[0]
	}
	envs := slices.Clone(s.Envs)
	sort.Strings(envs)
	return LabelEnvironment + " in (" + strings.Join(envs, ",") + ")"
}

// Match applies the whole selection to one Application (workspace.Matches: one rule for every
// verb).
func (s Selector) Match(a *argov1.Application) bool { return workspace.Matches(a, s.Envs, s.Apps) }

// Source reads Applications and asks Argo CD to refresh them.
type Source interface {
	// List returns the Applications the selector picks: one request per namespace.
	List(ctx context.Context, sel Selector) ([]argov1.Application, error)
	// Refresh asks Argo CD to compare an Application with git again (a "normal" refresh).
	Refresh(ctx context.Context, app *argov1.Application) error
	// String names the source for messages.
	String() string
}

// AppSetRefresher is implemented by sources that can ask the applicationset-controller to
// regenerate an ApplicationSet's Applications (the Kubernetes API can; the Argo CD API cannot).
type AppSetRefresher interface {
	RefreshAppSet(ctx context.Context, namespace, name string) error
}

// PinResolver says what a symbolic targetRevision (neither HEAD nor a SHA) means in the kit
// repository.
type PinResolver interface {
	// ResolvePin returns follows=true for a branch, or the commit a tag names; ok=false when it
	// does not know the name.
	ResolvePin(targetRevision string) (commit string, follows, ok bool)
}

// Plan is what a check expects.
type Plan struct {
	// Revision is the commit asked for (a full SHA, or a hex prefix of at least 7 digits); "" asks
	// only for Synced and Healthy at whatever Argo CD compared last.
	Revision string
	// Expected, when set, are the Applications the kit's ApplicationSet generates at Revision, by
	// name: an absent one is Missing, a live spec whose targetRevisions differ is waiting for the
	// ApplicationSet, and pins are read from here rather than from the live spec.
	Expected map[string]*argov1.Application
	// Pins resolves tag and branch names; nil: names other than HEAD are taken as branches unless
	// they look like versions.
	Pins PinResolver
	// EnvOrder orders the report by environment (the promotion order); others follow by name.
	EnvOrder []string
	// Windows are the environments' sync windows, by environment (from the kit, when at hand).
	Windows map[string]WindowSpec
}

// Expectation returns what one Application must show (nil when no revision is asked for).
func (p *Plan) Expectation(a *argov1.Application) *Expectation {
	if p == nil || p.Revision == "" {
		return nil
	}
	gen, generated := p.Expected[a.Name]
	sources := a.Spec.GetSources()
	if generated {
		sources = gen.Spec.GetSources()
	}
	exp := &Expectation{Revisions: WantRevisions(sources, p.Revision, p.Pins)}
	if generated {
		exp.TargetRevisions = make([]string, len(sources))
		for i, s := range sources {
			exp.TargetRevisions[i] = s.TargetRevision
		}
	}
	return exp
}

// Assess judges a listing of Applications and orders the result.
func (p *Plan) Assess(apps []argov1.Application, sel Selector) *Report {
	r := &Report{APIVersion: APIVersion, Kind: "HealthReport", Outcome: OutcomeHealthy}
	if p != nil {
		r.Revision = p.Revision
	}
	seen := map[string]bool{}
	for i := range apps {
		a := &apps[i]
		if !sel.Match(a) {
			continue
		}
		seen[a.Name] = true
		r.Applications = append(r.Applications, Assess(a, p.Expectation(a)))
	}
	if p != nil {
		for name, gen := range p.Expected {
			if seen[name] || !sel.Match(gen) {
				continue
			}
			h := AppHealth{
				Name: name, Environment: gen.Labels[LabelEnvironment], Component: gen.Labels[LabelComponent], Project: gen.Spec.Project,
				State: StateMissing, Reason: "not found: the ApplicationSet has not generated it (or it lives in another namespace)",
			}
			if p.Revision != "" {
				h.WantRevisions = WantRevisions(gen.Spec.GetSources(), p.Revision, p.Pins)
			}
			r.Applications = append(r.Applications, h)
		}
	}
	p.sort(r.Applications)
	for i := range r.Applications {
		if r.Applications[i].State != StateReady {
			r.Outcome = OutcomeUnhealthy
		}
	}
	return r
}

func (p *Plan) sort(apps []AppHealth) {
	var order []string
	if p != nil {
		order = p.EnvOrder
	}
	pos := func(env string) int {
		if i := slices.Index(order, env); i >= 0 {
			return i
		}
		return len(order)
	}
	sort.SliceStable(apps, func(i, j int) bool {
		a, b := apps[i], apps[j]
		if pos(a.Environment) != pos(b.Environment) {
			return pos(a.Environment) < pos(b.Environment)
		}
		if a.Environment != b.Environment {
			return a.Environment < b.Environment
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Namespace < b.Namespace
	})
}

// APIVersion versions the JSON and YAML shape of a Report (the same as every lakeport document).
const APIVersion = "lakeport.dev/v1alpha1"

// versionLike matches targetRevisions that read as release versions (v1.2.3, 1.2): tags, not
// branches, when no repository can tell.
var versionLike = regexp.MustCompile(`^v?\d+(\.\d+)*([-+].*)?$`)

// WantRevisions returns the revision each source must have been compared at for an Application to
// count as being at the commit asked for:
//
//   - a Helm repository chart (chart set): its version, exactly (ranges accept any);
//   - a git source pinned to a commit SHA: that SHA (a promotion moves the pin, not the commit);
//   - a git source following HEAD or a branch: the commit asked for;
//   - a git source pinned to a tag: the commit the tag names, when pins can resolve it; any
//     revision otherwise (the status is still only trusted once reconciled after the sync).
func WantRevisions(sources []argov1.ApplicationSource, revision string, pins PinResolver) []string {
	out := make([]string, len(sources))
	for i, s := range sources {
		t := strings.TrimSpace(s.TargetRevision)
		switch {
		case s.Chart != "":
			if strings.ContainsAny(t, "*^~<>=|, xX") || t == "" {
				out[i] = ""
			} else {
				out[i] = t
			}
		case IsCommitSHA(strings.ToLower(t)):
			out[i] = strings.ToLower(t)
		case t == "" || t == "HEAD":
			out[i] = revision
		default:
			name := strings.TrimPrefix(strings.TrimPrefix(t, "refs/heads/"), "refs/tags/")
			if pins != nil {
				if commit, follows, ok := pins.ResolvePin(t); ok {
					if follows {
						out[i] = revision
					} else {
						out[i] = commit
					}
					continue
				}
			}
			if strings.HasPrefix(t, "refs/tags/") || versionLike.MatchString(name) {
				out[i] = ""
			} else {
				out[i] = revision
			}
		}
	}
	return out
}
