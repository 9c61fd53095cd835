// Package scope decides which Applications a revision diff must render: from the kit files that
// changed between two revisions it works out, per Application, whether anything it renders from
// changed (its generated Application, its chart at the revision each side pins, its value files)
// and leaves the others out. A values file touches one Application; a chart touches every
// environment that pins a floating revision or a changed one; env.yaml and the ApplicationSet are
// re-expanded on both sides, so their effects show as changed Applications.
package scope

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"

	argov1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"

	"github.com/lakeport/lakeport/cli/pkg/diff"
	"github.com/lakeport/lakeport/cli/pkg/kit"
	"github.com/lakeport/lakeport/cli/pkg/source"
	"github.com/lakeport/lakeport/cli/pkg/workspace"
)

// Plan is what to render on each side, and why.
type Plan struct {
	// Base and Head are the Applications to render on each side.
	Base, Head []argov1.Application
	// Scope records every Application considered and the changed kit files.
	Scope *diff.Scope
}

// Input is what Compute compares: each side's workspace, its selected Applications and its name
// for error messages (e.g. "--base origin/main", "working tree").
type Input struct {
	Base, Head         *workspace.Workspace
	BaseApps, HeadApps []argov1.Application
	BaseName, HeadName string
	// IDs, when set, are the file IDs the caller has compared already (nil: a new memory).
	IDs *IDs
}

// Compute plans a revision diff between two workspaces over the selected Applications of each.
// An error means a revision or pin does not resolve (wrapping a *source.RevisionError, which says
// how to fetch it), located in the environment file that pins it.
func Compute(in Input) (*Plan, error) {
	base, head, baseApps, headApps := in.Base, in.Head, in.BaseApps, in.HeadApps
	ids := in.IDs
	if ids == nil {
		ids = NewIDs(in.Head.Repo)
	}
	c := &comparer{ids: ids.h, cache: map[string][]string{}, uses: map[string]*filesUse{}, names: [2]string{in.BaseName, in.HeadName}}
	p := &Plan{Scope: &diff.Scope{ChangedPaths: []string{}, Apps: []diff.ScopedApp{}}}

	// The changed kit files: the environments folder and every chart either side uses.
	dirs := map[string]bool{path.Dir(kit.File): true}
	for _, apps := range [][]argov1.Application{baseApps, headApps} {
		for i := range apps {
			if src := chartSource(&apps[i]); src != nil {
				dirs[path.Clean(src.Path)] = true
			}
		}
	}
	changed := map[string]bool{}
	for _, d := range sortedKeys(dirs) {
		files, err := c.dirDiff(base.Head, head.Head, d)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			changed[f] = true
		}
	}
	p.Scope.ChangedPaths = append(p.Scope.ChangedPaths, sortedKeys(changed)...)

	byName := map[string]*argov1.Application{}
	for i := range baseApps {
		byName[baseApps[i].Name] = &baseApps[i]
	}
	seen := map[string]bool{}
	for i := range headApps {
		h := &headApps[i]
		seen[h.Name] = true
		b := byName[h.Name]
		if b == nil {
			p.Head = append(p.Head, *h)
			p.Scope.Apps = append(p.Scope.Apps, diff.ScopedApp{Name: h.Name, Rendered: true, Reasons: []string{"new application"}})
			continue
		}
		reasons, notes, err := c.inputsChanged(base, head, b, h)
		if err != nil {
			return nil, err
		}
		if len(reasons) == 0 {
			p.Scope.Apps = append(p.Scope.Apps, diff.ScopedApp{Name: h.Name, Reasons: append([]string{"inputs unchanged"}, notes...)})
			continue
		}
		p.Base = append(p.Base, *b)
		p.Head = append(p.Head, *h)
		p.Scope.Apps = append(p.Scope.Apps, diff.ScopedApp{Name: h.Name, Rendered: true, Reasons: reasons})
	}
	for i := range baseApps {
		if b := &baseApps[i]; !seen[b.Name] {
			p.Base = append(p.Base, *b)
			p.Scope.Apps = append(p.Scope.Apps, diff.ScopedApp{Name: b.Name, Rendered: true, Reasons: []string{"application removed"}})
		}
	}
	sort.Slice(p.Scope.Apps, func(i, j int) bool { return p.Scope.Apps[i].Name < p.Scope.Apps[j].Name })
	return p, nil
}

