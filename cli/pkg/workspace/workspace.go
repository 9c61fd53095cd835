// Package workspace ties the kit together for one revision: it opens the repository, loads the
// environments model, expands the ApplicationSet into Applications and selects and renders them.
// Every command starts here, so they all see the same Applications.
package workspace

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	argov1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"

	"github.com/lakeport/lakeport/cli/pkg/appset"
	"github.com/lakeport/lakeport/cli/pkg/kit"
	"github.com/lakeport/lakeport/cli/pkg/render"
	"github.com/lakeport/lakeport/cli/pkg/source"
)

// Workspace is the kit at one revision, with its generated Applications.
type Workspace struct {
	Repo     *source.Repo
	Head     source.Snapshot
	Kit      *kit.Kit
	RepoURL  string
	Renderer *render.Renderer
	// Apps are every Application the ApplicationSet generates, sorted by name.
	Apps []argov1.Application
}

// UsageError is a selection that names something the kit does not have.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Open loads the kit from the repository containing dir. An empty revision reads the working tree;
// otherwise the kit (environments, values, floating charts) is read at that commit.
func Open(dir, revision string) (*Workspace, error) {
	repo, err := source.Open(dir)
	if err != nil {
		return nil, err
	}
	return OpenRepo(repo, revision)
}

// OpenRepo is Open for an already opened repository.
func OpenRepo(repo *source.Repo, revision string) (*Workspace, error) {
	return OpenRepoShared(repo, revision, nil)
}

// Shared is what the workspaces one command opens share (nil: nothing): the memory of the
// ApplicationSet expansion, so that the two sides of a diff expand an unchanged environment once,
// and the opt-in render cache.
type Shared struct {
	Expander *appset.Expander
	// Cache, when set, keeps rendered releases by content between runs.
	Cache *render.Cache
	// Documents, when set, parses each distinct rendered document once for every workspace
	// that shares it (the two sides of a diff).
	Documents *render.Documents
}

// OpenRepoShared is OpenRepo sharing sh with the other workspaces of a command.
func OpenRepoShared(repo *source.Repo, revision string, sh *Shared) (*Workspace, error) {
	head := repo.Worktree()
	if revision != "" {
		s, err := repo.At(revision)
		if err != nil {
			return nil, err
		}
		head = s
	}
	return OpenSnapshotShared(repo, head, sh)
}

// OpenSnapshot loads the kit from any snapshot of the repository (for example the working tree
// with a promotion's edits overlaid), reading pinned charts from the repository's commits.
func OpenSnapshot(repo *source.Repo, head source.Snapshot) (*Workspace, error) {
	return OpenSnapshotShared(repo, head, nil)
}

// OpenSnapshotShared is OpenSnapshot sharing sh with the other workspaces of a command.
func OpenSnapshotShared(repo *source.Repo, head source.Snapshot, sh *Shared) (*Workspace, error) {
	if sh == nil {
		sh = &Shared{}
	}
	if sh.Expander == nil {
		sh.Expander = appset.NewExpander()
	}
	// Loading the kit and expanding the ApplicationSet read the same files (every env.yaml):
	// read them once. Rendering later reads head itself.
	memo := source.Memo(head)
	k, err := kit.Load(memo)
	if err != nil {
		return nil, err
	}
	url, err := repoURL(k.ApplicationSet)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", k.ApplicationSetFile, err)
	}
	w := &Workspace{Repo: repo, Head: head, Kit: k, RepoURL: url, Renderer: render.New(repo, head, url)}
	w.Renderer.Cache = sh.Cache
	w.Renderer.Documents = sh.Documents
	if w.Apps, err = sh.Expander.Expand(k.ApplicationSet, memoResolver{w.Renderer, memo}); err != nil {
		return nil, fmt.Errorf("%s: %w", k.ApplicationSetFile, err)
	}
	return w, nil
}

// memoResolver is the renderer's resolver answering the head revision (render.Renderer.Snapshot:
// HEAD or none) from memo.
type memoResolver struct {
	r    *render.Renderer
	memo source.Snapshot
}

func (m memoResolver) Snapshot(repoURL, revision string) (source.Snapshot, error) {
	s, err := m.r.Snapshot(repoURL, revision)
	if err == nil && (revision == "" || revision == "HEAD") {
		return m.memo, nil
	}
	return s, err
}

// repoURL is the kit repository's URL: the repository the ApplicationSet's git generator reads.
func repoURL(as *argov1.ApplicationSet) (string, error) {
	var urls []string
	gits, _ := appset.GitGenerators(as.Spec.Generators)
	for _, g := range gits {
		urls = append(urls, g.RepoURL)
	}
	if len(urls) == 0 {
		return "", errors.New("the ApplicationSet has no git generator: lakeport needs one over environments/")
	}
	return urls[0], nil
}

// Environment of an Application (its lakeport.dev/environment label).
func Environment(a *argov1.Application) string { return a.Labels[render.LabelEnvironment] }

// Component of an Application (its lakeport.dev/component label).
func Component(a *argov1.Application) string { return a.Labels[render.LabelComponent] }

