package scope

import (
	"bytes"
	"errors"
	"io/fs"
	"path"
	"regexp"
	"strings"

	"helm.sh/helm/v3/pkg/ignore"

	"github.com/lakeport/lakeport/cli/pkg/render"
	"github.com/lakeport/lakeport/cli/pkg/source"
)

// A chart renders from its templates, CRDs, subcharts, Chart.yaml and values; other files (a
// README, a dashboard JSON) reach the output only through .Files. filesUse records which files a
// chart's templates read through .Files, so that a change to a file no template reads (or one
// .helmignore excludes) does not make every environment render.
type filesUse struct {
	// dynamic: some .Files use is not a literal Get/Glob, so any file may be read.
	dynamic bool
	// patterns are the literal arguments of .Files.Get/Glob/Lines.
	patterns []string
	rules    *ignore.Rules
}

var (
	filesAny     = regexp.MustCompile(`\.Files\b`)
	filesLiteral = regexp.MustCompile(`\.Files\.(Get|GetBytes|Glob|Lines)\s+"([^"]+)"`)
)

// alwaysRendered are the chart files Helm itself reads.
var alwaysRendered = map[string]bool{
	"Chart.yaml": true, "Chart.lock": true, "requirements.yaml": true, "requirements.lock": true,
	"values.yaml": true, "values.schema.json": true, ignore.HelmIgnore: true,
}

// relevant splits the changed files of a chart into those that may change its output and those
// that cannot (returned as paths relative to the repository).
func (c *comparer) relevant(a, b source.Snapshot, dir string, changed []string) (rel, inert []string, err error) {
	if len(changed) == 0 {
		return nil, nil, nil
	}
	var uses []*filesUse
	for _, s := range []source.Snapshot{a, b} {
		u, err := c.filesUse(s, dir)
		if err != nil {
			return nil, nil, err
		}
		uses = append(uses, u)
	}
	for _, f := range changed {
		if mayRender(strings.TrimPrefix(f, dir+"/"), uses) {
			rel = append(rel, f)
		} else {
			inert = append(inert, f)
		}
	}
	return rel, inert, nil
}

func mayRender(rel string, uses []*filesUse) bool {
	top, _, _ := strings.Cut(rel, "/")
	if alwaysRendered[rel] || top == "templates" || top == "crds" || top == "charts" {
		return true
	}
	for _, u := range uses {
		if u == nil || render.HelmIgnored(u.rules, rel) {
			continue
		}
		if u.dynamic {
			return true
		}
		for _, p := range u.patterns {
			if p == rel || strings.Contains(p, "**") {
				return true
			}
			if ok, _ := path.Match(p, rel); ok {
				return true
			}
		}
	}
	return false
}

// filesUse scans a chart's templates (and its subcharts') for .Files, once per revision.
func (c *comparer) filesUse(s source.Snapshot, dir string) (*filesUse, error) {
	key := s.Revision() + "\x00" + dir
	u, ok := c.uses[key]
	if ok {
		return u, nil
	}
	names, err := s.Files(dir)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && len(names) == 0) {
		return nil, nil // the chart does not exist on this side
	}
	if err != nil {
		return nil, err
	}
	u = &filesUse{rules: ignore.Empty()}
	if raw, err := s.ReadFile(path.Join(dir, ignore.HelmIgnore)); err == nil {
		if r, err := ignore.Parse(bytes.NewReader(raw)); err == nil {
			u.rules = r
		} else {
			u.dynamic = true // an unreadable .helmignore: assume anything renders
		}
	}
	u.rules.AddDefaults()
	for _, n := range names {
		rel := strings.TrimPrefix(n, dir+"/")
		top, _, _ := strings.Cut(rel, "/")
		if top != "templates" && top != "charts" {
			continue
		}
		b, err := s.ReadFile(n)
		if err != nil {
			return nil, err
		}
		all := len(filesAny.FindAllIndex(b, -1))
		lits := filesLiteral.FindAllSubmatch(b, -1)
		if all > len(lits) || top == "charts" && all > 0 {
			u.dynamic = true
		}
		for _, m := range lits {
			u.patterns = append(u.patterns, string(m[2]))
		}
	}
	c.uses[key] = u
	return u, nil
}
