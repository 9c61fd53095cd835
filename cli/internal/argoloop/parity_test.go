package argoloop_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	argov1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	argoclient "github.com/argoproj/argo-cd/v3/pkg/client/clientset/versioned"
	repoclient "github.com/argoproj/argo-cd/v3/reposerver/apiclient"
	utiltls "github.com/argoproj/argo-cd/v3/util/tls"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/lakeport/lakeport/cli/internal/argoloop"
	"github.com/lakeport/lakeport/cli/pkg/render"
	"github.com/lakeport/lakeport/cli/pkg/workspace"
)

// trackingAnnotation is what Argo CD's repo server adds to every object it generates (annotation
// tracking, v3's default); it is the one difference allowed.
const trackingAnnotation = "argocd.argoproj.io/tracking-id"

// TestRenderParity: for every Application of every environment, as the applicationset-controller
// generated it, the manifests Argo CD's repo server generates (asked over its gRPC API with the
// request the application controller builds) equal `lakeport render`'s, object by object. Any
// difference is a bug in the renderer or the ApplicationSet.
func TestRenderParity(t *testing.T) {
	l := needLoop(t)
	devReady(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	w, err := workspace.Open(l.Work, "")
	if err != nil {
		t.Fatal(err)
	}
	rels, err := w.Render(ctx, w.Apps)
	if err != nil {
		t.Fatalf("lakeport render: %v", err)
	}
	byApp := map[string]*render.Release{}
	for _, r := range rels {
		byApp[r.App] = r
	}

	live, err := argoclient.NewForConfigOrDie(l.Config).ArgoprojV1alpha1().Applications(l.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	projects := map[string]*argov1.AppProject{}
	pl, err := argoclient.NewForConfigOrDie(l.Config).ArgoprojV1alpha1().AppProjects(l.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range pl.Items {
		projects[pl.Items[i].Name] = &pl.Items[i]
	}
	inCluster, err := clusterVersions(l)
	if err != nil {
		t.Fatal(err)
	}

	conn, repo, err := repoclient.NewRepoServerClientset(l.Argo.RepoServer, 300, utiltls.Configuration{DisableTLS: true}).NewRepoServerClient()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	if len(live.Items) != len(w.Apps) {
		t.Errorf("%d live Applications, %d rendered", len(live.Items), len(w.Apps))
	}
	sort.Slice(live.Items, func(i, j int) bool { return live.Items[i].Name < live.Items[j].Name })
	objects := 0
	for i := range live.Items {
		app := &live.Items[i]
		t.Run(app.Name, func(t *testing.T) {
			rel := byApp[app.Name]
			if rel == nil {
				t.Fatalf("lakeport render has no %s", app.Name)
			}
			var versions *versionsInfo
			if app.Spec.Destination.Server == "https://kubernetes.default.svc" {
				versions = inCluster // what the controller passes; the environment's own pins win
			}
			argo, err := generate(ctx, repo, app, projects[app.Spec.Project], versions)
			if err != nil {
				if strings.Contains(err.Error(), "cannot reference a different revision of the same repository") {
					t.Fatalf("Argo CD's repo server refuses this Application, which lakeport render renders: its chart source is pinned to a commit and its $values source follows HEAD of the same repository, and Argo CD (v3.6) checks out one revision per repository (argoproj/argo-cd#12159, #25605). The environments model must change (values pinned with the chart, or charts and values in different repositories, or charts from a Helm/OCI registry), and lakeport render should refuse it too.\n%v", err)
				}
				t.Fatalf("repo server: %v", err)
			}
			ours := map[string]map[string]any{}
			for _, o := range rel.Objects {
				ours[key(o.Content)] = normalizeObj(o.Content)
			}
			compare(t, argo, ours)
			objects += len(argo)
		})
	}
	t.Logf("%d Applications, %d objects: the repo server and lakeport render agree", len(live.Items), objects)
}

type versionsInfo struct {
	kubeVersion string
	apiVersions []string
}

// clusterVersions is what the application controller sends for the in-cluster destination:
// the server version and every group/version and group/version/Kind it serves.
func clusterVersions(l *argoloop.Loop) (*versionsInfo, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(l.Config)
	if err != nil {
		return nil, err
	}
	v, err := dc.ServerVersion()
	if err != nil {
		return nil, err
	}
	_, lists, err := dc.ServerGroupsAndResources()
	if err != nil {
		return nil, err
	}
	info := &versionsInfo{kubeVersion: v.GitVersion}
	seen := map[string]bool{}
	for _, list := range lists {
		for _, r := range list.APIResources {
			for _, s := range []string{list.GroupVersion, list.GroupVersion + "/" + r.Kind} {
				if !seen[s] {
					seen[s] = true
					info.apiVersions = append(info.apiVersions, s)
				}
			}
		}
	}
	sort.Strings(info.apiVersions)
	return info, nil
}

// generate asks the repo server for one Application's manifests, source by source, with the
// request the application controller builds (controller/state.go GetRepoObjs).
func generate(ctx context.Context, repo repoclient.RepoServerServiceClient, app *argov1.Application, proj *argov1.AppProject, v *versionsInfo) (map[string]map[string]any, error) {
	sources := app.Spec.GetSources()
	refs := argov1.RefTargetRevisionMapping{}
	for _, s := range sources {
		if s.Ref != "" {
			refs["$"+s.Ref] = &argov1.RefTarget{Repo: argov1.Repository{Repo: s.RepoURL}, TargetRevision: s.TargetRevision, Chart: s.Chart}
		}
	}
	var repos []string
	if proj != nil {
		repos = proj.Spec.SourceRepos
	}
	out := map[string]map[string]any{}
	for i := range sources {
		s := sources[i]
		if s.Ref != "" && s.Path == "" && s.Chart == "" {
			continue // a values-only source generates nothing
		}
		req := &repoclient.ManifestRequest{
			Repo:               &argov1.Repository{Repo: s.RepoURL},
			Revision:           s.TargetRevision,
			NoCache:            true,
			AppLabelKey:        "app.kubernetes.io/instance",
			AppName:            app.Name,
			Namespace:          app.Spec.Destination.Namespace,
			ApplicationSource:  &s,
			TrackingMethod:     string(argov1.TrackingMethodAnnotation),
			HasMultipleSources: app.Spec.HasMultipleSources(),
			RefSources:         refs,
			ProjectName:        app.Spec.Project,
			ProjectSourceRepos: repos,
		}
		if v != nil {
			req.KubeVersion, req.ApiVersions = v.kubeVersion, v.apiVersions
		}
		resp, err := repo.GenerateManifest(ctx, req)
		if err != nil {
			return nil, fmt.Errorf("source %d: %w", i+1, err)
		}
		for _, m := range resp.Manifests {
			obj := map[string]any{}
			if err := json.Unmarshal([]byte(m), &obj); err != nil {
				return nil, err
			}
			out[key(obj)] = normalizeObj(obj)
		}
	}
	return out, nil
}

// key identifies an object the way Argo CD does: group, kind, namespace, name.
func key(obj map[string]any) string {
	md, _ := obj["metadata"].(map[string]any)
	api, _ := obj["apiVersion"].(string)
	group := ""
	if i := strings.Index(api, "/"); i >= 0 {
		group = api[:i]
	}
	return fmt.Sprintf("%s/%v %v/%v", group, obj["kind"], md["namespace"], md["name"])
}

// normalizeObj drops Argo CD's tracking annotation and round-trips through JSON, so that both
// sides have the same number types.
func normalizeObj(obj map[string]any) map[string]any {
	b, _ := json.Marshal(obj)
	out := map[string]any{}
	_ = json.Unmarshal(b, &out)
	if md, ok := out["metadata"].(map[string]any); ok {
		if ann, ok := md["annotations"].(map[string]any); ok {
			delete(ann, trackingAnnotation)
			if len(ann) == 0 {
				delete(md, "annotations")
			}
		}
	}
	return out
}

func compare(t *testing.T, argo, ours map[string]map[string]any) {
	t.Helper()
	var keys []string
	for k := range argo {
		keys = append(keys, k)
	}
	for k := range ours {
		if _, ok := argo[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		a, inArgo := argo[k]
		o, inOurs := ours[k]
		switch {
		case !inArgo:
			t.Errorf("%s: rendered by lakeport, not by the repo server", k)
		case !inOurs:
			t.Errorf("%s: generated by the repo server, not by lakeport render", k)
		case !reflect.DeepEqual(a, o):
			ay, _ := sigsyaml.Marshal(a)
			oy, _ := sigsyaml.Marshal(o)
			t.Errorf("%s differs: %s\n--- repo server\n%s--- lakeport render\n%s", k, firstDiff("", a, o), ay, oy)
		}
	}
}

// firstDiff names the first path where two decoded JSON values differ.
func firstDiff(path string, a, b any) string {
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok {
			return path + ": type"
		}
		keys := map[string]bool{}
		for k := range av {
			keys[k] = true
		}
		for k := range bv {
			keys[k] = true
		}
		var ks []string
		for k := range keys {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		for _, k := range ks {
			if !reflect.DeepEqual(av[k], bv[k]) {
				return firstDiff(path+"."+k, av[k], bv[k])
			}
		}
	case []any:
		bv, ok := b.([]any)
		if !ok || len(av) != len(bv) {
			return path + ": length"
		}
		for i := range av {
			if !reflect.DeepEqual(av[i], bv[i]) {
				return firstDiff(fmt.Sprintf("%s[%d]", path, i), av[i], bv[i])
			}
		}
	case string:
		bs, ok := b.(string)
		if !ok {
			return fmt.Sprintf("%s: %q != %v", path, av, b)
		}
		i := 0
		for i < len(av) && i < len(bs) && av[i] == bs[i] {
			i++
		}
		from := max(0, i-40)
		return fmt.Sprintf("%s: from byte %d: repo server %q, lakeport %q", path, i, av[from:min(len(av), i+40)], bs[from:min(len(bs), i+40)])
	}
	return fmt.Sprintf("%s: %v != %v", path, a, b)
}
