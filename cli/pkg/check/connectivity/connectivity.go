// Package connectivity is the connectivity-intent check of `lakeport check`: the kit declares the
// network flows the platform needs (policies/intent/flows.yaml) and every environment's rendered
// NetworkPolicies are evaluated against them with np-guard's netpol-analyzer, over the pods the
// render would create (the pod templates of its workloads) and representatives of the peers it
// does not render (Prometheus, DNS, databases, addresses outside the cluster). A declared flow
// that the policies block fails, naming the flow, the environment and the policies that block
// it; a flow the policies allow that nobody declared is a warning.
//
// NetworkPolicy semantics (selection, peers, named ports, the union of policies, the default
// allow of unselected pods) are the analyzer's, never re-implemented here.
package connectivity

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/np-guard/netpol-analyzer/pkg/netpol/eval"
	corev1 "k8s.io/api/core/v1"
	netv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/lakeport/lakeport/cli/pkg/check/envcheck"
	"github.com/lakeport/lakeport/cli/pkg/check/internal/workload"
	"github.com/lakeport/lakeport/cli/pkg/check/policy"
	"github.com/lakeport/lakeport/cli/pkg/render"
	"github.com/lakeport/lakeport/cli/pkg/source"
)

// IntentFile is where the kit declares its flows.
const IntentFile = "policies/intent/flows.yaml"

// Rules.
const (
	RuleBlocked    = "connectivity_flow_blocked"
	RuleUndeclared = "connectivity_flow_undeclared"
	RuleIntent     = "connectivity_intent"
)

