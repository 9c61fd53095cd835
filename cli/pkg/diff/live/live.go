// Package live reads what a cluster holds for rendered releases and predicts what it would hold
// once Argo CD applies them, so that the diff engine can compare the two: `lakeport diff --live`.
//
// The prediction is the API server's own, by dry run, as `kubectl diff` does: an object that
// carries kubectl's last-applied-configuration (Argo CD's default client-side apply) is patched
// with the three-way patch `kubectl apply` would send (strategic merge for built-in kinds, JSON
// merge for custom resources), any other object with a forced server-side apply as Argo CD's
// field manager. Both sides are therefore whole server objects, with the server's defaults, and
// differ only where applying the release changes something; fields the release stops setting are
// removed as the apply would remove them. An object that does not exist is shown as it renders
// (added); an object the cluster holds for the Application (its tracking annotation or instance
// label) that no longer renders is shown as removed, as a sync with prune would delete it.
//
// Hooks are not compared, rendered or live: Argo CD runs them during a sync, deletes them by
// their own policies and never prunes them.
package live

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/jsonmergepatch"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/lakeport/lakeport/cli/pkg/render"
)

// Argo CD's resource tracking: the annotation (its default) and the label method.
const (
	TrackingAnnotation = "argocd.argoproj.io/tracking-id"
	InstanceLabel      = "app.kubernetes.io/instance"
	lastApplied        = "kubectl.kubernetes.io/last-applied-configuration"
	// FieldManager is the field manager Argo CD's application controller applies with.
	FieldManager = "argocd-controller"
)

// Cluster is a connection to the cluster of one kubeconfig context.
type Cluster struct {
	Host   string
	dyn    dynamic.Interface
	disco  discovery.CachedDiscoveryInterface
	mapper meta.RESTMapper
}

// New connects to the cluster cfg points at (nothing is requested until Compare).
func New(cfg *rest.Config) (*Cluster, error) {
	cfg = rest.CopyConfig(cfg)
	if cfg.QPS == 0 {
		cfg.QPS, cfg.Burst = 50, 100
	}
	cfg.UserAgent = "lakeport-diff"
	cfg.WarningHandler = rest.NoWarnings{} // deprecation warnings of kinds listed for pruning are noise here
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", cfg.Host, err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", cfg.Host, err)
	}
	cached := memory.NewMemCacheClient(dc)
	return &Cluster{Host: cfg.Host, dyn: dyn, disco: cached, mapper: restmapper.NewDeferredDiscoveryRESTMapper(cached)}, nil
}

// Result holds one release's two sides.
type Result struct {
	// Live holds the objects the cluster has: those the release renders, and those it tracks for
	// the Application that no longer render.
	Live *render.Release
	// Predicted holds the objects as the cluster would store them after the apply.
	Predicted *render.Release
	// Notes say what could not be compared exactly (hooks, kinds the cluster does not serve,
	// dry runs the server refused).
	Notes []string
}

