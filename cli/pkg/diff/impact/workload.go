package impact

import (
	"fmt"
	"sort"
	"strings"
)

// templatePath is where a kind keeps the pod template whose change replaces its pods (restart);
// nil for kinds without one. A Job's template is not here: it cannot change (sync fails), and a
// hook Job is recreated, not restarted.
func templatePath(group, kind string) []string {
	switch {
	case group == "apps" && (kind == "Deployment" || kind == "StatefulSet" || kind == "DaemonSet" || kind == "ReplicaSet"):
		return []string{"spec", "template"}
	case group == "batch" && kind == "CronJob":
		return []string{"spec", "jobTemplate", "spec", "template"}
	}
	return nil
}

// podSpecPath is where any pod-bearing kind keeps its pod spec, for the security checks.
func podSpecPath(group, kind string) []string {
	if t := templatePath(group, kind); t != nil {
		return append(t, "spec")
	}
	if group == "batch" && kind == "Job" {
		return []string{"spec", "template", "spec"}
	}
	return nil
}

// workload adds the restart impact of a changed pod template and the security impacts of a
// changed pod spec (security contexts, service account, host namespaces, Secrets referenced).
func (c *change) workload() {
	if !c.changed() {
		return
	}
	if tp := templatePath(c.group, c.kind); tp != nil {
		c.restart(tp)
	}
	if ps := podSpecPath(c.group, c.kind); ps != nil {
		c.podSecurity(ps)
	}
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func (c *change) restart(tp []string) {
	prefix := toAny(tp)
	var changed []path
	for _, p := range c.paths {
		if p.hasPrefix(prefix) {
			changed = append(changed, p)
		}
	}
	if len(changed) == 0 {
		return
	}
	bt, ht := getMap(c.b, tp...), getMap(c.h, tp...)
	var why []string
	seen := map[string]bool{}
	note := func(s string) {
		if !seen[s] {
			seen[s] = true
			why = append(why, s)
		}
	}
	strs := make([]string, 0, len(changed))
	n := len(tp)
	for _, p := range changed {
		strs = append(strs, p.String())
		rest := p[n:]
		note(templateReason(rest, bt, ht))
	}
	verb := "pods are replaced"
	switch {
	case c.kind == "CronJob":
		verb = "the next runs use the new pod template"
	case c.kind == "StatefulSet":
		verb = "pods are replaced one by one"
	}
	c.add(Restart, fmt.Sprintf("%s: %s; changed: %s", workloadName(c), verb, strings.Join(why, ", ")), strs...)
}

func workloadName(c *change) string {
	md := getMap(c.h, "metadata")
	if md == nil {
		md = getMap(c.b, "metadata")
	}
	name, _ := md["name"].(string)
	return c.kind + " " + name
}

// templateReason names what one changed path of a pod template is, in a reviewer's words.
func templateReason(rest path, bt, ht map[string]any) string {
	key := func(i int) string {
		if i < len(rest) {
			if s, ok := rest[i].(string); ok {
				return s
			}
		}
		return ""
	}
	switch key(0) {
	case "metadata":
		if key(1) == "annotations" {
			a := key(2)
			if strings.HasPrefix(a, "checksum/") {
				return "config checksum (" + a + ")"
			}
			return "pod annotation " + a
		}
		if key(1) == "labels" {
			return "pod labels"
		}
		return "pod metadata"
	case "spec":
	default:
		return "pod template"
	}
	switch key(1) {
	case "containers", "initContainers", "ephemeralContainers":
		list := key(1)
		idx, ok := 0, false
		if len(rest) > 2 {
			idx, ok = rest[2].(int)
		}
		if !ok {
			return "containers"
		}
		name := containerName(ht, list, idx)
		if name == "" {
			name = containerName(bt, list, idx)
		}
		field := key(3)
		switch field {
		case "image":
			from := getString(containerAt(bt, list, idx), "image")
			to := getString(containerAt(ht, list, idx), "image")
			return fmt.Sprintf("image of %s %s → %s", name, from, to)
		case "env", "envFrom":
			return "env of " + name
		case "resources":
			return "resources of " + name
		case "command", "args":
			return "command of " + name
		case "volumeMounts", "volumeDevices":
			return "volume mounts of " + name
		case "livenessProbe", "readinessProbe", "startupProbe":
			return "probes of " + name
		case "securityContext":
			return "security context of " + name
		case "":
			return "containers"
		}
		return field + " of " + name
	case "volumes":
		return "volumes"
	case "securityContext":
		return "pod security context"
	case "serviceAccountName", "serviceAccount":
		return "service account"
	case "":
		return "pod spec"
	}
	return key(1)
}

func containerAt(tmpl map[string]any, list string, i int) map[string]any {
	cs := getList(tmpl, "spec", list)
	if i < 0 || i >= len(cs) {
		return nil
	}
	m, _ := cs[i].(map[string]any)
	return m
}

func containerName(tmpl map[string]any, list string, i int) string {
	return getString(containerAt(tmpl, list, i), "name")
}

// podSecurity reports changed security contexts, service account, host namespaces and the set of
// Secrets the pods read.
func (c *change) podSecurity(ps []string) {
	prefix := toAny(ps)
	var sc []string
	var ident []string
	for _, p := range c.paths {
		if !p.hasPrefix(prefix) {
			continue
		}
		s := p.String()
		for _, seg := range p[len(ps):] {
			if seg == "securityContext" || seg == "hostNetwork" || seg == "hostPID" || seg == "hostIPC" || seg == "hostUsers" {
				sc = append(sc, s)
				break
			}
		}
		if len(p) > len(ps) && (p[len(ps)] == "serviceAccountName" || p[len(ps)] == "serviceAccount" || p[len(ps)] == "automountServiceAccountToken") {
			ident = append(ident, s)
		}
	}
	if len(sc) > 0 {
		c.add(Security, "security context changed (privileges, user, capabilities or host access of the pods)", sc...)
	}
	if len(ident) > 0 {
		from := getString(getMap(c.b, ps...), "serviceAccountName")
		to := getString(getMap(c.h, ps...), "serviceAccountName")
		c.add(Security, fmt.Sprintf("pods run as another service account or token mount (%s → %s)", orDefault(from), orDefault(to)), ident...)
	}
	bs, hs := secretRefs(getMap(c.b, ps...)), secretRefs(getMap(c.h, ps...))
	var plus, minus []string
	for s := range hs {
		if !bs[s] {
			plus = append(plus, "+"+s)
		}
	}
	for s := range bs {
		if !hs[s] {
			minus = append(minus, "−"+s)
		}
	}
	if len(plus)+len(minus) > 0 {
		sort.Strings(plus)
		sort.Strings(minus)
		c.add(Security, "Secrets the pods read changed: "+quoteList(append(plus, minus...)), path(toAny(ps)).String())
	}
}

func orDefault(s string) string {
	if s == "" {
		return "default"
	}
	return s
}

// secretRefs collects the names of the Secrets a pod spec reads: env, envFrom, volumes (also
// projected) and image pull secrets.
func secretRefs(spec map[string]any) map[string]bool {
	out := map[string]bool{}
	if spec == nil {
		return out
	}
	for _, list := range []string{"containers", "initContainers"} {
		for _, ci := range getList(spec, list) {
			cm, _ := ci.(map[string]any)
			for _, e := range getList(cm, "env") {
				em, _ := e.(map[string]any)
				if n := getString(em, "valueFrom", "secretKeyRef", "name"); n != "" {
					out[n] = true
				}
			}
			for _, e := range getList(cm, "envFrom") {
				em, _ := e.(map[string]any)
				if n := getString(em, "secretRef", "name"); n != "" {
					out[n] = true
				}
			}
		}
	}
	for _, v := range getList(spec, "volumes") {
		vm, _ := v.(map[string]any)
		if n := getString(vm, "secret", "secretName"); n != "" {
			out[n] = true
		}
		for _, s := range getList(vm, "projected", "sources") {
			sm, _ := s.(map[string]any)
			if n := getString(sm, "secret", "name"); n != "" {
				out[n] = true
			}
		}
	}
	for _, s := range getList(spec, "imagePullSecrets") {
		sm, _ := s.(map[string]any)
		if n := getString(sm, "name"); n != "" {
			out[n] = true
		}
	}
	return out
}
