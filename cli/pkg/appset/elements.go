package appset

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"

	argov1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	"golang.org/x/sync/errgroup"
)

// Expander expands ApplicationSets one git generator element (one file, e.g. one env.yaml) at a
// time, concurrently, and remembers each element's Applications by content: the ApplicationSet as
// a whole and the element's path and bytes. Expanding the two sides of a diff with one Expander
// expands an environment whose env.yaml and ApplicationSet did not change once.
//
// Splitting is exact for the generator shapes it accepts, and only those: a single top-level
// generator that is a git files generator, or a matrix of a git files generator and a list
// generator. Argo CD's git files generator turns each file into parameters on its own (sorted by
// path) and a matrix combines each of them with the list it templates, so the Applications of the
// whole are the concatenation of the Applications of each file, in path order; each element still
// goes through Argo CD's own GenerateApplications. Anything else (directories, merges, nested
// matrices, several generators) is expanded whole, as before. TestExpanderMatchesArgoCD compares
// the two on the kit, the test fixture and a generated fleet.
//
// An Expander is safe for concurrent use.
type Expander struct {
	// Concurrency bounds the elements expanded at once (default GOMAXPROCS).
	Concurrency int

	mu    sync.Mutex
	elems map[string]*element
	// slow counts the elements expanded through GenerateApplications although the ApplicationSet
	// has a fast plan (an error being reported, or a shape the plan refused): tests read it.
	slow atomic.Int64
}

type element struct {
	once sync.Once
	apps []argov1.Application
	err  error
}

// NewExpander returns an Expander with an empty memory.
func NewExpander() *Expander { return &Expander{elems: map[string]*element{}} }

// Expand is the package's Expand, element by element where the generators allow it.
func (e *Expander) Expand(as *argov1.ApplicationSet, r Resolver) ([]argov1.Application, error) {
	return e.expand(as, r, &templateRenderer{})
}

func (e *Expander) expand(as *argov1.ApplicationSet, r Resolver, renderer *templateRenderer) ([]argov1.Application, error) {
	git, ok := splittable(as)
	if !ok {
		return expand(as, r, renderer)
	}
	if err := checkSupported(as.Spec.Generators); err != nil {
		return nil, fmt.Errorf("ApplicationSet %s: %w", as.Name, err)
	}
	// The element files, as Argo CD's git files generator lists them (includes minus excludes).
	all := &repos{resolver: r}
	files := map[string][]byte{}
	byPattern := map[string]map[string][]byte{}
	for _, f := range git.Files {
		got, err := all.GetFiles(context.Background(), git.RepoURL, git.Revision, "", f.Path, false, nil)
		if err != nil {
			return nil, fmt.Errorf("expand ApplicationSet %s: %w", as.Name, err)
		}
		byPattern[f.Path] = got
		if !f.Exclude {
			for k, v := range got {
				files[k] = v
			}
		}
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)

	spec, err := json.Marshal(as)
	if err != nil {
		return nil, fmt.Errorf("expand ApplicationSet %s: %w", as.Name, err)
	}
	asHash := sha256.Sum256(spec)
	plan := newFastPlan(as)
	results := make([][]argov1.Application, len(paths))
	errs := make([]error, len(paths))
	g := errgroup.Group{}
	n := e.Concurrency
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	g.SetLimit(n)
	for i, p := range paths {
		g.Go(func() error {
			content := files[p]
			h := sha256.New()
			h.Write(asHash[:])
			fmt.Fprintf(h, "\x00%s\x00%d\x00", p, len(content))
			h.Write(content)
			key := hex.EncodeToString(h.Sum(nil))
			el := e.element(key)
			el.once.Do(func() {
				one := &oneFile{Resolver: r, path: p, content: content, byPattern: byPattern}
				if plan != nil {
					if apps, ok := plan.element(one, renderer); ok {
						el.apps = apps
						return
					}
				}
				if plan != nil {
					e.slow.Add(1)
				}
				el.apps, el.err = expand(as, one, renderer)
			})
			if el.err != nil {
				errs[i] = el.err
				return nil
			}
			// The memory keeps its own copy: callers may change what they are given.
			results[i] = deepCopy(el.apps)
			return nil
		})
	}
	_ = g.Wait()
	// The first failing element in path order is the error Argo CD's loop would report first.
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	var out []argov1.Application
	for _, apps := range results {
		out = append(out, apps...)
	}
	seen := make(map[string]bool, len(out))
	for i := range out {
		if seen[out[i].Name] {
			return nil, fmt.Errorf("expand ApplicationSet %s: two Applications are named %q", as.Name, out[i].Name)
		}
		seen[out[i].Name] = true
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// element returns the memory slot of key.
func (e *Expander) element(key string) *element {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.elems == nil {
		e.elems = map[string]*element{}
	}
	el, ok := e.elems[key]
	if !ok {
		el = &element{}
		e.elems[key] = el
	}
	return el
}

func deepCopy(apps []argov1.Application) []argov1.Application {
	out := make([]argov1.Application, len(apps))
	for i := range apps {
		apps[i].DeepCopyInto(&out[i])
	}
	return out
}

// splittable returns the git files generator of an ApplicationSet whose expansion is the
// concatenation of its files' expansions (see Expander).
func splittable(as *argov1.ApplicationSet) (*argov1.GitGenerator, bool) {
	if len(as.Spec.Generators) != 1 {
		return nil, false
	}
	g := as.Spec.Generators[0]
	if g.Selector != nil {
		return nil, false
	}
	plainGit := func(gg *argov1.GitGenerator) bool {
		return gg != nil && len(gg.Directories) == 0 && len(gg.Files) > 0
	}
	switch {
	case g.Git != nil && g.Matrix == nil && g.Merge == nil && g.List == nil:
		if plainGit(g.Git) {
			return g.Git, true
		}
	case g.Matrix != nil && g.Git == nil && g.Merge == nil && g.List == nil && len(g.Matrix.Generators) == 2:
		var git *argov1.GitGenerator
		lists := 0
		for _, n := range g.Matrix.Generators {
			switch {
			case n.Matrix != nil || n.Merge != nil || n.Selector != nil:
				return nil, false
			case n.Git != nil && n.List == nil && plainGit(n.Git) && git == nil:
				git = n.Git
			case n.List != nil && n.Git == nil && onlyList(n):
				lists++
			default:
				return nil, false
			}
		}
		if git != nil && lists == 1 {
			return git, true
		}
	}
	return nil, false
}

// onlyList is true when a nested generator sets nothing but its list.
func onlyList(n argov1.ApplicationSetNestedGenerator) bool {
	return n.Clusters == nil && n.SCMProvider == nil && n.ClusterDecisionResource == nil &&
		n.PullRequest == nil && n.Plugin == nil
}

// oneFile answers the git generator's file listings with one file only (when the pattern lists
// it): the generator then produces that element's parameters and nothing else. Listings are
// computed once per expansion (byPattern), not once per element.
type oneFile struct {
	Resolver
	path      string
	content   []byte
	byPattern map[string]map[string][]byte
}

// files is GetFiles for one pattern, narrowed to the element.
func (o *oneFile) files(pattern string) map[string][]byte {
	if _, ok := o.byPattern[pattern][o.path]; ok {
		return map[string][]byte{o.path: o.content}
	}
	return map[string][]byte{}
}
