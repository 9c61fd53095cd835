package render

import (
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	helmengine "helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/releaseutil"

	"github.com/lakeport/lakeport/cli/pkg/render/internal/engine"
)

// templateOptions are the `helm template` flags Argo CD's repo server sets.
type templateOptions struct {
	ReleaseName, Namespace string
	KubeVersion            *chartutil.KubeVersion
	APIVersions            []string
	IncludeCRDs            bool
	SkipSchemaValidation   bool
	SkipTests              bool
	// Engine renders the templates, keeping each chart's parsed (nil: Helm's engine, which
	// parses them again).
	Engine *engine.Engine
	// Documents, when set, parses each distinct document once across releases.
	Documents *Documents
	// Coalesced, when set, are the values already coalesced with the chart's (CoalesceValues of
	// a chart without dependencies, whose processing changes nothing): Helm's ToRenderValues would
	// coalesce them a second time, a tenth of a release's render on a fleet.
	Coalesced chartutil.Values
}

// helmTemplate is `helm template` for one release: what action.Install does in a client-only dry
// run (helm v3.22 pkg/action/install.go and action.go renderResources), then what the template
// command prints. It returns the output byte for byte and its objects.
//
// It is Helm's code path step for step, with Helm's own functions, except for one thing: Helm
// parses every rendered document to sort it (releaseutil.SortManifests reads its kind and
// annotations), and lakeport then parsed the printed stream again to get its objects. Here each
// document is parsed once; its kind and annotations are read from that parse with the same type
// rules as Helm's SimpleHead, and the stable kind order is Helm's InstallOrder. The conformance
// test compares the output with the real helm binary for every release of the kit and of the
// fixture kit (CRDs, hooks, a test hook).
func helmTemplate(ch *chart.Chart, vals map[string]any, o templateOptions) (string, []*Object, error) {
	if err := chartutil.ValidateReleaseName(o.ReleaseName); err != nil {
		return "", nil, fmt.Errorf("release name %q: %w", o.ReleaseName, err)
	}
	if err := chartutil.ProcessDependenciesWithMerge(ch, vals); err != nil {
		return "", nil, err
	}
	caps := chartutil.DefaultCapabilities.Copy()
	if o.KubeVersion != nil {
		caps.KubeVersion = *o.KubeVersion
	}
	caps.APIVersions = append(caps.APIVersions, o.APIVersions...)
	relOpts := chartutil.ReleaseOptions{Name: o.ReleaseName, Namespace: o.Namespace, Revision: 1, IsInstall: true}
	var toRender chartutil.Values
	var err error
	if o.Coalesced != nil && o.SkipSchemaValidation {
		toRender = renderValues(ch, o.Coalesced, relOpts, caps)
	} else if toRender, err = chartutil.ToRenderValuesWithSchemaValidation(ch, vals, relOpts, caps, o.SkipSchemaValidation); err != nil {
		return "", nil, err
	}
	if ch.Metadata.KubeVersion != "" && !chartutil.IsCompatibleRange(ch.Metadata.KubeVersion, caps.KubeVersion.String()) {
		return "", nil, fmt.Errorf("chart requires kubeVersion: %s which is incompatible with Kubernetes %s", ch.Metadata.KubeVersion, caps.KubeVersion.String())
	}
	var files map[string]string
	if o.Engine != nil {
		files, err = o.Engine.Render(ch, toRender)
	} else {
		files, err = helmengine.Engine{}.Render(ch, toRender)
	}
	if err != nil {
		return "", nil, err
	}
	for name := range files {
		if strings.HasSuffix(name, "NOTES.txt") {
			delete(files, name)
		}
	}
	manifests, hooks, err := sortManifests(files, o.Documents)
	if err != nil {
		return "", nil, err
	}

	var b strings.Builder
	var crdText strings.Builder
	if o.IncludeCRDs {
		for _, crd := range ch.CRDObjects() {
			fmt.Fprintf(&crdText, "---\n# Source: %s\n%s\n", crd.Filename, crd.File.Data)
		}
	}
	b.WriteString(crdText.String())
	for _, m := range manifests {
		fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", m.path, m.content)
	}
	// The template command prints the manifest trimmed, then the hooks.
	out := strings.TrimSpace(b.String()) + "\n"
	var hb strings.Builder
	for _, h := range hooks {
		if o.SkipTests && h.test {
			continue
		}
		fmt.Fprintf(&hb, "---\n# Source: %s\n%s\n", h.path, h.content)
	}
	out += hb.String()

	objs, err := SplitManifest(crdText.String())
	if err != nil {
		return "", nil, err
	}
	for _, list := range [][]*document{manifests, hooks} {
		for _, d := range list {
			if o.SkipTests && d.test {
				continue
			}
			obj, err := d.object()
			if err != nil {
				return "", nil, err
			}
			if obj != nil {
				objs = append(objs, obj)
			}
		}
	}
	return out, objs, nil
}

