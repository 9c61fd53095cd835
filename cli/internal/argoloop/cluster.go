// Package argoloop runs the real GitOps loop for lakeport's tests: a Kubernetes control plane with
// simulated nodes (kwok), Argo CD v3 (repo-server, application-controller,
// applicationset-controller, argocd-server) started by hack/testenv, and the kit itself pushed to
// a local bare git repository, with the kit's own AppProjects and ApplicationSet applied (only the
// repository URL rewritten to the bare repository). Start it once per test package, in TestMain;
// only this package's own tests start it.
//
// It also offers the smaller pieces: a control plane with Argo CD's CRDs and nothing else
// (StartCluster), for tests that write Application objects themselves.
package argoloop

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/lakeport/lakeport/cli/pkg/crds"
	"github.com/lakeport/lakeport/hack/testenv"
)

// argoModule is the Argo CD module whose CRDs and types lakeport uses.
const argoModule = "github.com/argoproj/argo-cd/v3"

// Cluster is a control plane with Argo CD's CRDs installed and no Argo CD running.
type Cluster struct {
	Kube   *testenv.Kube
	Config *rest.Config
}

// StartCluster starts a control plane (testenv.StartKube) and installs Argo CD's CRDs.
func StartCluster(opts testenv.KubeOptions) (*Cluster, error) {
	k, err := testenv.StartKube(opts)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Kube: k, Config: RestConfig(k)}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := InstallCRDs(ctx, c.Config); err != nil {
		k.Stop()
		return nil, err
	}
	if err := InstallKitCRDs(ctx, c.Config, monitoringCRDs); err != nil {
		k.Stop()
		return nil, err
	}
	return c, nil
}

// monitoringCRDs are the Prometheus Operator's CRDs the kit embeds: every environment declares
// monitoring.coreos.com/v1 in its apiVersions, so the charts render ServiceMonitors and
// PrometheusRules for it, and a cluster that syncs them must serve those kinds, as a real cluster
// with the operator does.
const monitoringCRDs = "monitoring.coreos.com_*.yaml"

// InstallKitCRDs installs the CRDs the kit embeds (cli/pkg/crds) whose file names match the
// patterns, and waits until they are established (InstallCRDsFrom).
func InstallKitCRDs(ctx context.Context, cfg *rest.Config, patterns ...string) error {
	var all []byte
	for _, p := range patterns {
		names, err := fs.Glob(crds.FS, p)
		if err != nil || len(names) == 0 {
			return fmt.Errorf("the kit's CRDs %s: %v (found %d)", p, err, len(names))
		}
		for _, n := range names {
			raw, err := fs.ReadFile(crds.FS, n)
			if err != nil {
				return err
			}
			all = append(append(all, "---\n"...), raw...)
		}
	}
	return InstallCRDsFrom(ctx, cfg, all)
}

// Stop stops the control plane.
func (c *Cluster) Stop() {
	if c != nil {
		c.Kube.Stop()
	}
}

// RestConfig is a client-go config for a testenv control plane.
func RestConfig(k *testenv.Kube) *rest.Config {
	return &rest.Config{
		Host:            k.URL,
		BearerToken:     k.Token,
		TLSClientConfig: rest.TLSClientConfig{CAData: k.CAData},
		QPS:             100,
		Burst:           200,
	}
}

// CRDFile returns Argo CD's CRDs: the file hack/ensure.sh installs next to the argocd binary, or
// else the manifests of the argo-cd module this build uses, from the module cache.
func CRDFile() ([]byte, error) {
	if p, err := testenv.LookupTool("argocd-crds.yaml"); err == nil {
		return os.ReadFile(p)
	}
	dir, err := moduleDir(argoModule)
	if err != nil {
		return nil, err
	}
	var out []byte
	for _, f := range []string{"application-crd.yaml", "applicationset-crd.yaml", "appproject-crd.yaml"} {
		b, err := os.ReadFile(filepath.Join(dir, "manifests", "crds", f))
		if err != nil {
			return nil, fmt.Errorf("read Argo CD CRDs: %w", err)
		}
		out = append(out, []byte("\n---\n")...)
		out = append(out, b...)
	}
	return out, nil
}