// Load reads the intent file of a snapshot. A snapshot without one (a test fixture) gives a check
// that finds nothing.
func Load(snap source.Snapshot) (envcheck.Check, error) {
	raw, err := snap.ReadFile(IntentFile)
	if errors.Is(err, fs.ErrNotExist) {
		return &Check{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", IntentFile, err)
	}
	in, err := ParseIntent(IntentFile, raw)
	if err != nil {
		return nil, err
	}
	return &Check{Intent: in}, nil
}

// Check evaluates the flows of an intent; a nil Intent finds nothing.
type Check struct {
	Intent *Intent
}

// Rules lists the rules of the check.
func (c *Check) Rules() []envcheck.Rule {
	file, line := "", 0
	if c.Intent != nil {
		file = c.Intent.File
	}
	return []envcheck.Rule{
		{ID: RuleBlocked, Severity: policy.Failure, Title: "Every declared network flow is allowed", Description: "A flow of " + IntentFile + " that the environment's rendered NetworkPolicies block (evaluated with np-guard's netpol-analyzer over the pods the render creates).", File: file, Line: line},
		{ID: RuleUndeclared, Severity: policy.Warning, Title: "No network flow is allowed that nobody declared", Description: "The rendered NetworkPolicies allow a connection that no flow of " + IntentFile + " declares: declare it, or narrow the policy.", File: file, Line: line},
		{ID: RuleIntent, Severity: policy.Failure, Title: "Every flow names pods the environment renders", Description: "A flow whose component or role matches no pod of the environment's render.", File: file, Line: line},
	}
}

// pod is one pod the analysis sees: a kit workload's, or a representative of a peer outside the kit.
type pod struct {
	key       string // namespace/name, as the analyzer names pods
	namespace string
	labels    map[string]string
	ports     []corev1.ContainerPort
	// wl is the kit workload (nil for representatives); component is its release's component.
	wl        *workload.Workload
	component string
	// desc says what the pod stands for, in messages.
	desc string
}

// netpol is one rendered NetworkPolicy.
type netpol struct {
	rel *render.Release
	obj *render.Object
	np  *netv1.NetworkPolicy
}

// world is one environment as the analyzer sees it.
type world struct {
	env       string
	namespace string
	pods      []*pod
	policies  []*netpol
	nsLabels  map[string]map[string]string
	full      *eval.PolicyEngine
	half      map[string]*eval.PolicyEngine // direction → engine with only that direction's halves
	single    map[string]*eval.PolicyEngine // direction/policy → engine with one half
	nextIP    int
	reps      map[string]*pod // representative pods by peer string
	flows     []*Flow
	intentDoc string
}

// Probe namespaces and addresses: a pod nobody declared anything for, elsewhere in the cluster
// and in the environment's namespace, and an address outside the cluster (TEST-NET-1, RFC 5737).
const (
	probeNamespace = "lakeport-probe-elsewhere"
	probeAddress   = "192.0.2.10"
)

// probePorts are the ports an undeclared egress to the outside is tried on.
var probePorts = []int32{80, 443}

// Check evaluates one environment.
func (c *Check) Check(ctx context.Context, in envcheck.Input) ([]envcheck.Finding, error) {
	if c.Intent == nil {
		return nil, nil
	}
	w, err := newWorld(in, c.Intent)
	if err != nil {
		return nil, err
	}
	if len(w.policies) == 0 {
		// Nothing restricts anything: every flow is allowed, and so is every undeclared one;
		// the network policy rules of policies/ require NetworkPolicies where it matters.
		return nil, nil
	}
	if err := w.build(); err != nil {
		return nil, err
	}
	var out []envcheck.Finding
	fs, err := w.checkDeclared()
	if err != nil {
		return nil, err
	}
	out = append(out, fs...)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	fs, err = w.checkUndeclared()
	if err != nil {
		return nil, err
	}
	return append(out, fs...), nil
}

func newWorld(in envcheck.Input, intent *Intent) (*world, error) {
	w := &world{
		env:       in.Environment.Name,
		namespace: in.Environment.Destination.Namespace,
		nsLabels:  map[string]map[string]string{},
		half:      map[string]*eval.PolicyEngine{},
		single:    map[string]*eval.PolicyEngine{},
		reps:      map[string]*pod{},
		intentDoc: intent.File,
	}
	wls, err := workload.Find(in.Releases)
	if err != nil {
		return nil, err
	}
	used := map[string]int{}
	for _, wl := range wls {
		name := strings.ToLower(wl.Object.Kind) + "-" + wl.Object.Name
		if n := used[wl.Namespace+"/"+name]; n > 0 {
			name += "-" + strconv.Itoa(n)
		}
		used[wl.Namespace+"/"+name]++
		var ports []corev1.ContainerPort
		for _, ct := range wl.Spec.Containers {
			ports = append(ports, ct.Ports...)
		}
		w.addPod(&pod{namespace: wl.Namespace, key: wl.Namespace + "/" + name, labels: wl.Labels, ports: ports, wl: wl, component: wl.Release.Component,
			desc: fmt.Sprintf("%s %s", wl.Release.Component, wl.Name())})
	}
	for _, r := range in.Releases {
		for _, o := range r.Objects {
			if o.Kind != "NetworkPolicy" || o.Group() != "networking.k8s.io" {
				continue
			}
			var np netv1.NetworkPolicy
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Content, &np); err != nil {
				return nil, fmt.Errorf("%s: NetworkPolicy %s: %w", r.App, o.Name, err)
			}
			if np.Namespace == "" {
				np.Namespace = r.Namespace
			}
			w.policies = append(w.policies, &netpol{rel: r, obj: o, np: &np})
		}
	}
	for _, f := range intent.Flows {
		if len(f.Environments) > 0 && !contains(f.Environments, w.env) {
			continue
		}
		w.flows = append(w.flows, f)
		for _, p := range []*Peer{&f.From, &f.To} {
			if p.kind() == "pods" {
				w.representative(p)
			}
		}
	}
	// Probes: nobody declares flows for them.
	w.addPod(&pod{namespace: probeNamespace, key: probeNamespace + "/any-pod", labels: map[string]string{}, desc: "any pod of another namespace"})
	w.addPod(&pod{namespace: w.namespace, key: w.namespace + "/lakeport-probe-any-pod", labels: map[string]string{}, desc: "any pod of namespace " + w.namespace})
	return w, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (w *world) addPod(p *pod) {
	w.pods = append(w.pods, p)
	if _, ok := w.nsLabels[p.namespace]; !ok {
		w.nsLabels[p.namespace] = map[string]string{"kubernetes.io/metadata.name": p.namespace}
	}
}

// representative adds (once) a pod standing for a peer outside the kit.
func (w *world) representative(p *Peer) *pod {
	ns := p.Namespace
	if ns == "" {
		ns = w.namespace
	}
	id := ns + "/" + labelString(p.PodLabels)
	if r, ok := w.reps[id]; ok {
		return r
	}
	r := &pod{namespace: ns, key: fmt.Sprintf("%s/lakeport-peer-%d", ns, len(w.reps)), labels: p.PodLabels, desc: "pods " + labelString(p.PodLabels) + " of namespace " + ns}
	w.reps[id] = r
	w.addPod(r)
	return r
}

func labelString(m map[string]string) string {
	if len(m) == 0 {
		return "(any)"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ",")
}

// engine builds a policy engine over every pod and namespace and the given policies.
func (w *world) engine(policies []*netv1.NetworkPolicy) (*eval.PolicyEngine, error) {
	pe, err := eval.NewPolicyEngineWithOptionsList(eval.WithLogger(quiet{}))
	if err != nil {
		return nil, err
	}
	nss := make([]string, 0, len(w.nsLabels))
	for ns := range w.nsLabels {
		nss = append(nss, ns)
	}
	sort.Strings(nss)
	for _, ns := range nss {
		if err := pe.InsertObject(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: w.nsLabels[ns]}}); err != nil {
			return nil, fmt.Errorf("namespace %s: %w", ns, err)
		}
	}
	for i, p := range w.pods {
		ns, name, _ := strings.Cut(p.key, "/")
		ip := podIP(i)
		kp := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: p.labels},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Ports: p.ports}}},
			Status:     corev1.PodStatus{HostIP: ip, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}},
		}
		if err := pe.InsertObject(kp); err != nil {
			return nil, fmt.Errorf("pod %s (%s): %w", p.key, p.desc, err)
		}
	}
	for _, np := range policies {
		if err := pe.InsertObject(np.DeepCopy()); err != nil {
			return nil, fmt.Errorf("NetworkPolicy %s/%s: %w", np.Namespace, np.Name, err)
		}
	}
	return pe, nil
}

