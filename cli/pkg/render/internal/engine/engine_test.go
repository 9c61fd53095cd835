package engine

import (
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	helmengine "helm.sh/helm/v3/pkg/engine"
)

// TestEngineMatchesHelm renders charts with this engine and with Helm's, each several times with
// different values through one Engine (so that later renders execute the parsed set kept from
// the first), and requires the same files and the same errors.
func TestEngineMatchesHelm(t *testing.T) {
	lib := &chart.Chart{
		Metadata:  &chart.Metadata{Name: "lib", Version: "0.1.0", APIVersion: "v2", Type: "library"},
		Templates: []*chart.File{{Name: "templates/_lib.tpl", Data: []byte(`{{- define "lib.name" -}}lib-{{ .Release.Name }}{{- end -}}`)}, {Name: "templates/ignored.yaml", Data: []byte("kind: Ignored\n")}},
	}
	sub := &chart.Chart{
		Metadata:  &chart.Metadata{Name: "sub", Version: "0.1.0", APIVersion: "v2"},
		Values:    map[string]any{"port": 80},
		Templates: []*chart.File{{Name: "templates/svc.yaml", Data: []byte("kind: Service\nname: {{ .Chart.Name }}-{{ .Values.port }}\nparent: {{ .Template.BasePath }}\n")}},
	}
	top := &chart.Chart{
		Metadata: &chart.Metadata{Name: "top", Version: "1.0.0", APIVersion: "v2"},
		Values:   map[string]any{"name": "x", "replicas": 1, "extra": "{{ .Values.name }}-tpl", "sub": map[string]any{"port": 81}},
		Files:    []*chart.File{{Name: "config/a.conf", Data: []byte("a=1\n")}, {Name: "config/b.conf", Data: []byte("b=2\n")}},
		Templates: []*chart.File{
			{Name: "templates/_helpers.tpl", Data: []byte(`{{- define "top.name" -}}{{ .Values.name | trunc 63 }}{{- end -}}
{{- define "top.rec" -}}{{ if gt (int .n) 0 }}{{ .n }}{{ include "top.rec" (dict "n" (sub (int .n) 1)) }}{{ end }}{{- end -}}`)},
			{Name: "templates/deploy.yaml", Data: []byte(`kind: Deployment
name: {{ include "top.name" . }}
lib: {{ include "lib.name" . }}
replicas: {{ .Values.replicas }}
tpl: {{ tpl .Values.extra . }}
tplDefine: {{ tpl "{{ define \"inner\" }}in-{{ .Values.name }}{{ end }}{{ include \"inner\" . }}" . }}
rec: {{ include "top.rec" (dict "n" 3) }}
missing: {{ .Values.nothing }}
template: {{ .Template.Name }}
files: {{ .Files.Glob "config/*" | len }}
config:
{{ (.Files.Glob "config/*").AsConfig | indent 2 }}
lines: {{ .Files.Lines "config/a.conf" | toJson }}
caps: {{ .Capabilities.KubeVersion.Version }}
yaml: {{ .Values.sub | toYaml | nindent 2 }}
host: {{ getHostByName "example.com" | quote }}
`)},
			{Name: "templates/required.yaml", Data: []byte(`{{- if .Values.needs }}value: {{ required "needs.value is required" .Values.needs.value }}{{ end }}
{{- if .Values.boom }}{{ fail "boom was set" }}{{ end }}
`)},
			{Name: "templates/NOTES.txt", Data: []byte("notes for {{ .Release.Name }}\n")},
		},
	}
	top.SetDependencies(sub, lib)
	// The same template names with other text: a set must be kept by content, not by names.
	other := &chart.Chart{Metadata: top.Metadata, Values: top.Values}
	for _, f := range top.Templates {
		if f.Name == "templates/deploy.yaml" {
			f = &chart.File{Name: f.Name, Data: []byte("kind: Other\nname: {{ include \"top.name\" . }}\n")}
		}
		other.Templates = append(other.Templates, f)
	}
	other.SetDependencies(sub, lib)
	broken := &chart.Chart{
		Metadata:  &chart.Metadata{Name: "broken", Version: "1.0.0", APIVersion: "v2"},
		Templates: []*chart.File{{Name: "templates/a.yaml", Data: []byte("a: {{ .Values.x \n")}},
	}

	type tc struct {
		name string
		ch   *chart.Chart
		vals []map[string]any
	}
	cases := []tc{
		{"include, tpl, define, subchart, library, Files", top, []map[string]any{
			{}, {"name": "y", "replicas": 3}, {"sub": map[string]any{"port": 90}, "extra": "{{ .Release.Namespace }}"},
		}},
		{"required fails", top, []map[string]any{{"needs": map[string]any{"value": ""}}, {"needs": map[string]any{"value": "ok"}}}},
		{"fail", top, []map[string]any{{"boom": true}}},
		{"tpl that does not parse", top, []map[string]any{{"extra": "{{ .Values.name "}}},
		{"same names, other text", other, []map[string]any{{}}},
		{"parse error", broken, []map[string]any{{}, {"x": 1}}},
	}
	// The kit's own charts, with their default values and one override each.
	root := filepath.Join("..", "..", "..", "..", "..", "charts")
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(root, e.Name(), "Chart.yaml")); err != nil {
			continue
		}
		ch, err := loader.LoadDir(filepath.Join(root, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, tc{"chart " + e.Name(), ch, []map[string]any{{}, {"nameOverride": "renamed"}}})
	}
	if len(cases) < 8 {
		t.Fatalf("found %d cases: the kit's charts are missing", len(cases))
	}

	caps := chartutil.DefaultCapabilities.Copy()
	var e Engine // one for every case, as a renderer keeps one for a whole fleet
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for i, v := range c.vals {
				vals, err := chartutil.ToRenderValues(c.ch, v, chartutil.ReleaseOptions{Name: "rel", Namespace: "ns", Revision: 1, IsInstall: true}, caps)
				if err != nil {
					t.Fatal(err)
				}
				// Each engine gets its own copy: rendering writes .Template into the values.
				want, wantErr := helmengine.Engine{}.Render(c.ch, copyValues(t, vals))
				got, gotErr := e.Render(c.ch, copyValues(t, vals))
				if (wantErr == nil) != (gotErr == nil) || (wantErr != nil && wantErr.Error() != gotErr.Error()) {
					t.Fatalf("values %d: error %v, Helm's: %v", i, gotErr, wantErr)
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("values %d: files differ from Helm's:\n%v\n---- Helm:\n%v", i, got, want)
				}
			}
		})
	}

	// Concurrent releases of one chart through one Engine: each gets its own output.
	ce := &Engine{}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := map[string]any{"name": "n" + string(rune('a'+i)), "replicas": i}
			vals, err := chartutil.ToRenderValues(top, v, chartutil.ReleaseOptions{Name: "rel", Namespace: "ns", Revision: 1, IsInstall: true}, caps)
			if err != nil {
				t.Error(err)
				return
			}
			want, _ := helmengine.Engine{}.Render(top, copyValues(t, vals))
			got, err := ce.Render(top, copyValues(t, vals))
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("concurrent release %d differs from Helm's (%v)", i, err)
			}
		}()
	}
	wg.Wait()
	if len(ce.sets) != 1 {
		t.Errorf("%d parsed sets for one chart, want 1", len(ce.sets))
	}
}

// copyValues deep-copies render values (maps only; the rest is shared read-only).
func copyValues(t *testing.T, v chartutil.Values) chartutil.Values {
	t.Helper()
	var cp func(m map[string]any) map[string]any
	cp = func(m map[string]any) map[string]any {
		out := make(map[string]any, len(m))
		for k, x := range m {
			switch x := x.(type) {
			case map[string]any:
				out[k] = cp(x)
			case chartutil.Values:
				out[k] = chartutil.Values(cp(x))
			default:
				out[k] = x
			}
		}
		return out
	}
	return cp(v)
}
