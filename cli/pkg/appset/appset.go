// Package appset expands an ApplicationSet into the Applications it generates, in-process, with
// Argo CD's own generator and template code (applicationset/generators, controllers/template). The
// only difference from the applicationset-controller is where files come from: the git generator
// reads the local repository through a source.Snapshot instead of asking a repo server.
package appset

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/argoproj/argo-cd/v3/applicationset/controllers/template"
	"github.com/argoproj/argo-cd/v3/applicationset/generators"
	"github.com/argoproj/argo-cd/v3/applicationset/utils"
	argov1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	"github.com/sirupsen/logrus"

	"github.com/lakeport/lakeport/cli/pkg/source"
)

// Resolver returns the snapshot a git generator or source reads for a repository URL and revision.
type Resolver interface {
	Snapshot(repoURL, revision string) (source.Snapshot, error)
}

// UnsupportedError is returned for generators that need a cluster or a network service (clusters,
// pull requests, SCM providers, plugins, OCI): the CLI works offline.
type UnsupportedError struct{ Generator string }

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("the %s generator needs a cluster or a network service; lakeport expands only git, list, matrix and merge generators offline", e.Generator)
}

var templateErrRE = regexp.MustCompile(`template: [^:]+:\d+:\d+: .*$`)

// Expand returns the Applications the ApplicationSet generates, sorted by name (with a fresh
// Expander: element by element, concurrently, where the generators allow it).
func Expand(as *argov1.ApplicationSet, r Resolver) ([]argov1.Application, error) {
	return NewExpander().Expand(as, r)
}

func expand(as *argov1.ApplicationSet, r Resolver, renderer utils.Renderer) ([]argov1.Application, error) {
	if err := checkSupported(as.Spec.Generators); err != nil {
		return nil, fmt.Errorf("ApplicationSet %s: %w", as.Name, err)
	}
	repos := &repos{resolver: r}
	terminal := map[string]generators.Generator{
		"List": generators.NewListGenerator(),
		"Git":  generators.NewGitGenerator(repos, as.Namespace),
	}
	nested := map[string]generators.Generator{
		"List":   terminal["List"],
		"Git":    terminal["Git"],
		"Matrix": generators.NewMatrixGenerator(terminal),
		"Merge":  generators.NewMergeGenerator(terminal),
	}
	top := map[string]generators.Generator{
		"List":   terminal["List"],
		"Git":    terminal["Git"],
		"Matrix": generators.NewMatrixGenerator(nested),
		"Merge":  generators.NewMergeGenerator(nested),
	}
	logger := logrus.New()
	logger.SetOutput(io.Discard)
	apps, _, err := template.GenerateApplications(logrus.NewEntry(logger), *as, top, renderer, nil)
	if err != nil {
		if repos.err != nil {
			err = repos.err
		} else if m := templateErrRE.FindString(err.Error()); m != "" {
			// Argo CD's message quotes the whole template; keep the part that says what failed.
			err = fmt.Errorf("%s (a key the template uses is missing or wrong in an env.yaml?)", m)
		}
		return nil, fmt.Errorf("expand ApplicationSet %s: %w", as.Name, err)
	}
	seen := map[string]bool{}
	for _, a := range apps {
		if seen[a.Name] {
			return nil, fmt.Errorf("expand ApplicationSet %s: two Applications are named %q", as.Name, a.Name)
		}
		seen[a.Name] = true
	}
	sort.Slice(apps, func(i, j int) bool { return apps[i].Name < apps[j].Name })
	return apps, nil
}

func checkSupported(gens []argov1.ApplicationSetGenerator) error {
	for _, g := range gens {
		switch {
		case g.Clusters != nil:
			return &UnsupportedError{"clusters"}
		case g.PullRequest != nil:
			return &UnsupportedError{"pullRequest"}
		case g.SCMProvider != nil:
			return &UnsupportedError{"scmProvider"}
		case g.ClusterDecisionResource != nil:
			return &UnsupportedError{"clusterDecisionResource"}
		case g.Plugin != nil:
			return &UnsupportedError{"plugin"}
		}
	}
	return nil
}

// repos implements Argo CD's services.Repos over local snapshots.
type repos struct {
	resolver Resolver
	err      error // the first error, kept so that its type survives Argo CD's wrapping
}

func (r *repos) keep(err error) error {
	if r.err == nil {
		r.err = err
	}
	return err
}

func (r *repos) GetFiles(_ context.Context, repoURL, revision, _, pattern string, _ bool, _ *argov1.SourceIntegrity) (map[string][]byte, error) {
	if one, ok := r.resolver.(*oneFile); ok {
		return one.files(pattern), nil
	}
	snap, err := r.resolver.Snapshot(repoURL, revision)
	if err != nil {
		return nil, r.keep(err)
	}
	files, err := source.Glob(snap, pattern)
	if err != nil {
		return nil, r.keep(err)
	}
	out := make(map[string][]byte, len(files))
	for _, f := range files {
		b, err := snap.ReadFile(f)
		if err != nil {
			return nil, r.keep(err)
		}
		out[f] = b
	}
	return out, nil
}

func (r *repos) GetDirectories(_ context.Context, repoURL, revision, _ string, _ bool, _ *argov1.SourceIntegrity) ([]string, error) {
	snap, err := r.resolver.Snapshot(repoURL, revision)
	if err != nil {
		return nil, r.keep(err)
	}
	files, err := snap.Files(".")
	if err != nil {
		return nil, r.keep(err)
	}
	dirs := map[string]bool{}
	for _, f := range files {
		for d := path.Dir(f); d != "." && !dirs[d]; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	out := make([]string, 0, len(dirs))
	for d := range dirs {
		if !strings.HasPrefix(d, ".") {
			out = append(out, d)
		}
	}
	sort.Strings(out)
	return out, nil
}

func (r *repos) GetOciFiles(context.Context, string, string, string, string, bool) (map[string][]byte, error) {
	return nil, r.keep(errors.New("OCI sources are not supported offline"))
}

func (r *repos) GetOciDirectories(context.Context, string, string, string, bool) ([]string, error) {
	return nil, r.keep(errors.New("OCI sources are not supported offline"))
}