// moduleDir finds a dependency's folder in the module cache, at the version this binary was
// built with.
func moduleDir(path string) (string, error) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "", errors.New("no build info in this binary")
	}
	version := ""
	for _, d := range bi.Deps {
		if d.Path == path {
			version = d.Version
			if d.Replace != nil {
				version = d.Replace.Version
			}
		}
	}
	if version == "" {
		return "", fmt.Errorf("%s is not a dependency of this binary", path)
	}
	cache := os.Getenv("GOMODCACHE")
	if cache == "" {
		out, err := exec.Command("go", "env", "GOMODCACHE").Output()
		if err != nil {
			return "", fmt.Errorf("go env GOMODCACHE: %w", err)
		}
		cache = strings.TrimSpace(string(out))
	}
	dir := filepath.Join(cache, escapeModPath(path)+"@"+version)
	if _, err := os.Stat(dir); err != nil {
		return "", fmt.Errorf("module %s@%s not in the module cache (go mod download %s@%s): %w", path, version, path, version, err)
	}
	return dir, nil
}

// escapeModPath applies the module cache's case escaping (upper case letters become !lower).
func escapeModPath(p string) string {
	var b strings.Builder
	for _, r := range p {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// InstallCRDs server-side-applies Argo CD's CRDs and waits until they are served.
func InstallCRDs(ctx context.Context, cfg *rest.Config) error {
	raw, err := CRDFile()
	if err != nil {
		return err
	}
	return InstallCRDsFrom(ctx, cfg, raw)
}

// InstallCRDsFrom server-side-applies the CRDs of a YAML stream and waits until they are served.
func InstallCRDsFrom(ctx context.Context, cfg *rest.Config, raw []byte) error {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	var names []string
	for _, doc := range splitYAML(string(raw)) {
		obj := &unstructured.Unstructured{}
		if err := sigsyaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
			return fmt.Errorf("decode CRD: %w", err)
		}
		if obj.GetKind() != "CustomResourceDefinition" {
			continue
		}
		if err := apply(ctx, dyn.Resource(crdGVR), obj); err != nil {
			return fmt.Errorf("apply CRD %s: %w", obj.GetName(), err)
		}
		names = append(names, obj.GetName())
	}
	for _, name := range names {
		if err := poll(ctx, "CRD "+name+" Established", func() (bool, error) {
			o, err := dyn.Resource(crdGVR).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			conds, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
			for _, c := range conds {
				m, _ := c.(map[string]any)
				if m["type"] == "Established" && m["status"] == "True" {
					return true, nil
				}
			}
			return false, nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// apply server-side-applies one object (forcing ownership: the harness owns what it applies).
func apply(ctx context.Context, ri dynamic.ResourceInterface, obj *unstructured.Unstructured) error {
	b, err := obj.MarshalJSON()
	if err != nil {
		return err
	}
	force := true
	_, err = ri.Patch(ctx, obj.GetName(), types.ApplyPatchType, b, metav1.PatchOptions{FieldManager: "lakeport-argoloop", Force: &force})
	return err
}

// poll calls f every 100 ms until it says done, fails, or ctx ends.
func poll(ctx context.Context, what string, f func() (bool, error)) error {
	var last error
	for {
		done, err := f()
		if done && err == nil {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("wait for %s: %w (last error: %v)", what, ctx.Err(), last)
			}
			return fmt.Errorf("wait for %s: %w", what, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// splitYAML splits a multi-document YAML stream on "---" lines.
func splitYAML(s string) []string {
	var docs []string
	for _, d := range docSep.Split(s, -1) {
		if strings.TrimSpace(d) != "" {
			docs = append(docs, d)
		}
	}
	return docs
}

var docSep = regexp.MustCompile(`(?m)^---[ \t]*(#.*)?$`)
