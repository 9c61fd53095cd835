package health

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"k8s.io/client-go/rest"

	"github.com/lakeport/lakeport/cli/pkg/render"
)

// DeepOptions say where the deep checks of a report's Applications find their components.
type DeepOptions struct {
	// Endpoints are URLs given by the user, by component; they win over the service proxy.
	Endpoints map[string]string
	// Releases renders the kit's Applications by name (called once, only when a Ready
	// Application has a deep check): the worker counts the values ask for and the Services to
	// proxy to come from them. Nil: no kit at hand.
	Releases func(ctx context.Context) (map[string]*render.Release, error)
	// KubeConfig gives the Kubernetes API whose service proxy reaches the components (called once,
	// only when needed).
	KubeConfig func() (*rest.Config, error)
}

// RunDeep runs the deep checks of the Ready Applications whose component has one and records
// them in the report; a failed check turns a healthy outcome unhealthy. Requests go through the
// Kubernetes API's service proxy to the Service the rendered chart declares, unless an endpoint
// is given for the component.
func RunDeep(ctx context.Context, r *Report, o DeepOptions) {
	var rels map[string]*render.Release
	var renderErr error
	rendered := false
	var cfg *rest.Config
	var cfgErr error
	for i := range r.Applications {
		a := &r.Applications[i]
		if !HasDeepCheck(a.Component) {
			continue
		}
		if a.State != StateReady {
			a.Deep = append(a.Deep, DeepResult{Check: a.Component, Message: "skipped: the Application is not Ready"})
			continue
		}
		if !rendered {
			if o.Releases != nil {
				rels, renderErr = o.Releases(ctx)
			}
			rendered = true
		}
		t := DeepTarget{Component: a.Component, WantWorkers: -1}
		rel := rels[a.Name]
		if rel != nil {
			t.WantWorkers = WantWorkers(rel)
		}
		if u, ok := o.Endpoints[a.Component]; ok {
			t.BaseURL = u
		} else {
			if rel == nil {
				msg := "no endpoint: give one for " + a.Component + ", or run from a clone of the kit"
				if renderErr != nil {
					msg += " (" + renderErr.Error() + ")"
				}
				a.Deep = append(a.Deep, DeepResult{Check: a.Component, Message: msg})
				continue
			}
			svc, port, ok := ServiceFor(rel)
			if !ok {
				a.Deep = append(a.Deep, DeepResult{Check: a.Component, Message: "the rendered chart has no Service to ask"})
				continue
			}
			if cfg == nil && cfgErr == nil {
				if o.KubeConfig == nil {
					cfgErr = fmt.Errorf("no Kubernetes connection")
				} else {
					cfg, cfgErr = o.KubeConfig()
				}
			}
			if cfgErr != nil {
				a.Deep = append(a.Deep, DeepResult{Check: a.Component, Message: fmt.Sprintf("no Kubernetes API to proxy through: %v (or give an endpoint)", cfgErr)})
				continue
			}
			rt, err := rest.TransportFor(cfg)
			if err != nil {
				a.Deep = append(a.Deep, DeepResult{Check: a.Component, Message: err.Error()})
				continue
			}
			ref := fmt.Sprintf("http:%s:%d", svc, port)
			t.BaseURL = fmt.Sprintf("http://%s.%s.svc:%d", svc, rel.Namespace, port)
			t.Display = "service/" + rel.Namespace + "/" + svc + ":" + fmt.Sprint(port) + " via the API server"
			t.Client = &http.Client{Timeout: 15 * time.Second, Transport: &ServiceProxyTransport{
				APIServer: cfg.Host, Namespace: rel.Namespace, Service: ref, Next: rt,
			}}
		}
		a.Deep = append(a.Deep, Deep(ctx, t))
	}
	if r.Outcome == OutcomeHealthy {
		for i := range r.Applications {
			if r.Applications[i].DeepFailed() {
				r.Outcome = OutcomeUnhealthy
			}
		}
	}
}

// DeepFailed says whether one of the Application's deep checks failed.
func (a *AppHealth) DeepFailed() bool {
	for _, d := range a.Deep {
		if !d.OK {
			return true
		}
	}
	return false
}

// ServiceFor picks the Service a component's API answers on: the coordinator (Trino), server
// (MinIO) or master (Spark) Service that is not headless, and its HTTP port.
func ServiceFor(rel *render.Release) (string, int64, bool) {
	role := map[string]string{ComponentTrino: "coordinator", ComponentMinIO: "server", ComponentSpark: "master"}[rel.Component]
	ports := map[string][]string{ComponentTrino: {"http"}, ComponentMinIO: {"s3", "api", "http"}, ComponentSpark: {"webui", "http"}}[rel.Component]
	for _, obj := range rel.Objects {
		if obj.Kind != "Service" || obj.Group() != "" || label(obj, "app.kubernetes.io/component") != role {
			continue
		}
		spec, _ := obj.Content["spec"].(map[string]any)
		if ip, _ := spec["clusterIP"].(string); ip == "None" {
			continue
		}
		list, _ := spec["ports"].([]any)
		for _, want := range ports {
			for _, p := range list {
				pm, _ := p.(map[string]any)
				if pm["name"] == want {
					if n, ok := toInt(pm["port"]); ok {
						return obj.Name, n, true
					}
				}
			}
		}
	}
	return "", 0, false
}

// WantWorkers is the number of workers the rendered chart asks for: the worker Deployment's or
// StatefulSet's replicas, or its autoscaler's minimum; -1 when there is none.
func WantWorkers(rel *render.Release) int {
	if rel.Component == ComponentMinIO {
		return -1
	}
	workload := ""
	n := int64(-1)
	for _, obj := range rel.Objects {
		if (obj.Kind == "Deployment" || obj.Kind == "StatefulSet") && label(obj, "app.kubernetes.io/component") == "worker" {
			workload = obj.Name
			spec, _ := obj.Content["spec"].(map[string]any)
			if v, ok := toInt(spec["replicas"]); ok {
				n = v
			} else {
				n = 1 // Kubernetes' default
			}
		}
	}
	for _, obj := range rel.Objects {
		if obj.Kind != "HorizontalPodAutoscaler" || workload == "" {
			continue
		}
		spec, _ := obj.Content["spec"].(map[string]any)
		ref, _ := spec["scaleTargetRef"].(map[string]any)
		if ref["name"] == workload {
			if v, ok := toInt(spec["minReplicas"]); ok {
				n = v
			} else {
				n = 1
			}
		}
	}
	return int(n)
}

func label(obj *render.Object, key string) string {
	md, _ := obj.Content["metadata"].(map[string]any)
	l, _ := md["labels"].(map[string]any)
	s, _ := l[key].(string)
	return s
}

func toInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int64:
		return n, true
	case float64:
		return int64(n), true
	}
	return 0, false
}