// document is one rendered YAML document, parsed once.
type document struct {
	path, content string
	parsed        map[string]any
	exact         bool // parsed's JSON encoding is exact (parseExact)
	kind          string
	test          bool // a hook that runs on `helm test`
}

// object is the document as SplitManifest would return it from the printed stream (nil when the
// document is empty).
func (d *document) object() (*Object, error) {
	if len(d.parsed) == 0 {
		return nil, nil
	}
	o, err := newObject(d.path, d.content, d.parsed)
	if o != nil {
		o.exactJSON = d.exact
	}
	return o, err
}

// renderValues is chartutil.ToRenderValuesWithSchemaValidation (Helm v3.22.0,
// pkg/chartutil/values.go) with the values coalesced already and no schema validation.
func renderValues(ch *chart.Chart, coalesced chartutil.Values, o chartutil.ReleaseOptions, caps *chartutil.Capabilities) chartutil.Values {
	return chartutil.Values{
		"Chart":        ch.Metadata,
		"Capabilities": caps,
		"Release": map[string]any{
			"Name":      o.Name,
			"Namespace": o.Namespace,
			"IsUpgrade": o.IsUpgrade,
			"IsInstall": o.IsInstall,
			"Revision":  o.Revision,
			"Service":   "Helm",
		},
		"Values": coalesced,
	}
}

// sortManifests is releaseutil.SortManifests (files in path order, partials and blank files
// skipped, documents split as Helm splits them, hooks apart, unknown hooks dropped, both lists
// stably sorted by InstallOrder) with each document parsed once.
func sortManifests(files map[string]string, docs *Documents) (manifests, hooks []*document, err error) {
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		content := files[p]
		if strings.HasPrefix(path.Base(p), "_") || strings.TrimSpace(content) == "" {
			continue
		}
		for _, m := range splitManifests(content) {
			d := &document{path: p, content: m}
			// m+"\n": a block scalar ending the document keeps its final newline, as in Object.YAML.
			pd, err := docs.parse(m)
			if err != nil {
				return nil, nil, fmt.Errorf("YAML parse error on %s: %w", p, err)
			}
			d.parsed, d.exact = pd.m, pd.exact
			head, err := simpleHead(d.parsed)
			if err != nil {
				return nil, nil, fmt.Errorf("YAML parse error on %s: %w", p, err)
			}
			d.kind = head.kind
			hookTypes, ok := head.annotations[release.HookAnnotation]
			if !ok {
				manifests = append(manifests, d)
				continue
			}
			known := true
			for _, t := range strings.Split(hookTypes, ",") {
				e, ok := hookEvents[strings.ToLower(strings.TrimSpace(t))]
				if !ok {
					known = false // Helm skips a document with an unknown hook
					break
				}
				d.test = d.test || e == release.HookTest
			}
			if known {
				hooks = append(hooks, d)
			}
		}
	}
	byKind := func(list []*document) {
		sort.SliceStable(list, func(i, j int) bool { return lessByKind(list[i].kind, list[j].kind) })
	}
	byKind(manifests)
	byKind(hooks)
	return manifests, hooks, nil
}

// hookEvents are the hook names Helm knows (releaseutil's events).
var hookEvents = map[string]release.HookEvent{
	release.HookPreInstall.String():   release.HookPreInstall,
	release.HookPostInstall.String():  release.HookPostInstall,
	release.HookPreDelete.String():    release.HookPreDelete,
	release.HookPostDelete.String():   release.HookPostDelete,
	release.HookPreUpgrade.String():   release.HookPreUpgrade,
	release.HookPostUpgrade.String():  release.HookPostUpgrade,
	release.HookPreRollback.String():  release.HookPreRollback,
	release.HookPostRollback.String(): release.HookPostRollback,
	release.HookTest.String():         release.HookTest,
	"test-success":                    release.HookTest,
}

