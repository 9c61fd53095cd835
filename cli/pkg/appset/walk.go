package appset

import (
	"regexp"
	"strings"

	argov1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
)

// GitGenerators walks an ApplicationSet's generators, into matrix and merge generators, and
// returns its git generators in order. Deeper is set when a nested matrix or merge generator nests
// further (Argo CD keeps those as raw JSON): their git generators are not in the list. It is the
// one walk over generators: the repository URL and the files the expansion reads both come from
// it.
func GitGenerators(gens []argov1.ApplicationSetGenerator) (gits []*argov1.GitGenerator, deeper bool) {
	var walk func(gs []argov1.ApplicationSetGenerator)
	walk = func(gs []argov1.ApplicationSetGenerator) {
		for _, g := range gs {
			if g.Git != nil {
				gits = append(gits, g.Git)
			}
			var nested []argov1.ApplicationSetNestedGenerator
			if g.Matrix != nil {
				nested = append(nested, g.Matrix.Generators...)
			}
			if g.Merge != nil {
				nested = append(nested, g.Merge.Generators...)
			}
			for _, n := range nested {
				if n.Matrix != nil || n.Merge != nil {
					deeper = true
				}
				walk([]argov1.ApplicationSetGenerator{{Git: n.Git, List: n.List}})
			}
		}
	}
	walk(gens)
	return gits, deeper
}

// GitInputs says whether a repository file is one the generators read: a file a git files
// generator's path matches (git pathspec globs: * and ? also match '/'). A directories generator,
// or nesting too deep to follow, reads everything.
func GitInputs(gens []argov1.ApplicationSetGenerator) func(string) bool {
	gits, all := GitGenerators(gens)
	var patterns []*regexp.Regexp
	for _, g := range gits {
		if len(g.Directories) > 0 {
			all = true
		}
		for _, f := range g.Files {
			re := "^" + strings.NewReplacer(`\*`, ".*", `\?`, ".").Replace(regexp.QuoteMeta(f.Path)) + "$"
			if r, err := regexp.Compile(re); err == nil {
				patterns = append(patterns, r)
			} else {
				all = true
			}
		}
	}
	return func(f string) bool {
		if all {
			return true
		}
		for _, r := range patterns {
			if r.MatchString(f) {
				return true
			}
		}
		return false
	}
}