// chartSource is the Application source that renders manifests (the one with a path).
func chartSource(a *argov1.Application) *argov1.ApplicationSource {
	srcs := a.Spec.GetSources()
	for i := range srcs {
		if srcs[i].Path != "" && srcs[i].Ref == "" {
			return &srcs[i]
		}
	}
	return nil
}

// comparer is used by one goroutine (Compute is sequential).
type comparer struct {
	ids   *hashes
	cache map[string][]string
	uses  map[string]*filesUse
	names [2]string // base and head, for errors
}

// inputsChanged lists why an Application present on both sides must be rendered (nothing when
// it renders from the same inputs), plus notes on changes that do not matter.
func (c *comparer) inputsChanged(bw, hw *workspace.Workspace, b, h *argov1.Application) (reasons, notes []string, err error) {
	bs, hs := chartSource(b), chartSource(h)
	if bs == nil || hs == nil {
		// Nothing to compare precisely: let the renderer report what is wrong.
		return []string{"no chart source"}, nil, nil
	}
	if b.Spec.Destination.Namespace != h.Spec.Destination.Namespace {
		reasons = append(reasons, fmt.Sprintf("namespace %s → %s", b.Spec.Destination.Namespace, h.Spec.Destination.Namespace))
	}
	reasons = append(reasons, helmChanges(bs, hs)...)
	if refsOf(b) != refsOf(h) {
		reasons = append(reasons, "value sources changed")
	}

	// The chart, at the revision each side pins.
	bsnap, err := bw.Renderer.Snapshot(bs.RepoURL, bs.TargetRevision)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", c.names[0], pinError(bw, b, bs, err))
	}
	hsnap, err := hw.Renderer.Snapshot(hs.RepoURL, hs.TargetRevision)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", c.names[1], pinError(hw, h, hs, err))
	}
	pin := ""
	if bs.TargetRevision != hs.TargetRevision {
		pin = fmt.Sprintf("pin %s → %s", short(bs.TargetRevision), short(hs.TargetRevision))
	}
	chartDiff, err := c.dirDiff(bsnap, hsnap, path.Clean(hs.Path))
	if err != nil {
		return nil, nil, err
	}
	var inert []string
	if chartDiff, inert, err = c.relevant(bsnap, hsnap, path.Clean(hs.Path), chartDiff); err != nil {
		return nil, nil, err
	}
	if len(inert) > 0 {
		notes = append(notes, fmt.Sprintf("%s changed but the chart does not render %s", strings.Join(inert, ", "), plural(len(inert), "it", "them")))
	}
	if path.Clean(bs.Path) != path.Clean(hs.Path) {
		reasons = append(reasons, fmt.Sprintf("chart %s → %s", bs.Path, hs.Path))
	} else if len(chartDiff) > 0 {
		what := fmt.Sprintf("chart %s changed (%d %s)", hs.Path, len(chartDiff), plural(len(chartDiff), "file", "files"))
		if pin != "" {
			what = pin + ": " + what
		}
		reasons = append(reasons, what)
	} else if pin != "" {
		notes = append(notes, pin+" (chart files identical)")
	}

	// Value files, each read where its side reads it.
	files := map[string]bool{}
	var order []string
	for _, side := range []struct {
		w   *workspace.Workspace
		app *argov1.Application
		src *argov1.ApplicationSource
	}{{bw, b, bs}, {hw, h, hs}} {
		if side.src.Helm == nil {
			continue
		}
		for _, vf := range side.src.Helm.ValueFiles {
			if !files[vf] {
				files[vf] = true
				order = append(order, vf)
			}
		}
	}
	for _, vf := range order {
		bp, bsn, berr := valueFile(bw, b, bs, bsnap, vf)
		hp, hsn, herr := valueFile(hw, h, hs, hsnap, vf)
		if berr != nil || herr != nil {
			if err := errors.Join(berr, herr); isRevisionError(err) {
				return nil, nil, fmt.Errorf("%s: value file %s: %w", h.Name, vf, err)
			}
			reasons = append(reasons, "value file "+vf+" unresolved")
			continue
		}
		same, err := c.ids.sameFile(bsn, bp, hsn, hp)
		if err != nil {
			return nil, nil, err
		}
		if !same {
			reasons = append(reasons, "values "+hp+" changed")
		}
	}
	return reasons, notes, nil
}