var installRank = func() map[string]int {
	m := make(map[string]int, len(releaseutil.InstallOrder))
	for i, k := range releaseutil.InstallOrder {
		m[k] = i
	}
	return m
}()

// lessByKind is releaseutil's: kinds in InstallOrder first, in that order, then unknown kinds
// alphabetically.
func lessByKind(a, b string) bool {
	ra, aok := installRank[a]
	rb, bok := installRank[b]
	switch {
	case !aok && !bok:
		return a < b
	case !aok:
		return false
	case !bok:
		return true
	}
	return ra < rb
}

type head struct {
	kind        string
	annotations map[string]string
}

// simpleHead reads what releaseutil.SimpleHead does from a parsed document, failing where decoding
// into it fails: apiVersion, kind, metadata.name and annotation values must be strings (or null),
// metadata an object.
func simpleHead(doc map[string]any) (head, error) {
	var h head
	for _, k := range []string{"apiVersion", "kind"} {
		switch v := doc[k].(type) {
		case nil:
		case string:
			if k == "kind" {
				h.kind = v
			}
		default:
			return h, fmt.Errorf("json: cannot unmarshal %s into Go struct field SimpleHead.%s of type string", jsonType(v), k)
		}
	}
	var meta map[string]any
	switch v := doc["metadata"].(type) {
	case nil:
		return h, nil
	case map[string]any:
		meta = v
	default:
		return h, fmt.Errorf("json: cannot unmarshal %s into Go struct field SimpleHead.metadata of type struct", jsonType(v))
	}
	switch v := meta["name"].(type) {
	case nil, string:
	default:
		return h, fmt.Errorf("json: cannot unmarshal %s into Go struct field .metadata.name of type string", jsonType(v))
	}
	switch v := meta["annotations"].(type) {
	case nil:
	case map[string]any:
		h.annotations = make(map[string]string, len(v))
		for k, a := range v {
			switch a := a.(type) {
			case nil:
				h.annotations[k] = ""
			case string:
				h.annotations[k] = a
			default:
				return h, fmt.Errorf("json: cannot unmarshal %s into Go struct field .metadata.annotations of type string", jsonType(a))
			}
		}
	default:
		return h, fmt.Errorf("json: cannot unmarshal %s into Go struct field .metadata.annotations of type map[string]string", jsonType(v))
	}
	return h, nil
}

func jsonType(v any) string {
	switch v.(type) {
	case bool:
		return "bool"
	case float64, int64:
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return strconv.Quote(fmt.Sprintf("%T", v))
}

// splitManifests is releaseutil.SplitManifests without its regular expression (7% of a render):
// the same documents, trimmed and without empty ones, in order. Helm splits on
// `(?:^|\s*\n)---\s*`: "---" at the very start or right after a newline, taking the whitespace
// around it (newlines included) with it. TestSplitManifestsMatchesHelm fuzzes the two against
// each other.
func splitManifests(bigFile string) []string {
	s := strings.TrimSpace(bigFile)
	var docs []string
	add := func(d string) {
		if d != "" {
			docs = append(docs, strings.TrimSpace(d))
		}
	}
	skipSpace := func(i int) int {
		for i < len(s) && isRE2Space(s[i]) {
			i++
		}
		return i
	}
	start, i := 0, 0
	if strings.HasPrefix(s, "---") {
		start = skipSpace(3)
		i = start
	}
	for {
		q := strings.Index(s[i:], "\n---")
		if q < 0 {
			break
		}
		q += i
		p := q // the match starts where the whitespace before "\n---" starts
		for p > i && isRE2Space(s[p-1]) {
			p--
		}
		add(s[start:p])
		start = skipSpace(q + 4)
		i = start
	}
	add(s[start:])
	return docs
}

// isRE2Space is \s in Go regular expressions: [\t\n\f\r ].
func isRE2Space(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'
}