// podIP gives every pod its own address in 100.64.0.0/10 (shared address space, RFC 6598), apart
// from the ranges the kit's policies name.
func podIP(i int) string {
	return netip.AddrFrom4([4]byte{100, 64 + byte(i>>16&0x3f), byte(i >> 8), byte(i)}).String()
}

// halves splits a policy into its ingress and egress parts: NetworkPolicy directions are
// independent, so the part of one direction alone decides that direction.
func halves(np *netv1.NetworkPolicy) map[string]*netv1.NetworkPolicy {
	out := map[string]*netv1.NetworkPolicy{}
	for _, t := range np.Spec.PolicyTypes {
		h := np.DeepCopy()
		h.Spec.PolicyTypes = []netv1.PolicyType{t}
		if t == netv1.PolicyTypeIngress {
			h.Spec.Egress = nil
			out["ingress"] = h
		} else {
			h.Spec.Ingress = nil
			out["egress"] = h
		}
	}
	return out
}

func (w *world) build() error {
	all := make([]*netv1.NetworkPolicy, len(w.policies))
	byDir := map[string][]*netv1.NetworkPolicy{}
	for i, p := range w.policies {
		all[i] = p.np
		for dir, h := range halves(p.np) {
			byDir[dir] = append(byDir[dir], h)
		}
	}
	var err error
	if w.full, err = w.engine(all); err != nil {
		return fmt.Errorf("%s: %w", w.env, err)
	}
	for _, dir := range []string{"ingress", "egress"} {
		if w.half[dir], err = w.engine(byDir[dir]); err != nil {
			return fmt.Errorf("%s: %w", w.env, err)
		}
	}
	return nil
}

