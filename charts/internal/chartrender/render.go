// Package chartrender renders the Lakeport charts in-process exactly as Argo CD's repo server
// does with `helm template`: release name = component, namespace = the environment's
// destination namespace, kube version and API versions from env.yaml, CRDs and hooks included.
// It is shared by the chart tests; the lakeport CLI has its own renderer in cli/.
package chartrender

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"sigs.k8s.io/yaml"
)

// Env is the part of environments/<env>/env.yaml that decides how a chart is rendered.
type Env struct {
	Name        string      `json:"environment"`
	Project     string      `json:"project"`
	Destination Destination `json:"destination"`
	KubeVersion string      `json:"kubeVersion"`
	APIVersions []string    `json:"apiVersions"`
	Components  []Component `json:"components"`
}

// Destination is where Argo CD deploys an environment.
type Destination struct {
	Server    string `json:"server"`
	Namespace string `json:"namespace"`
}

// Component is one Application of an environment.
type Component struct {
	Component string `json:"component"`
	Chart     string `json:"chart"`
	Revision  string `json:"revision"`
	Wave      string `json:"wave"`
}

// LoadEnv reads environments/<name>/env.yaml under root (the repository root).
func LoadEnv(root, name string) (Env, error) {
	path := filepath.Join(root, "environments", name, "env.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		return Env{}, fmt.Errorf("read env: %w", err)
	}
	var env Env
	if err := yaml.Unmarshal(data, &env); err != nil {
		return Env{}, fmt.Errorf("parse %s: %w", path, err)
	}
	if env.Destination.Namespace == "" || env.KubeVersion == "" {
		return Env{}, fmt.Errorf("%s: destination.namespace and kubeVersion are required", path)
	}
	return env, nil
}

// Envs lists the environment folders under root/environments that hold an env.yaml, sorted.
func Envs(root string) ([]string, error) {
	matches, err := filepath.Glob(filepath.Join(root, "environments", "*", "env.yaml"))
	if err != nil {
		return nil, fmt.Errorf("list environments: %w", err)
	}
	names := make([]string, 0, len(matches))
	for _, m := range matches {
		names = append(names, filepath.Base(filepath.Dir(m)))
	}
	sort.Strings(names)
	return names, nil
}

// Request says what to render.
type Request struct {
	// ChartDir is the chart folder.
	ChartDir string
	// ReleaseName is the Argo CD Application's helm.releaseName (the component name).
	ReleaseName string
	// Namespace is the destination namespace.
	Namespace string
	// KubeVersion and APIVersions are the Application's helm.kubeVersion and helm.apiVersions.
	KubeVersion string
	APIVersions []string
	// ValueFiles are merged in order, like helm's -f.
	ValueFiles []string
	// Values are merged last, like --set (nested maps).
	Values map[string]any
}

// ForEnv returns the request Argo CD makes for a component of an environment: the chart is the
// component's `chart` in env.yaml (several components may share one chart, like the Spring Boot
// APIs), charts/<component> when the environment does not list it.
func ForEnv(root string, env Env, component string) Request {
	chartDir := filepath.Join(root, "charts", component)
	for _, c := range env.Components {
		if c.Component == component && c.Chart != "" {
			chartDir = filepath.Join(root, filepath.FromSlash(c.Chart))
		}
	}
	return Request{
		ChartDir:    chartDir,
		ReleaseName: component,
		Namespace:   env.Destination.Namespace,
		KubeVersion: env.KubeVersion,
		APIVersions: env.APIVersions,
		ValueFiles:  []string{filepath.Join(root, "environments", env.Name, component+".yaml")},
	}
}

// Render renders the chart and returns the manifest stream followed by the hooks, as
// `helm template --include-crds` prints it.
func Render(req Request) (string, error) {
	chrt, err := loader.Load(req.ChartDir)
	if err != nil {
		return "", fmt.Errorf("load chart %s: %w", req.ChartDir, err)
	}
	vals := map[string]any{}
	for _, f := range req.ValueFiles {
		v, err := chartutil.ReadValuesFile(f)
		if err != nil {
			return "", fmt.Errorf("read values %s: %w", f, err)
		}
		vals = mergeMaps(vals, v.AsMap())
	}
	if req.Values != nil {
		vals = mergeMaps(vals, req.Values)
	}

	client := action.NewInstall(&action.Configuration{Log: func(string, ...any) {}})
	client.DryRun = true
	client.DryRunOption = "true"
	client.ClientOnly = true
	client.Replace = true
	client.IncludeCRDs = true
	client.ReleaseName = req.ReleaseName
	client.Namespace = req.Namespace
	client.APIVersions = chartutil.VersionSet(req.APIVersions)
	if req.KubeVersion != "" {
		kv, err := chartutil.ParseKubeVersion(req.KubeVersion)
		if err != nil {
			return "", fmt.Errorf("kube version %q: %w", req.KubeVersion, err)
		}
		client.KubeVersion = kv
	}
	rel, err := client.Run(chrt, vals)
	if err != nil {
		return "", fmt.Errorf("render %s: %w", req.ReleaseName, err)
	}
	var b strings.Builder
	b.WriteString(strings.TrimSpace(rel.Manifest))
	b.WriteString("\n")
	for _, h := range rel.Hooks {
		fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", h.Path, h.Manifest)
	}
	return b.String(), nil
}

// mergeMaps merges b into a like helm's values merging: nested maps merge, everything else
// in b replaces what a holds.
func mergeMaps(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if vm, ok := v.(map[string]any); ok {
			if bv, ok := out[k].(map[string]any); ok {
				out[k] = mergeMaps(bv, vm)
				continue
			}
		}
		out[k] = v
	}
	return out
}
