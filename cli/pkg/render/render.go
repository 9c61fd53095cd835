// Package render renders the Helm sources of generated Applications in-process, with the Helm SDK
// and exactly the parameters Argo CD's repo server passes to `helm template`: release name,
// namespace, kube version, API versions, value files in order, inline values and parameters, and
// --include-crds unless skipCrds. Charts are read at their pinned git revision from the object store.
package render

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	argov1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	"golang.org/x/sync/errgroup"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/ignore"
	"helm.sh/helm/v3/pkg/strvals"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/lakeport/lakeport/cli/pkg/render/internal/engine"
	"github.com/lakeport/lakeport/cli/pkg/source"
)

// Labels the ApplicationSet puts on every Application.
const (
	LabelEnvironment = "lakeport.dev/environment"
	LabelComponent   = "lakeport.dev/component"
)

// Release is one rendered Application.
type Release struct {
	App         string `json:"app"`
	Environment string `json:"environment"`
	Component   string `json:"component"`
	Namespace   string `json:"namespace"`
	ReleaseName string `json:"releaseName"`
	Chart       Chart  `json:"chart"`
	// ValueFiles are the repository paths of the value files, in the order Helm merges them.
	ValueFiles []string `json:"valueFiles"`
	// IgnoredValues are value files with content Helm does not read (keys after a `{}`, a second
	// document): what Argo CD deploys lacks them. lakeport check fails on them.
	IgnoredValues []IgnoredValues `json:"ignoredValues,omitempty"`
	// Manifest is the output of `helm template` for this release, byte for byte.
	Manifest string    `json:"-"`
	Objects  []*Object `json:"objects"`
}

// Chart says which chart was rendered, at which revision.
type Chart struct {
	Path    string `json:"path"`
	Name    string `json:"name"`
	Version string `json:"version"`
	// Revision is the pin as written (a SHA, a tag or HEAD); Resolved is the commit it resolved to,
	// or "worktree" when a floating pin was read from the working tree.
	Revision string `json:"revision"`
	Resolved string `json:"resolved"`
}

// Object is one rendered Kubernetes object.
type Object struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
	// Source is the chart template the object came from (helm's "# Source:" comment).
	Source string `json:"source"`
	// Hook is the helm.sh/hook annotation, empty for ordinary objects.
	Hook string `json:"hook,omitempty"`
	// YAML is the document as Helm printed it, without the "# Source:" comment.
	YAML string `json:"-"`
	// Content is the decoded object.
	Content map[string]any `json:"content"`

	// exactJSON: Content's JSON encoding is YAMLToJSONStrict(YAML) (see JSON).
	exactJSON bool
}

// JSON returns the object as the Kubernetes API machinery converts its YAML to JSON
// (sigs.k8s.io/yaml.YAMLToJSONStrict, which its strict YAML decoders run), encoded from Content
// instead of parsing the YAML again, when that gives the same bytes (the document parsed with
// no duplicate key and no integer rounded: parseExact). ok is false otherwise, and for objects a
// render did not parse itself (the render cache's): convert the YAML then.
func (o *Object) JSON() (data []byte, ok bool) {
	if !o.exactJSON {
		return nil, false
	}
	data, err := json.Marshal(o.Content)
	return data, err == nil
}

// Group is the API group of the object ("" for the core group).
func (o *Object) Group() string {
	if i := strings.Index(o.APIVersion, "/"); i >= 0 {
		return o.APIVersion[:i]
	}
	return ""
}

// Error is a render failure of one Application.
type Error struct {
	App string
	Err error
}