// conn is one connection to evaluate.
type conn struct {
	src, dst *pod
	// addr is set for a destination outside the cluster.
	addr     string
	port     int32
	protocol corev1.Protocol
	// portName is the destination's name for the port, when it has one.
	portName string
}

func (c conn) dstKey() string {
	if c.addr != "" {
		return c.addr
	}
	return c.dst.key
}

func (c conn) dstDesc() string {
	if c.addr != "" {
		return c.addr
	}
	return c.dst.desc
}

func (c conn) portDesc() string {
	s := fmt.Sprintf("%s %d", c.protocol, c.port)
	if c.portName != "" {
		s += " (" + c.portName + ")"
	}
	return s
}

func allowed(pe *eval.PolicyEngine, c conn) (bool, error) {
	ok, err := pe.CheckIfAllowed(c.src.key, c.dstKey(), string(c.protocol), strconv.Itoa(int(c.port)))
	if err != nil {
		return false, fmt.Errorf("evaluate %s → %s %s: %w", c.src.key, c.dstKey(), c.portDesc(), err)
	}
	return ok, nil
}

// blockers names the policies that block a connection the full engine denies: for each
// direction the policies' parts of that direction deny, every part that denies it on its own
// (the parts selecting the pod; none of them allows the connection, or the union would).
func (w *world) blockers(c conn) ([]*netpol, []string, error) {
	var out []*netpol
	var dirs []string
	for _, dir := range []string{"egress", "ingress"} {
		ok, err := allowed(w.half[dir], c)
		if err != nil {
			return nil, nil, err
		}
		if ok {
			continue
		}
		dirs = append(dirs, dir)
		for _, p := range w.policies {
			h := halves(p.np)[dir]
			if h == nil {
				continue
			}
			key := dir + "/" + p.np.Namespace + "/" + p.np.Name
			pe := w.single[key]
			if pe == nil {
				if pe, err = w.engine([]*netv1.NetworkPolicy{h}); err != nil {
					return nil, nil, err
				}
				w.single[key] = pe
			}
			ok, err := allowed(pe, c)
			if err != nil {
				return nil, nil, err
			}
			if !ok {
				out = append(out, p)
			}
		}
	}
	return out, dirs, nil
}

// matches lists the pods a flow's peer names.
func (w *world) matches(p *Peer) []*pod {
	switch p.kind() {
	case "component":
		var out []*pod
		for _, x := range w.pods {
			if x.wl == nil {
				continue
			}
			if p.Component != "*" && x.component != p.Component {
				continue
			}
			if p.Role != "" && x.labels[RoleLabel] != p.Role {
				continue
			}
			out = append(out, x)
		}
		return out
	case "pods":
		return []*pod{w.representative(p)}
	}
	return nil
}

// hasComponent says whether the environment renders the component (a flow about a component
// the environment does not deploy, such as MinIO in prod, does not apply).
func (w *world) hasComponent(name string) bool {
	if name == "*" {
		return true
	}
	for _, x := range w.pods {
		if x.component == name {
			return true
		}
	}
	return false
}

// resolve gives the connections a flow needs towards one destination pod (or address).
func resolve(f *Flow, src, dst *pod, addr string) ([]conn, []string) {
	var out []conn
	var problems []string
	if len(f.ports) == 0 {
		for _, cp := range dst.ports {
			out = append(out, conn{src: src, dst: dst, port: cp.ContainerPort, protocol: protocolOf(cp.Protocol), portName: cp.Name})
		}
		return out, nil
	}
	for _, pt := range f.ports {
		c := conn{src: src, dst: dst, addr: addr, protocol: pt.protocol, port: pt.num}
		if pt.num == 0 {
			found := false
			if dst != nil {
				for _, name := range pt.names {
					for _, cp := range dst.ports {
						if cp.Name == name && protocolOf(cp.Protocol) == pt.protocol {
							c.port, c.portName, found = cp.ContainerPort, name, true
							break
						}
					}
					if found {
						break
					}
				}
			}
			if !found {
				problems = append(problems, fmt.Sprintf("port %q: %s serves no container port of that name", pt.text, describe(dst, addr)))
				continue
			}
		}
		out = append(out, c)
	}
	return out, problems
}

