// Package helmpeer runs the real helm binary the way Argo CD's repo server does
// (util/helm/cmd.go: `helm template <chart> --name-template --namespace --kube-version --values...
// --api-versions... --include-crds`), as the peer that conformance tests and benchmarks compare
// lakeport render against.
package helmpeer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	argov1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"

	"github.com/lakeport/lakeport/cli/pkg/render"
	"github.com/lakeport/lakeport/cli/pkg/source"
	"github.com/lakeport/lakeport/cli/pkg/workspace"
)

// Invocation is one prepared `helm template` run.
type Invocation struct {
	App  string
	Args []string
	Env  []string
}

// Prepare writes each release's chart (at its resolved revision) and value files under dir, as a
// repo server's checkout would hold them, and returns the helm invocations. Floating charts and
// value files from the working tree are used in place.
func Prepare(w *workspace.Workspace, rels []*render.Release, dir string) ([]Invocation, error) {
	apps := map[string]*argov1.Application{}
	for i := range w.Apps {
		apps[w.Apps[i].Name] = &w.Apps[i]
	}
	var out []Invocation
	for _, rel := range rels {
		app := apps[rel.App]
		if app == nil {
			return nil, fmt.Errorf("no Application %s", rel.App)
		}
		chartDir, err := materialize(w, rel.Chart.Resolved, rel.Chart.Path, filepath.Join(dir, rel.App))
		if err != nil {
			return nil, err
		}
		var h *argov1.ApplicationSourceHelm
		for _, s := range app.Spec.GetSources() {
			if s.Ref == "" && s.Helm != nil {
				h = s.Helm
			}
		}
		if h == nil {
			h = &argov1.ApplicationSourceHelm{}
		}
		args := []string{"template", chartDir, "--name-template", rel.ReleaseName, "--namespace", rel.Namespace}
		if h.KubeVersion != "" {
			args = append(args, "--kube-version", h.KubeVersion)
		}
		for _, vf := range rel.ValueFiles {
			p, err := materializeFile(w, vf, filepath.Join(dir, rel.App, "values"))
			if err != nil {
				return nil, err
			}
			args = append(args, "--values", p)
		}
		for _, v := range h.APIVersions {
			args = append(args, "--api-versions", v)
		}
		if !h.SkipCrds {
			args = append(args, "--include-crds")
		}
		home := filepath.Join(dir, ".helm")
		out = append(out, Invocation{App: rel.App, Args: args, Env: append(os.Environ(),
			"HELM_CACHE_HOME="+home, "HELM_CONFIG_HOME="+home, "HELM_DATA_HOME="+home)})
	}
	return out, nil
}

// Run executes one invocation and returns helm's stdout.
func Run(ctx context.Context, helm string, inv Invocation) (string, error) {
	cmd := exec.CommandContext(ctx, helm, inv.Args...)
	cmd.Env = inv.Env
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("helm %s: %w\n%s", strings.Join(inv.Args, " "), err, ee.Stderr)
		}
		return "", fmt.Errorf("helm %s: %w", strings.Join(inv.Args, " "), err)
	}
	return string(out), nil
}

// materialize returns a directory holding the chart at a revision: the working-tree folder itself
// for floating pins, else the files extracted from the commit into dest.
func materialize(w *workspace.Workspace, resolved, chartPath, dest string) (string, error) {
	if resolved == source.Worktree {
		return filepath.Join(w.Repo.Root(), filepath.FromSlash(chartPath)), nil
	}
	snap, err := w.Repo.At(resolved)
	if err != nil {
		return "", err
	}
	files, err := snap.Files(chartPath)
	if err != nil {
		return "", err
	}
	root := filepath.Join(dest, "chart")
	for _, name := range files {
		b, err := snap.ReadFile(name)
		if err != nil {
			return "", err
		}
		p := filepath.Join(root, filepath.FromSlash(strings.TrimPrefix(name, chartPath+"/")))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return "", err
		}
	}
	return root, nil
}

func materializeFile(w *workspace.Workspace, name, destDir string) (string, error) {
	if w.Head.Revision() == source.Worktree {
		return filepath.Join(w.Repo.Root(), filepath.FromSlash(name)), nil
	}
	b, err := w.Head.ReadFile(name)
	if err != nil {
		return "", err
	}
	p := filepath.Join(destDir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", err
	}
	return p, os.WriteFile(p, b, 0o644)
}