// pinError says which environment file pins a revision that does not resolve, and where.
func pinError(w *workspace.Workspace, a *argov1.Application, src *argov1.ApplicationSource, err error) error {
	err = fmt.Errorf("%s: chart %s at revision %q: %w", a.Name, src.Path, src.TargetRevision, err)
	env := w.Kit.Environment(workspace.Environment(a))
	if env == nil {
		return err
	}
	for k, comp := range env.Components {
		if comp.Component == workspace.Component(a) && comp.Revision == src.TargetRevision {
			return fmt.Errorf("%s:%d: components[%d].revision: %w", env.File, env.Line("components", fmt.Sprint(k), "revision"), k, err)
		}
	}
	return err
}

func isRevisionError(err error) bool {
	var re *source.RevisionError
	return errors.As(err, &re)
}

// helmChanges compares what a chart source passes to Helm, except the revision (compared through
// the chart's files).
func helmChanges(b, h *argov1.ApplicationSource) []string {
	bh, hh := b.Helm, h.Helm
	if bh == nil {
		bh = &argov1.ApplicationSourceHelm{}
	}
	if hh == nil {
		hh = &argov1.ApplicationSourceHelm{}
	}
	var out []string
	if bh.KubeVersion != hh.KubeVersion {
		out = append(out, fmt.Sprintf("kubeVersion %s → %s", bh.KubeVersion, hh.KubeVersion))
	}
	if !slices.Equal(bh.APIVersions, hh.APIVersions) {
		out = append(out, "apiVersions changed")
	}
	if !slices.Equal(bh.ValueFiles, hh.ValueFiles) {
		out = append(out, "value file list changed")
	}
	bc, hc := *bh, *hh
	bc.KubeVersion, hc.KubeVersion = "", ""
	bc.APIVersions, hc.APIVersions = nil, nil
	bc.ValueFiles, hc.ValueFiles = nil, nil
	if !jsonEqual(bc, hc) {
		out = append(out, "helm settings changed")
	}
	bb, hb := *b, *h
	bb.TargetRevision, hb.TargetRevision, bb.Helm, hb.Helm, bb.Path, hb.Path = "", "", nil, nil, "", ""
	if !jsonEqual(bb, hb) {
		out = append(out, "chart source changed")
	}
	return out
}

// refsOf summarises an Application's value reference sources, revisions excluded (the files
// they serve are compared one by one).
func refsOf(a *argov1.Application) string {
	var parts []string
	for _, s := range a.Spec.GetSources() {
		if s.Ref != "" {
			parts = append(parts, s.Ref+"="+s.RepoURL)
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// valueFile resolves a value file reference as the renderer does: $ref/path from the ref
// source's revision, anything else relative to the chart at the chart's revision.
func valueFile(w *workspace.Workspace, a *argov1.Application, chart *argov1.ApplicationSource, chartSnap source.Snapshot, vf string) (string, source.Snapshot, error) {
	if strings.HasPrefix(vf, "$") {
		ref, rest, _ := strings.Cut(vf, "/")
		for _, s := range a.Spec.GetSources() {
			if "$"+s.Ref == ref {
				snap, err := w.Renderer.Snapshot(s.RepoURL, s.TargetRevision)
				if err != nil {
					return "", nil, err
				}
				return path.Clean(rest), snap, nil
			}
		}
		return "", nil, fmt.Errorf("no source with ref %q", strings.TrimPrefix(ref, "$"))
	}
	return path.Clean(path.Join(chart.Path, vf)), chartSnap, nil
}

// dirDiff lists the files below dir that differ between two snapshots (added, removed or
// modified), by git object IDs. Results are cached per pair of revisions and folder.
func (c *comparer) dirDiff(a, b source.Snapshot, dir string) ([]string, error) {
	if a.Revision() == b.Revision() && a.Revision() != source.Worktree {
		return nil, nil
	}
	key := a.Revision() + "\x00" + b.Revision() + "\x00" + dir
	if v, ok := c.cache[key]; ok {
		return v, nil
	}
	out, err := c.ids.diffDir(a, b, dir)
	if err != nil {
		return nil, err
	}
	c.cache[key] = out
	return out, nil
}

func files(s source.Snapshot, dir string) ([]string, error) {
	out, err := s.Files(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return out, err
}

func jsonEqual(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

func short(rev string) string {
	if len(rev) == 40 && strings.Trim(rev, "0123456789abcdef") == "" {
		return rev[:12]
	}
	return rev
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func sortStrings(s []string) []string {
	sort.Strings(s)
	return s
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