// Compare reads and predicts every release, concurrently. An error reaching the cluster (or
// one it returns for a read) fails the whole comparison.
func (c *Cluster) Compare(ctx context.Context, rels []*render.Release) ([]Result, error) {
	if _, err := c.disco.ServerVersion(); err != nil {
		return nil, fmt.Errorf("cluster %s: %w", c.Host, err)
	}
	out := make([]Result, len(rels))
	rendered := make([]map[string]bool, len(rels))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for i, r := range rels {
		g.Go(func() error {
			res, ids, err := c.compareRelease(gctx, r)
			if err != nil {
				return fmt.Errorf("application %s: %w", r.App, err)
			}
			out[i], rendered[i] = res, ids
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	leftovers, err := c.tracked(ctx, rels, rendered)
	if err != nil {
		return nil, err
	}
	for i := range out {
		for _, u := range leftovers[i] {
			content, err := normalize(clean(u).Object)
			if err != nil {
				return nil, err
			}
			out[i].Live.Objects = append(out[i].Live.Objects, object(content))
		}
	}
	return out, nil
}

// pair is one rendered object with its live and predicted states.
type pair struct {
	desired         *render.Object
	live, predicted map[string]any
	note            string
	kindID          string // group/Kind/namespace/name
}

// compareRelease reads and predicts the objects of one release, and returns the IDs
// (group/Kind/namespace/name) of those it renders.
func (c *Cluster) compareRelease(ctx context.Context, r *render.Release) (Result, map[string]bool, error) {
	res := Result{Live: shell(r), Predicted: shell(r)}
	var pairs []*pair
	hooks := 0
	for _, o := range r.Objects {
		if isHook(&unstructured.Unstructured{Object: o.Content}) {
			hooks++
			continue
		}
		pairs = append(pairs, &pair{desired: o})
	}
	if hooks > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("%s: %d hook(s) not compared (Argo CD runs them during a sync)", r.App, hooks))
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, p := range pairs {
		g.Go(func() error { return c.resolve(gctx, r, p) })
	}
	if err := g.Wait(); err != nil {
		return res, nil, err
	}
	rendered := map[string]bool{}
	for _, p := range pairs {
		if p.note != "" {
			res.Notes = append(res.Notes, r.App+": "+p.note)
		}
		rendered[p.kindID] = true
		if p.live != nil {
			res.Live.Objects = append(res.Live.Objects, object(p.live))
		}
		res.Predicted.Objects = append(res.Predicted.Objects, object(p.predicted))
	}
	return res, rendered, nil
}

// shell is a release without objects.
func shell(r *render.Release) *render.Release {
	cp := *r
	cp.Objects = nil
	cp.Manifest = ""
	return &cp
}

// resolve reads one object and predicts it.
func (c *Cluster) resolve(ctx context.Context, r *render.Release, p *pair) error {
	o := p.desired
	desired, err := normalize(o.Content)
	if err != nil {
		return err
	}
	gv, err := schema.ParseGroupVersion(o.APIVersion)
	if err != nil {
		return fmt.Errorf("%s %s: %w", o.Kind, o.Name, err)
	}
	gvk := gv.WithKind(o.Kind)
	p.kindID = gvk.Group + "/" + o.Kind + "/" + o.Namespace + "/" + o.Name
	ns := ""
	m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		if meta.IsNoMatchError(err) {
			p.note = fmt.Sprintf("%s %s: the cluster does not serve %s (its CRD is not installed?): shown as it renders", o.Kind, o.Name, o.APIVersion)
			p.predicted = desired
			return nil
		}
		return fmt.Errorf("%s %s: %w", o.Kind, o.Name, err)
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ns = o.Namespace
		if ns == "" {
			ns = r.Namespace
		}
		setNamespace(desired, ns)
	}
	p.kindID = gvk.Group + "/" + o.Kind + "/" + ns + "/" + o.Name
	ri := c.dyn.Resource(m.Resource).Namespace(ns)
	cur, err := ri.Get(ctx, o.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		p.predicted = desired
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s %s/%s: %w", o.Kind, ns, o.Name, err)
	}
	// Argo CD adds its tracking metadata to what it applies: carry the live object's over.
	trackLike(desired, cur.Object)
	predicted, err := c.predict(ctx, ri, gvk, desired, cur)
	if err != nil {
		p.note = fmt.Sprintf("%s %s/%s: the server refuses the change in a dry run, so a sync would fail too: %v", o.Kind, ns, o.Name, err)
		predicted = &unstructured.Unstructured{Object: desired}
	}
	if p.live, err = normalize(clean(cur).Object); err != nil {
		return err
	}
	if p.predicted, err = normalize(clean(predicted).Object); err != nil {
		return err
	}
	return nil
}

// predict asks the server, in a dry run, what the object becomes when applied.
func (c *Cluster) predict(ctx context.Context, ri dynamic.ResourceInterface, gvk schema.GroupVersionKind, desired map[string]any, cur *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	dry := metav1.PatchOptions{DryRun: []string{metav1.DryRunAll}, FieldManager: FieldManager}
	name := cur.GetName()
	original, hasLast := cur.GetAnnotations()[lastApplied]
	if !hasLast {
		// Server-side apply, as Argo CD does with ServerSideApply=true or for objects it did not
		// create with kubectl's client-side apply.
		body, err := json.Marshal(desired)
		if err != nil {
			return nil, err
		}
		force := true
		dry.Force = &force
		return ri.Patch(ctx, name, types.ApplyPatchType, body, dry)
	}
	// Client-side apply: the three-way patch of `kubectl apply` between the last applied
	// configuration, the new one (which it records in the annotation) and the live object.
	modified, err := withLastApplied(desired)
	if err != nil {
		return nil, err
	}
	current, err := json.Marshal(cur.Object)
	if err != nil {
		return nil, err
	}
	var patch []byte
	patchType := types.StrategicMergePatchType
	if typed, err := scheme.Scheme.New(gvk); err == nil {
		pm, err := strategicpatch.NewPatchMetaFromStruct(typed)
		if err != nil {
			return nil, err
		}
		if patch, err = strategicpatch.CreateThreeWayMergePatch([]byte(original), modified, current, pm, true); err != nil {
			return nil, err
		}
	} else {
		patchType = types.MergePatchType
		if patch, err = jsonmergepatch.CreateThreeWayJSONMergePatch([]byte(original), modified, current); err != nil {
			return nil, err
		}
	}
	return ri.Patch(ctx, name, patchType, patch, dry)
}

// withLastApplied is kubectl's modified configuration: the object with its own JSON (without
// the annotation) recorded in the last-applied-configuration annotation.
func withLastApplied(obj map[string]any) ([]byte, error) {
	u := &unstructured.Unstructured{Object: deepCopy(obj)}
	ann := u.GetAnnotations()
	delete(ann, lastApplied)
	if len(ann) == 0 {
		ann = nil
	}
	u.SetAnnotations(ann)
	plain, err := json.Marshal(u.Object)
	if err != nil {
		return nil, err
	}
	if ann == nil {
		ann = map[string]string{}
	}
	ann[lastApplied] = string(plain) + "\n"
	u.SetAnnotations(ann)
	return json.Marshal(u.Object)
}

// trackLike copies Argo CD's tracking annotation and instance label from the live object to the
// desired one when it does not set them.
func trackLike(desired, live map[string]any) {
	lu := &unstructured.Unstructured{Object: live}
	du := &unstructured.Unstructured{Object: desired}
	if v, ok := lu.GetAnnotations()[TrackingAnnotation]; ok {
		du.SetAnnotations(withDefault(du.GetAnnotations(), TrackingAnnotation, v))
	}
	if v, ok := lu.GetLabels()[InstanceLabel]; ok {
		du.SetLabels(withDefault(du.GetLabels(), InstanceLabel, v))
	}
}

// withDefault sets m[k] = v unless k is set, allocating m if needed.
func withDefault(m map[string]string, k, v string) map[string]string {
	if _, set := m[k]; set {
		return m
	}
	if m == nil {
		m = map[string]string{}
	}
	m[k] = v
	return m
}

// skipResources are never listed when looking for objects that no longer render.
var skipResources = map[string]bool{
	"events": true, "events.events.k8s.io": true, "endpoints": true, "endpointslices.discovery.k8s.io": true,
	"leases.coordination.k8s.io": true, "controllerrevisions.apps": true, "replicasets.apps": true, "pods": true,
	"componentstatuses": true,
}

// tracked lists, for each release, the objects the cluster holds for its Application that did
// not render: those carrying its tracking annotation or instance label, in the releases'
// namespaces and cluster-wide. Every kind is listed once per namespace for all releases. Objects
// that others own (pods of a ReplicaSet) are not tracked by Argo CD.
func (c *Cluster) tracked(ctx context.Context, rels []*render.Release, rendered []map[string]bool) ([][]*unstructured.Unstructured, error) {
	lists, err := c.disco.ServerPreferredResources()
	if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		return nil, fmt.Errorf("discover the cluster's resources: %w", err)
	}
	byApp := map[string]int{}
	namespaces := map[string]bool{}
	for i, r := range rels {
		byApp[r.App] = i
		namespaces[r.Namespace] = true
		for id := range rendered[i] {
			if parts := strings.Split(id, "/"); len(parts) == 4 && parts[2] != "" {
				namespaces[parts[2]] = true
			}
		}
	}
	type target struct {
		gvr      schema.GroupVersionResource
		kind, ns string
	}
	var targets []target
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, res := range l.APIResources {
			id := res.Name
			if gv.Group != "" {
				id += "." + gv.Group
			}
			if strings.Contains(res.Name, "/") || skipResources[id] || !hasVerb(res.Verbs, "list") {
				continue
			}
			gvr := gv.WithResource(res.Name)
			if !res.Namespaced {
				targets = append(targets, target{gvr: gvr, kind: res.Kind})
				continue
			}
			for ns := range namespaces {
				if ns != "" {
					targets = append(targets, target{gvr: gvr, kind: res.Kind, ns: ns})
				}
			}
		}
	}
	var mu sync.Mutex
	out := make([][]*unstructured.Unstructured, len(rels))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, t := range targets {
		g.Go(func() error {
			list, err := c.dyn.Resource(t.gvr).Namespace(t.ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				if apierrors.IsForbidden(err) || apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err) {
					return nil // not ours to see: nothing to prune there either
				}
				return fmt.Errorf("list %s: %w", t.gvr.String(), err)
			}
			for j := range list.Items {
				u := &list.Items[j]
				i, ok := byApp[trackingApp(u)]
				if !ok || len(u.GetOwnerReferences()) > 0 || isHook(u) || rendered[i][t.gvr.Group+"/"+t.kind+"/"+u.GetNamespace()+"/"+u.GetName()] {
					continue
				}
				mu.Lock()
				out[i] = append(out[i], u)
				mu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for _, objs := range out {
		sort.Slice(objs, func(i, j int) bool {
			a, b := objs[i], objs[j]
			return a.GetKind()+"/"+a.GetNamespace()+"/"+a.GetName() < b.GetKind()+"/"+b.GetNamespace()+"/"+b.GetName()
		})
	}
	return out, nil
}

// trackingApp is the Application Argo CD tracks u for: from the annotation
// "<app>:<group>/<kind>:<namespace>/<name>" (the app optionally "<namespace>_<app>"), else the
// instance label; "" when neither is set.
func trackingApp(u *unstructured.Unstructured) string {
	if id, ok := u.GetAnnotations()[TrackingAnnotation]; ok {
		owner, _, _ := strings.Cut(id, ":")
		if i := strings.LastIndex(owner, "_"); i >= 0 {
			owner = owner[i+1:]
		}
		return owner
	}
	return u.GetLabels()[InstanceLabel]
}

// isHook says whether u is a hook (Helm's or Argo CD's): a sync creates and deletes hooks by
// their own policies and never prunes them, so one left in the cluster is not a leftover.
func isHook(u *unstructured.Unstructured) bool {
	ann := u.GetAnnotations()
	_, helm := ann["helm.sh/hook"]
	_, argo := ann["argocd.argoproj.io/hook"]
	return helm || argo
}

func hasVerb(verbs []string, v string) bool {
	for _, x := range verbs {
		if x == v {
			return true
		}
	}
	return false
}

// clean drops what the server maintains and nobody applies: identity, versions, timestamps,
// managed fields and kubectl's record of the last apply.
func clean(u *unstructured.Unstructured) *unstructured.Unstructured {
	u = u.DeepCopy()
	for _, f := range []string{"uid", "resourceVersion", "generation", "creationTimestamp", "selfLink", "managedFields"} {
		unstructured.RemoveNestedField(u.Object, "metadata", f)
	}
	if ann := u.GetAnnotations(); ann != nil {
		delete(ann, lastApplied)
		if len(ann) == 0 {
			unstructured.RemoveNestedField(u.Object, "metadata", "annotations")
		} else {
			u.SetAnnotations(ann)
		}
	}
	return u
}

// normalize is a JSON round trip, so that numbers are float64 on both sides as in rendered
// objects.
func normalize(obj map[string]any) (map[string]any, error) {
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}

func deepCopy(obj map[string]any) map[string]any {
	out, err := normalize(obj)
	if err != nil {
		panic(err) // a JSON-decoded object always encodes
	}
	return out
}

func setNamespace(obj map[string]any, ns string) {
	md, _ := obj["metadata"].(map[string]any)
	if md == nil {
		md = map[string]any{}
		obj["metadata"] = md
	}
	md["namespace"] = ns
}

// object wraps a cluster object for the diff engine.
func object(content map[string]any) *render.Object {
	u := &unstructured.Unstructured{Object: content}
	return &render.Object{APIVersion: u.GetAPIVersion(), Kind: u.GetKind(), Namespace: u.GetNamespace(), Name: u.GetName(), Content: content}
}