func describe(dst *pod, addr string) string {
	if dst != nil {
		return dst.desc
	}
	return addr
}

func protocolOf(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

func (w *world) intentFinding(f *Flow, msg string) envcheck.Finding {
	return envcheck.Finding{Rule: RuleIntent, Severity: policy.Failure, File: w.intentDoc, Line: f.Line,
		Message: fmt.Sprintf("flow %q: %s", f.Name, msg)}
}

// checkDeclared evaluates every flow that applies to the environment.
func (w *world) checkDeclared() ([]envcheck.Finding, error) {
	var out []envcheck.Finding
	for _, f := range w.flows {
		if !w.hasComponent(f.From.Component) && f.From.kind() == "component" || f.To.kind() == "component" && !w.hasComponent(f.To.Component) {
			continue
		}
		srcs := w.matches(&f.From)
		if len(srcs) == 0 {
			out = append(out, w.intentFinding(f, fmt.Sprintf("no pod of %s in the render of %s (role is the pods' %s label)", f.From.String(), w.env, RoleLabel)))
			continue
		}
		var dsts []*pod
		addr := ""
		if f.To.kind() == "cidr" {
			addr = f.To.prefix.Addr().String()
			dsts = []*pod{nil}
		} else if dsts = w.matches(&f.To); len(dsts) == 0 {
			out = append(out, w.intentFinding(f, fmt.Sprintf("no pod of %s in the render of %s (role is the pods' %s label)", f.To.String(), w.env, RoleLabel)))
			continue
		}
		reported := map[string]bool{}
		for _, src := range srcs {
			for _, dst := range dsts {
				conns, problems := resolve(f, src, dst, addr)
				for _, p := range problems {
					if !reported[p] {
						reported[p] = true
						out = append(out, w.intentFinding(f, p))
					}
				}
				for _, c := range conns {
					if c.dst != nil && c.src.key == c.dst.key {
						continue
					}
					ok, err := allowed(w.full, c)
					if err != nil {
						return nil, err
					}
					if ok {
						continue
					}
					nps, dirs, err := w.blockers(c)
					if err != nil {
						return nil, err
					}
					out = append(out, w.blockedFindings(f, c, nps, dirs)...)
				}
			}
		}
	}
	return out, nil
}

func (w *world) blockedFindings(f *Flow, c conn, nps []*netpol, dirs []string) []envcheck.Finding {
	msg := fmt.Sprintf("flow %q (%s:%d) is blocked in %s: %s → %s %s is denied by the %s of",
		f.Name, w.intentDoc, f.Line, w.env, c.src.desc, c.dstDesc(), c.portDesc(), strings.Join(dirs, " and "))
	if len(nps) == 0 {
		return []envcheck.Finding{{Rule: RuleBlocked, Severity: policy.Failure, File: w.intentDoc, Line: f.Line, Message: msg + " the policies selecting these pods"}}
	}
	names := make([]string, len(nps))
	for i, p := range nps {
		names[i] = "NetworkPolicy " + p.np.Name
	}
	msg += " " + strings.Join(names, ", ")
	// One finding per blocking policy, located at it: that is what a fix edits.
	out := make([]envcheck.Finding, 0, len(nps))
	for _, p := range nps {
		out = append(out, envcheck.Finding{Release: p.rel, Object: p.obj, Rule: RuleBlocked, Severity: policy.Failure, Message: msg})
	}
	return out
}

// declared says whether some flow of the environment covers a connection.
func (w *world) declared(c conn) bool {
	for _, f := range w.flows {
		if !w.peerHas(&f.From, c.src, "") {
			continue
		}
		if !w.peerHas(&f.To, c.dst, c.addr) {
			continue
		}
		if len(f.ports) == 0 {
			return true
		}
		for _, pt := range f.ports {
			if pt.protocol != c.protocol {
				continue
			}
			if pt.num != 0 && pt.num == c.port || contains(pt.names, c.portName) && c.portName != "" {
				return true
			}
		}
	}
	return false
}

func (w *world) peerHas(p *Peer, x *pod, addr string) bool {
	switch p.kind() {
	case "cidr":
		a, err := netip.ParseAddr(addr)
		return addr != "" && err == nil && p.prefix.Contains(a)
	case "component":
		if x == nil || x.wl == nil {
			return false
		}
		return (p.Component == "*" || x.component == p.Component) && (p.Role == "" || x.labels[RoleLabel] == p.Role)
	}
	return x != nil && x == w.representative(p)
}

// checkUndeclared reports, as warnings, connections the policies allow that no flow declares:
// from every pod (kit, representatives, probes) to every port a kit pod serves, from every kit
// pod to the ports flows name on representatives and external ranges, and from every kit pod to
// an address outside the cluster. One warning per source and destination, listing the ports.
func (w *world) checkUndeclared() ([]envcheck.Finding, error) {
	type pair struct{ src, dst string }
	var order []pair
	ports := map[pair][]string{}
	first := map[pair]conn{}
	add := func(c conn) error {
		if c.dst != nil && c.src.key == c.dst.key || w.declared(c) {
			return nil
		}
		ok, err := allowed(w.full, c)
		if err != nil || !ok {
			return err
		}
		k := pair{c.src.key, c.dstKey()}
		if _, seen := ports[k]; !seen {
			order = append(order, k)
			first[k] = c
		}
		ports[k] = append(ports[k], c.portDesc())
		return nil
	}
	for _, dst := range w.pods {
		if dst.wl == nil {
			continue
		}
		for _, src := range w.pods {
			for _, cp := range dst.ports {
				if err := add(conn{src: src, dst: dst, port: cp.ContainerPort, protocol: protocolOf(cp.Protocol), portName: cp.Name}); err != nil {
					return nil, err
				}
			}
		}
	}
	for _, src := range w.pods {
		if src.wl == nil {
			continue
		}
		for _, f := range w.flows {
			for _, pt := range f.ports {
				if pt.num == 0 {
					continue
				}
				switch f.To.kind() {
				case "cidr":
					if err := add(conn{src: src, addr: f.To.prefix.Addr().String(), port: pt.num, protocol: pt.protocol}); err != nil {
						return nil, err
					}
				case "pods":
					if err := add(conn{src: src, dst: w.representative(&f.To), port: pt.num, protocol: pt.protocol}); err != nil {
						return nil, err
					}
				}
			}
		}
		for _, pn := range probePorts {
			if err := add(conn{src: src, addr: probeAddress, port: pn, protocol: corev1.ProtocolTCP}); err != nil {
				return nil, err
			}
		}
	}
	var out []envcheck.Finding
	for _, k := range order {
		c := first[k]
		dst := c.dstDesc()
		if c.addr == probeAddress {
			dst = "any address outside the cluster (egress is not restricted)"
		}
		msg := fmt.Sprintf("allowed in %s but declared by no flow of %s: %s → %s on %s", w.env, w.intentDoc, c.src.desc, dst, strings.Join(dedupe(ports[k]), ", "))
		f := envcheck.Finding{Rule: RuleUndeclared, Severity: policy.Warning, Message: msg}
		// Locate it at the kit workload whose policy lets it through: the destination's (ingress),
		// else the source's (egress).
		switch {
		case c.dst != nil && c.dst.wl != nil:
			f.Release, f.Object = c.dst.wl.Release, c.dst.wl.Object
		case c.src.wl != nil:
			f.Release, f.Object = c.src.wl.Release, c.src.wl.Object
		}
		out = append(out, f)
	}
	return out, nil
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// quiet drops the analyzer's log lines: a CLI prints findings, not library warnings.
type quiet struct{}

func (quiet) Debugf(string, ...interface{})        {}
func (quiet) Infof(string, ...interface{})         {}
func (quiet) Warnf(string, ...interface{})         {}
func (quiet) Errorf(error, string, ...interface{}) {}
