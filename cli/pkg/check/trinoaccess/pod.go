package trinoaccess

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/lakeport/lakeport/cli/pkg/render"
)

var (
	// errNotMounted: no volume of the container holds the path.
	errNotMounted = errors.New("no volume is mounted there")
	// errNotRendered: the volume is a ConfigMap or Secret the kit does not render.
	errNotRendered = errors.New("its ConfigMap or Secret is not rendered by the kit")
	// errNoKey: the ConfigMap is rendered but has no such key (the file does not exist).
	errNoKey = errors.New("no such file")
)

// pod is the Trino container of a workload, with its volumes, mounts and the ConfigMaps of the
// environment.
type pod struct {
	namespace  string
	volumes    map[string]map[string]any
	mounts     []mount
	configMaps map[string]*render.Object
}

type mount struct {
	path, volume, subPath string
}

// fileSource names where a file comes from.
type fileSource struct {
	kind, name, key string
	object          *render.Object
}

func (s fileSource) String() string {
	if s.kind == "" {
		return "not mounted"
	}
	return fmt.Sprintf("%s %s, key %s", s.kind, s.name, s.key)
}

func newPod(o *render.Object, all []*render.Release) (*pod, error) {
	spec, _ := dig(o.Content, "spec", "template", "spec").(map[string]any)
	if spec == nil {
		return nil, fmt.Errorf("%s %s: no pod template", o.Kind, o.Name)
	}
	containers, _ := spec["containers"].([]any)
	var c map[string]any
	for _, x := range containers {
		m, _ := x.(map[string]any)
		if m["name"] == "trino" || c == nil {
			c = m
		}
	}
	if c == nil {
		return nil, fmt.Errorf("%s %s: no container", o.Kind, o.Name)
	}
	p := &pod{namespace: o.Namespace, volumes: map[string]map[string]any{}, configMaps: map[string]*render.Object{}}
	vols, _ := spec["volumes"].([]any)
	for _, v := range vols {
		if m, ok := v.(map[string]any); ok {
			p.volumes[str(m, "name")] = m
		}
	}
	vms, _ := c["volumeMounts"].([]any)
	for _, v := range vms {
		if m, ok := v.(map[string]any); ok {
			p.mounts = append(p.mounts, mount{path: path.Clean(str(m, "mountPath")), volume: str(m, "name"), subPath: str(m, "subPath")})
		}
	}
	for _, rel := range all {
		for _, obj := range rel.Objects {
			if obj.Kind == "ConfigMap" && (obj.Namespace == "" || p.namespace == "" || obj.Namespace == p.namespace) {
				p.configMaps[obj.Name] = obj
			}
		}
	}
	return p, nil
}

// read returns the content of a file as the container sees it: the deepest mount holding the
// path, its volume's ConfigMap or Secret, the key the path names (through items when listed).
func (p *pod) read(file string) (string, fileSource, error) {
	file = path.Clean(file)
	var best *mount
	for i, m := range p.mounts {
		if (file == m.path || strings.HasPrefix(file, m.path+"/")) && (best == nil || len(m.path) > len(best.path)) {
			best = &p.mounts[i]
		}
	}
	if best == nil {
		return "", fileSource{}, errNotMounted
	}
	rel := strings.TrimPrefix(strings.TrimPrefix(file, best.path), "/")
	if best.subPath != "" {
		rel = path.Join(best.subPath, rel)
	}
	v := p.volumes[best.volume]
	var src fileSource
	var items []any
	switch {
	case v["configMap"] != nil:
		cm, _ := v["configMap"].(map[string]any)
		src = fileSource{kind: "ConfigMap", name: str(cm, "name")}
		items, _ = cm["items"].([]any)
	case v["secret"] != nil:
		s, _ := v["secret"].(map[string]any)
		src = fileSource{kind: "Secret", name: str(s, "secretName")}
		items, _ = s["items"].([]any)
	default:
		return "", fileSource{}, fmt.Errorf("%s is on volume %q, neither a ConfigMap nor a Secret", file, best.volume)
	}
	src.key = rel
	for _, it := range items {
		m, _ := it.(map[string]any)
		if str(m, "path") == rel {
			src.key = str(m, "key")
		}
	}
	if src.kind == "Secret" {
		return "", src, errNotRendered // Secrets are referenced, never rendered
	}
	cm := p.configMaps[src.name]
	if cm == nil {
		return "", src, errNotRendered
	}
	src.object = cm
	data, _ := cm.Content["data"].(map[string]any)
	s, ok := data[src.key].(string)
	if !ok {
		return "", src, fmt.Errorf("%w: ConfigMap %s has no key %s", errNoKey, src.name, src.key)
	}
	return s, src, nil
}

func dig(m map[string]any, keys ...string) any {
	var cur any = m
	for _, k := range keys {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[k]
	}
	return cur
}

func str(v any, key string) string {
	m, _ := v.(map[string]any)
	s, _ := m[key].(string)
	return s
}