func (e *Error) Error() string { return fmt.Sprintf("render %s: %v", e.App, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// Renderer renders Applications whose sources live in the kit repository.
type Renderer struct {
	repo    *source.Repo
	head    source.Snapshot
	repoURL string
	// Concurrency bounds the releases rendered at once (default: GOMAXPROCS).
	Concurrency int
	// Cache, when set, serves and keeps releases by content (see Cache).
	Cache *Cache
	// Documents, when set, parses each distinct rendered document once, across renderers that
	// share it (see Documents).
	Documents *Documents

	// engine keeps each chart's templates parsed for the renderer's life.
	engine engine.Engine

	mu      sync.Mutex
	charts  map[string]*chartFiles
	pinned  map[string]source.Snapshot // revision as written -> its snapshot
	schemas schemaCache
}

type chartFiles struct {
	once   sync.Once
	files  []*loader.BufferedFile
	digest string
	err    error

	// loaded is the chart loaded once, for charts without dependencies: rendering one reads it
	// and never changes it (Helm's dependency processing returns at once, its coalescing copies
	// the chart's values), so every release of a fleet can share it.
	loadOnce sync.Once
	loaded   *chart.Chart
	loadErr  error
}

// chart returns the chart of these files: the shared one when it has no dependencies, else a
// fresh load (Helm's dependency processing edits the chart it is given per release).
func (cf *chartFiles) chart() (*chart.Chart, error) {
	cf.loadOnce.Do(func() { cf.loaded, cf.loadErr = loader.LoadFiles(cf.files) })
	if cf.loadErr != nil {
		return nil, cf.loadErr
	}
	if cf.loaded.Metadata.Dependencies == nil && len(cf.loaded.Dependencies()) == 0 {
		return cf.loaded, nil
	}
	return loader.LoadFiles(cf.files)
}

// New returns a renderer for the kit repository at repoURL. Floating revisions (HEAD) read head,
// which is the working tree or a commit; pinned revisions read the commit they resolve to.
func New(repo *source.Repo, head source.Snapshot, repoURL string) *Renderer {
	return &Renderer{repo: repo, head: head, repoURL: repoURL, charts: map[string]*chartFiles{}}
}

// Head is the snapshot floating revisions resolve to.
func (r *Renderer) Head() source.Snapshot { return r.head }

// Snapshot resolves a repository URL and revision to a snapshot (it also serves the ApplicationSet
// git generator). HEAD (or an empty revision) is the head snapshot.
func (r *Renderer) Snapshot(repoURL, revision string) (source.Snapshot, error) {
	if normalizeURL(repoURL) != normalizeURL(r.repoURL) {
		return nil, fmt.Errorf("repository %s is not the kit repository %s: lakeport renders only sources from the kit repository", repoURL, r.repoURL)
	}
	if revision == "" || revision == "HEAD" {
		return r.head, nil
	}
	// A fleet pins the same few revisions thousands of times: resolve each once (resolving takes
	// the repository's lock).
	r.mu.Lock()
	s, ok := r.pinned[revision]
	r.mu.Unlock()
	if ok {
		return s, nil
	}
	s, err := r.repo.At(revision)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	if r.pinned == nil {
		r.pinned = map[string]source.Snapshot{}
	}
	r.pinned[revision] = s
	r.mu.Unlock()
	return s, nil
}

func normalizeURL(u string) string {
	return strings.TrimSuffix(strings.TrimSuffix(strings.ToLower(u), "/"), ".git")
}

// Render renders every Application concurrently. Results keep the order of apps. The error joins
// one *Error per failed Application; no Release is returned for those.
func (r *Renderer) Render(ctx context.Context, apps []argov1.Application) ([]*Release, error) {
	return r.RenderStream(ctx, apps, nil)
}

// RenderStream is Render calling each (when set) with every release as soon as it is rendered,
// from the rendering goroutine: a caller that writes a release out and then drops its Manifest
// and Objects keeps memory bounded by the concurrency instead of by the fleet. An error of each
// is that Application's error.
func (r *Renderer) RenderStream(ctx context.Context, apps []argov1.Application, each func(*Release) error) ([]*Release, error) {
	out := make([]*Release, len(apps))
	errs := make([]error, len(apps))
	g, ctx := errgroup.WithContext(ctx)
	n := r.Concurrency
	if n <= 0 {
		// Rendering is CPU-bound (templates, YAML): more goroutines than processors only hold
		// more releases in memory at once.
		n = runtime.GOMAXPROCS(0)
	}
	g.SetLimit(n)
	for i := range apps {
		g.Go(func() error {
			rel, err := r.renderApp(ctx, &apps[i])
			if err == nil && each != nil {
				err = each(rel)
			}
			if err != nil {
				errs[i] = &Error{App: apps[i].Name, Err: err}
				return nil
			}
			out[i] = rel
			return nil
		})
	}
	_ = g.Wait()
	if err := errors.Join(errs...); err != nil {
		var ok []*Release
		for _, rel := range out {
			if rel != nil {
				ok = append(ok, rel)
			}
		}
		return ok, err
	}
	return out, nil
}

func (r *Renderer) renderApp(ctx context.Context, app *argov1.Application) (*Release, error) {
	var chartSrc *argov1.ApplicationSource
	refs := map[string]*argov1.ApplicationSource{}
	sources := app.Spec.GetSources()
	for i := range sources {
		s := &sources[i]
		if s.Ref != "" {
			refs["$"+s.Ref] = s
		}
		if s.Path != "" || s.Chart != "" {
			if chartSrc != nil {
				return nil, errors.New("more than one source renders manifests; lakeport supports one chart source plus value references")
			}
			chartSrc = s
		}
	}
	if chartSrc == nil {
		return nil, errors.New("no source with a chart path")
	}
	if chartSrc.Chart != "" {
		return nil, fmt.Errorf("chart %q comes from a Helm repository (%s): lakeport renders charts from the kit repository only", chartSrc.Chart, chartSrc.RepoURL)
	}
	helm := chartSrc.Helm
	if helm == nil {
		helm = &argov1.ApplicationSourceHelm{}
	}
	rel := &Release{
		App:         app.Name,
		Environment: app.Labels[LabelEnvironment],
		Component:   app.Labels[LabelComponent],
		Namespace:   app.Spec.Destination.Namespace,
		ReleaseName: app.Name,
		Chart:       Chart{Path: path.Clean(chartSrc.Path), Revision: chartSrc.TargetRevision},
	}
	if helm.ReleaseName != "" {
		rel.ReleaseName = helm.ReleaseName
	}
	if helm.Namespace != "" {
		rel.Namespace = helm.Namespace
	}

	snap, err := r.Snapshot(chartSrc.RepoURL, chartSrc.TargetRevision)
	if err != nil {
		return nil, fmt.Errorf("chart %s at revision %q: %w", chartSrc.Path, chartSrc.TargetRevision, err)
	}
	rel.Chart.Resolved = snap.Revision()
	cf, err := r.chartFiles(snap, rel.Chart.Path)
	if err != nil {
		return nil, err
	}

	// The value files, read first: with the chart's digest they key the cache.
	type valueFile struct {
		path string
		raw  []byte
	}
	var valueFiles []valueFile
	key := &cacheKey{Format: cacheFormat, Chart: cf.digest, ChartPath: rel.Chart.Path, ReleaseName: rel.ReleaseName, Namespace: rel.Namespace, Helm: helm}
	for _, vf := range helm.ValueFiles {
		file, vsnap, err := r.resolveValueFile(vf, chartSrc, snap, refs)
		if err != nil {
			return nil, err
		}
		raw, err := vsnap.ReadFile(file)
		if err != nil {
			if helm.IgnoreMissingValueFiles && errors.Is(err, fs.ErrNotExist) {
				key.ValueFiles = append(key.ValueFiles, valueFileKey{Path: file, Missing: true})
				continue
			}
			return nil, fmt.Errorf("values file %s: %w", file, err)
		}
		valueFiles = append(valueFiles, valueFile{file, raw})
		if line := ignoredLine(raw); line > 0 {
			rel.IgnoredValues = append(rel.IgnoredValues, IgnoredValues{File: file, Line: line})
		}
		sum := sha256.Sum256(raw)
		key.ValueFiles = append(key.ValueFiles, valueFileKey{Path: file, SHA256: hex.EncodeToString(sum[:])})
	}
	var cacheKey string
	if r.Cache != nil {
		key.Build = r.Cache.build
		if cacheKey, err = key.sum(); err != nil {
			return nil, err
		}
		if e := r.Cache.get(cacheKey); e != nil {
			if err := e.fill(rel); err == nil {
				return rel, nil
			}
		}
	}

	ch, err := cf.chart()
	if err != nil {
		return nil, fmt.Errorf("load chart %s at %s: %w", rel.Chart.Path, revLabel(snap), err)
	}
	rel.Chart.Name, rel.Chart.Version = ch.Metadata.Name, ch.Metadata.Version
	if ch.Metadata.Dependencies != nil {
		if err := action.CheckDependencies(ch, ch.Metadata.Dependencies); err != nil {
			return nil, fmt.Errorf("chart %s at %s: %w (vendor dependencies into its charts/ folder)", rel.Chart.Path, revLabel(snap), err)
		}
	}

	vals := map[string]any{}
	for _, vf := range valueFiles {
		cur := map[string]any{}
		if err := sigsyaml.Unmarshal(vf.raw, &cur); err != nil {
			return nil, fmt.Errorf("values file %s: %w", vf.path, err)
		}
		vals = mergeMaps(vals, cur)
		rel.ValueFiles = append(rel.ValueFiles, vf.path)
	}
	if !helm.ValuesIsEmpty() {
		cur := map[string]any{}
		if err := sigsyaml.Unmarshal(helm.ValuesYAML(), &cur); err != nil {
			return nil, fmt.Errorf("inline helm values of Application %s: %w", app.Name, err)
		}
		vals = mergeMaps(vals, cur)
	}
	for _, p := range helm.Parameters {
		parse := strvals.ParseInto
		if p.ForceString {
			parse = strvals.ParseIntoString
		}
		if err := parse(p.Name+"="+p.Value, vals); err != nil {
			return nil, fmt.Errorf("helm parameter %s: %w", p.Name, err)
		}
	}
	if len(helm.FileParameters) > 0 {
		return nil, errors.New("helm fileParameters are not supported by lakeport render")
	}

	// Helm validates the coalesced values against values.schema.json, compiling the schema again
	// for every release; for charts without subcharts (whose enabled set Helm works out first),
	// validate here with each schema compiled once.
	ownValidation := !helm.SkipSchemaValidation && len(ch.Dependencies()) == 0 && len(ch.Metadata.Dependencies) == 0
	var coalesced chartutil.Values
	if ownValidation {
		coalesced, err = chartutil.CoalesceValues(ch, vals)
		if err != nil {
			return nil, fmt.Errorf("chart %s at %s with %s: %w", rel.Chart.Path, revLabel(snap), strings.Join(rel.ValueFiles, ", "), err)
		}
		if err := r.schemas.validateValues(ch, coalesced); err != nil {
			return nil, fmt.Errorf("chart %s at %s with %s: %w", rel.Chart.Path, revLabel(snap), strings.Join(rel.ValueFiles, ", "), err)
		}
	}
	topts := templateOptions{
		ReleaseName:          rel.ReleaseName,
		Namespace:            rel.Namespace,
		IncludeCRDs:          !helm.SkipCrds,
		SkipSchemaValidation: helm.SkipSchemaValidation || ownValidation,
		SkipTests:            helm.SkipTests,
		APIVersions:          helm.APIVersions,
		Engine:               &r.engine,
		Documents:            r.Documents,
		Coalesced:            coalesced,
	}
	if helm.KubeVersion != "" {
		kv, err := chartutil.ParseKubeVersion(helm.KubeVersion)
		if err != nil {
			return nil, fmt.Errorf("kubeVersion %q: %w", helm.KubeVersion, err)
		}
		topts.KubeVersion = kv
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if rel.Manifest, rel.Objects, err = helmTemplate(ch, vals, topts); err != nil {
		return nil, fmt.Errorf("chart %s at %s with %s: %w", rel.Chart.Path, revLabel(snap), strings.Join(rel.ValueFiles, ", "), err)
	}
	if r.Cache != nil {
		if err := r.Cache.put(cacheKey, newCacheEntry(rel)); err != nil {
			return nil, err
		}
	}
	return rel, nil
}

// resolveValueFile maps an Argo CD value file reference ($ref/path or a path relative to the chart)
// to a repository path and the snapshot it is read from.
func (r *Renderer) resolveValueFile(vf string, chartSrc *argov1.ApplicationSource, chartSnap source.Snapshot, refs map[string]*argov1.ApplicationSource) (string, source.Snapshot, error) {
	if strings.HasPrefix(vf, "$") {
		ref, rest, _ := strings.Cut(vf, "/")
		src, ok := refs[ref]
		if !ok {
			return "", nil, fmt.Errorf("value file %s: no source with ref %q", vf, strings.TrimPrefix(ref, "$"))
		}
		snap, err := r.Snapshot(src.RepoURL, src.TargetRevision)
		if err != nil {
			return "", nil, fmt.Errorf("value file %s: %w", vf, err)
		}
		return path.Clean(rest), snap, nil
	}
	if strings.Contains(vf, "://") {
		return "", nil, fmt.Errorf("value file %s: remote value files are not supported offline", vf)
	}
	p := path.Clean(path.Join(chartSrc.Path, vf))
	if strings.HasPrefix(p, "..") {
		return "", nil, fmt.Errorf("value file %s is outside the repository", vf)
	}
	return p, chartSnap, nil
}

// chartFiles loads (once per revision and path) the chart's files, honouring .helmignore as
// `helm template <dir>` does.
func (r *Renderer) chartFiles(snap source.Snapshot, dir string) (*chartFiles, error) {
	key := snap.Revision() + ":" + dir
	r.mu.Lock()
	cf, ok := r.charts[key]
	if !ok {
		cf = &chartFiles{}
		r.charts[key] = cf
	}
	r.mu.Unlock()
	cf.once.Do(func() {
		if cf.files, cf.err = readChart(snap, dir); cf.err == nil {
			cf.digest = chartDigest(cf.files)
		}
	})
	return cf, cf.err
}

var utf8bom = []byte{0xEF, 0xBB, 0xBF}

func readChart(snap source.Snapshot, dir string) ([]*loader.BufferedFile, error) {
	names, err := snap.Files(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("chart %s does not exist at %s", dir, revLabel(snap))
		}
		return nil, fmt.Errorf("read chart %s at %s: %w", dir, revLabel(snap), err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("chart %s does not exist at %s", dir, revLabel(snap))
	}
	rules := ignore.Empty()
	if raw, err := snap.ReadFile(path.Join(dir, ignore.HelmIgnore)); err == nil {
		if rules, err = ignore.Parse(bytes.NewReader(raw)); err != nil {
			return nil, fmt.Errorf("%s/.helmignore: %w", dir, err)
		}
	}
	rules.AddDefaults()
	var files []*loader.BufferedFile
	for _, name := range names {
		rel := strings.TrimPrefix(name, dir+"/")
		if HelmIgnored(rules, rel) {
			continue
		}
		data, err := snap.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("read %s at %s: %w", name, revLabel(snap), err)
		}
		files = append(files, &loader.BufferedFile{Name: rel, Data: bytes.TrimPrefix(data, utf8bom)})
	}
	return files, nil
}

// HelmIgnored applies .helmignore rules to a chart-relative path, folders first, as Helm's
// directory loader does.
func HelmIgnored(rules *ignore.Rules, rel string) bool {
	parts := strings.Split(rel, "/")
	for i := 1; i < len(parts); i++ {
		if rules.Ignore(strings.Join(parts[:i], "/"), fileInfo{name: parts[i-1], dir: true}) {
			return true
		}
	}
	return rules.Ignore(rel, fileInfo{name: parts[len(parts)-1]})
}

type fileInfo struct {
	name string
	dir  bool
}

func (f fileInfo) Name() string { return f.name }
func (f fileInfo) Size() int64  { return 0 }
func (f fileInfo) Mode() fs.FileMode {
	if f.dir {
		return fs.ModeDir | 0o755
	}
	return 0o644
}
func (f fileInfo) ModTime() time.Time { return time.Time{} }
func (f fileInfo) IsDir() bool        { return f.dir }
func (f fileInfo) Sys() any           { return nil }

var _ os.FileInfo = fileInfo{}

var (
	docSep     = regexp.MustCompile(`(?m)^---[ \t]*$`)
	sourceLine = regexp.MustCompile(`(?m)^# Source: (.*)$`)
)

// SplitManifest splits a `helm template` stream into objects, in order. Empty documents are
// dropped; a document that is not a Kubernetes object is an error naming its template.
func SplitManifest(manifest string) ([]*Object, error) {
	var out []*Object
	for _, doc := range docSep.Split(manifest, -1) {
		src := ""
		if m := sourceLine.FindStringSubmatch(doc); m != nil {
			src = strings.TrimSpace(m[1])
			doc = strings.Replace(doc, m[0], "", 1)
		}
		body := strings.Trim(doc, "\n")
		var content map[string]any
		// body+"\n": a block scalar ending the document keeps its final newline, as in o.YAML.
		if err := sigsyaml.Unmarshal([]byte(body+"\n"), &content); err != nil {
			return nil, fmt.Errorf("template %s does not render valid YAML: %w", src, err)
		}
		if len(content) == 0 {
			continue
		}
		o, err := newObject(src, body, content)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

// newObject is a parsed, non-empty document of a template.
func newObject(src, body string, content map[string]any) (*Object, error) {
	o := &Object{Source: src, YAML: body + "\n", Content: content}
	o.APIVersion, _ = content["apiVersion"].(string)
	o.Kind, _ = content["kind"].(string)
	meta, _ := content["metadata"].(map[string]any)
	o.Name, _ = meta["name"].(string)
	o.Namespace, _ = meta["namespace"].(string)
	if ann, ok := meta["annotations"].(map[string]any); ok {
		o.Hook, _ = ann["helm.sh/hook"].(string)
	}
	if o.Kind == "" || o.APIVersion == "" {
		return nil, fmt.Errorf("template %s renders a document without apiVersion and kind", src)
	}
	return o, nil
}

// mergeMaps is Helm's value-file merge: nested maps merge, anything else is replaced.
func mergeMaps(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if v, ok := v.(map[string]any); ok {
			if bv, ok := out[k]; ok {
				if bv, ok := bv.(map[string]any); ok {
					out[k] = mergeMaps(bv, v)
					continue
				}
			}
		}
		out[k] = v
	}
	return out
}

// short shortens a commit SHA for messages (one rule for the whole CLI: source.ShortSHA).
func short(rev string) string { return source.ShortSHA(rev) }

func revLabel(s source.Snapshot) string {
	if s.Revision() == source.Worktree {
		return "the working tree"
	}
	return "revision " + short(s.Revision())
}

// SortReleases orders releases by environment, then application name.
func SortReleases(rels []*Release, envOrder []string) {
	rank := map[string]int{}
	for i, e := range envOrder {
		rank[e] = i + 1
	}
	sort.SliceStable(rels, func(i, j int) bool {
		ri, rj := rank[rels[i].Environment], rank[rels[j].Environment]
		if ri != rj {
			return ri < rj
		}
		return rels[i].App < rels[j].App
	})
}