// Select returns the Applications of the given environments and apps (component names or full
// Application names); empty lists select everything. Unknown names are a UsageError listing what
// exists.
func (w *Workspace) Select(envs, apps []string) ([]argov1.Application, error) {
	knownEnv := map[string]bool{}
	knownApp := map[string]bool{}
	for i := range w.Apps {
		knownEnv[Environment(&w.Apps[i])] = true
		knownApp[Component(&w.Apps[i])] = true
		knownApp[w.Apps[i].Name] = true
	}
	var bad []string
	for _, e := range envs {
		if !knownEnv[e] {
			bad = append(bad, fmt.Sprintf("unknown environment %q (environments: %s)", e, strings.Join(w.Kit.EnvironmentNames(), ", ")))
		}
	}
	for _, a := range apps {
		if !knownApp[a] {
			bad = append(bad, fmt.Sprintf("unknown app %q (components: %s)", a, strings.Join(w.Components(), ", ")))
		}
	}
	if len(bad) > 0 {
		return nil, &UsageError{Msg: strings.Join(bad, "; ")}
	}
	out := Filter(w.Apps, envs, apps)
	if len(out) == 0 {
		return nil, &UsageError{Msg: fmt.Sprintf("no application matches environments [%s] and apps [%s]", strings.Join(envs, ","), strings.Join(apps, ","))}
	}
	rank := map[string]int{}
	for i, e := range w.Kit.Promotion {
		rank[e] = i
	}
	sort.SliceStable(out, func(i, j int) bool { return rank[Environment(&out[i])] < rank[Environment(&out[j])] })
	return out, nil
}

// Matches says whether an Application is selected by envs (environment names) and apps
// (component or Application names); an empty list selects everything. It is the one selection
// rule every verb uses.
func Matches(a *argov1.Application, envs, apps []string) bool {
	if len(envs) > 0 && !slices.Contains(envs, Environment(a)) {
		return false
	}
	return len(apps) == 0 || slices.Contains(apps, Component(a)) || slices.Contains(apps, a.Name)
}

// Filter returns the Applications of all that Matches selects, in order, without checking names.
func Filter(all []argov1.Application, envs, apps []string) []argov1.Application {
	// Counted first: an Application is a large struct, and growing the slice by appending copied
	// a fleet's several times (7% of a one-file pull request's CPU at 3,000 Applications).
	n := 0
	for i := range all {
		if Matches(&all[i], envs, apps) {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	out := make([]argov1.Application, 0, n)
	for i := range all {
		if Matches(&all[i], envs, apps) {
			out = append(out, all[i])
		}
	}
	return out
}

// CheckNames accepts environment and app names that exist in at least one of the workspaces (the
// two sides of a diff); otherwise it returns a UsageError listing what exists.
func CheckNames(ws []*Workspace, envs, apps []string) error {
	knownEnv, knownApp := map[string]bool{}, map[string]bool{}
	var envNames, comps []string
	for _, w := range ws {
		for i := range w.Apps {
			a := &w.Apps[i]
			if e := Environment(a); !knownEnv[e] {
				knownEnv[e] = true
				envNames = append(envNames, e)
			}
			if c := Component(a); !knownApp[c] {
				knownApp[c] = true
				comps = append(comps, c)
			}
			knownApp[a.Name] = true
		}
	}
	slices.Sort(envNames)
	slices.Sort(comps)
	var bad []string
	for _, e := range envs {
		if !knownEnv[e] {
			bad = append(bad, fmt.Sprintf("unknown environment %q (environments: %s)", e, strings.Join(envNames, ", ")))
		}
	}
	for _, a := range apps {
		if !knownApp[a] {
			bad = append(bad, fmt.Sprintf("unknown app %q (components: %s)", a, strings.Join(comps, ", ")))
		}
	}
	if len(bad) > 0 {
		return &UsageError{Msg: strings.Join(bad, "; ")}
	}
	return nil
}

// Components lists every component name, sorted.
func (w *Workspace) Components() []string {
	set := map[string]bool{}
	for i := range w.Apps {
		set[Component(&w.Apps[i])] = true
	}
	out := make([]string, 0, len(set))
	for c := range set {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// Render renders the Applications and orders the releases by promotion order, then name.
func (w *Workspace) Render(ctx context.Context, apps []argov1.Application) ([]*render.Release, error) {
	return w.RenderStream(ctx, apps, nil)
}

// RenderStream is Render handing each release to each as soon as it is rendered
// (render.Renderer.RenderStream).
func (w *Workspace) RenderStream(ctx context.Context, apps []argov1.Application, each func(*render.Release) error) ([]*render.Release, error) {
	rels, err := w.Renderer.RenderStream(ctx, apps, each)
	render.SortReleases(rels, w.Kit.Promotion)
	return rels, w.locatePins(apps, err)
}

// locatePins adds to a pin that does not resolve where it is pinned (file, line and key).
func (w *Workspace) locatePins(apps []argov1.Application, err error) error {
	if err == nil {
		return nil
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return err
	}
	errs := joined.Unwrap()
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = e
		var re *render.Error
		var rev *source.RevisionError
		if !errors.As(e, &re) || !errors.As(e, &rev) {
			continue
		}
		for j := range apps {
			if apps[j].Name != re.App {
				continue
			}
			env := w.Kit.Environment(Environment(&apps[j]))
			if env == nil {
				break
			}
			for k, c := range env.Components {
				if c.Component == Component(&apps[j]) && c.Revision == rev.Revision {
					out[i] = fmt.Errorf("%s:%d: components[%d].revision: %w", env.File, env.Line("components", fmt.Sprint(k), "revision"), k, e)
				}
			}
		}
	}
	return errors.Join(out...)
}
