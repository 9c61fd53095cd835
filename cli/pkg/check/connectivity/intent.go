package connectivity

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/lakeport/lakeport/cli/pkg/kit"
)

// Intent is the parsed policies/intent/flows.yaml.
type Intent struct {
	File  string
	Flows []*Flow
}

// intentFile is the schema of the file.
type intentFile struct {
	APIVersion string  `yaml:"apiVersion"`
	Kind       string  `yaml:"kind"`
	Flows      []*Flow `yaml:"flows"`
}

// Flow is one connection the platform needs.
type Flow struct {
	// Name identifies the flow in findings.
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	From        Peer   `yaml:"from"`
	To          Peer   `yaml:"to"`
	// Ports are the ports the flow needs, each "<port>[/<protocol>]": a number or a container
	// port name of the destination; "a|b" takes the first name the destination's pods serve.
	// Empty: every port the destination's pods serve (kit destinations only).
	Ports []string `yaml:"ports"`
	// Environments limits the flow to these environments; empty: every environment.
	Environments []string `yaml:"environments"`

	// Line is the line of the flow in the file.
	Line  int `yaml:"-"`
	ports []port
}

// Peer is one end of a flow: pods of the kit (component and role), pods outside it (namespace
// and pod labels), or addresses outside the cluster (cidr).
type Peer struct {
	// Component is a component of the environment (its release); "*" is every pod of the kit.
	Component string `yaml:"component"`
	// Role is the app.kubernetes.io/component label of the component's pods; empty: all of them.
	Role string `yaml:"role"`
	// Namespace and PodLabels name pods the kit does not render: PodLabels in Namespace (the
	// environment's own namespace when empty).
	Namespace string            `yaml:"namespace"`
	PodLabels map[string]string `yaml:"podLabels"`
	// CIDR is an address range outside the cluster.
	CIDR string `yaml:"cidr"`

	prefix netip.Prefix
}

// RoleLabel is the pod label a flow's role matches.
const RoleLabel = "app.kubernetes.io/component"

func (p *Peer) kind() string {
	switch {
	case p.Component != "":
		return "component"
	case p.CIDR != "":
		return "cidr"
	default:
		return "pods"
	}
}

func (p *Peer) String() string {
	switch p.kind() {
	case "component":
		if p.Component == "*" {
			return "every pod of the kit"
		}
		if p.Role != "" {
			return p.Component + "/" + p.Role
		}
		return p.Component
	case "cidr":
		return p.CIDR
	}
	ns := p.Namespace
	if ns == "" {
		ns = "(environment namespace)"
	}
	return ns + "/" + labelString(p.PodLabels)
}

type port struct {
	// names are the alternatives of a named port; num is set for a numeric port.
	names    []string
	num      int32
	protocol corev1.Protocol
	text     string
}

var unknownFieldRE = regexp.MustCompile(`^line (\d+): field (\S+) not found in type \S+$`)

var protocolRE = regexp.MustCompile(`^(TCP|UDP|SCTP)$`)

func parsePort(s string) (port, error) {
	p := port{protocol: corev1.ProtocolTCP, text: s}
	spec := s
	if i := strings.LastIndex(s, "/"); i >= 0 {
		spec = s[:i]
		proto := strings.ToUpper(s[i+1:])
		if !protocolRE.MatchString(proto) {
			return p, fmt.Errorf("protocol %q is not TCP, UDP or SCTP", s[i+1:])
		}
		p.protocol = corev1.Protocol(proto)
	}
	if n, err := strconv.Atoi(spec); err == nil {
		if n < 1 || n > 65535 {
			return p, fmt.Errorf("port %d is out of range 1-65535", n)
		}
		p.num = int32(n)
		return p, nil
	}
	for _, name := range strings.Split(spec, "|") {
		if errs := validation.IsValidPortName(name); len(errs) > 0 {
			return p, fmt.Errorf("%q is neither a port number nor a container port name: %s", name, strings.Join(errs, "; "))
		}
		p.names = append(p.names, name)
	}
	return p, nil
}

// ParseIntent reads and validates an intent file: unknown keys, missing or contradictory peers,
// bad ports, CIDRs and labels are errors naming the file, line and key, all at once.
func ParseIntent(file string, raw []byte) (*Intent, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var f intentFile
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			msgs := make([]string, len(te.Errors))
			for i, m := range te.Errors {
				msgs[i] = unknownFieldRE.ReplaceAllString(m, `line $1: unknown key "$2"`)
			}
			return nil, fmt.Errorf("%s: %s", file, strings.Join(msgs, "; "))
		}
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var errs []error
	fe := func(line int, key, format string, args ...any) {
		errs = append(errs, &kit.FieldError{File: file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	if f.APIVersion != "lakeport.dev/v1alpha1" || f.Kind != "ConnectivityIntent" {
		fe(kit.LineOf(&root, "apiVersion"), "apiVersion", "want apiVersion lakeport.dev/v1alpha1 and kind ConnectivityIntent, got %q %q", f.APIVersion, f.Kind)
	}
	if len(f.Flows) == 0 {
		fe(kit.LineOf(&root, "flows"), "flows", "must declare at least one flow")
	}
	names := map[string]bool{}
	for i, fl := range f.Flows {
		idx := strconv.Itoa(i)
		key := fmt.Sprintf("flows[%d]", i)
		fl.Line = kit.LineOf(&root, "flows", idx)
		at := func(keys ...string) int { return kit.LineOf(&root, append([]string{"flows", idx}, keys...)...) }
		switch {
		case fl.Name == "":
			fe(fl.Line, key+".name", "must be set")
		case names[fl.Name]:
			fe(at("name"), key+".name", "flow %q is declared twice", fl.Name)
		}
		names[fl.Name] = true
		for _, side := range []struct {
			name string
			p    *Peer
		}{{"from", &fl.From}, {"to", &fl.To}} {
			k := key + "." + side.name
			line := at(side.name)
			p := side.p
			set := 0
			for _, b := range []bool{p.Component != "", p.CIDR != "", p.Namespace != "" || len(p.PodLabels) > 0} {
				if b {
					set++
				}
			}
			if set != 1 {
				fe(line, k, "must name exactly one of: component (+ role), namespace/podLabels, cidr")
				continue
			}
			if p.Role != "" && p.Component == "" {
				fe(line, k+".role", "needs a component")
			}
			if p.Component == "*" && p.Role != "" {
				fe(line, k+".role", "every pod of the kit (component \"*\") takes no role")
			}
			if p.CIDR != "" {
				pre, err := netip.ParsePrefix(p.CIDR)
				if err != nil {
					fe(line, k+".cidr", "%q is not a CIDR such as 10.0.0.0/24", p.CIDR)
				}
				p.prefix = pre
				if side.name == "from" {
					fe(line, k+".cidr", "flows from addresses outside the cluster are not supported: declare the destination's ingress instead")
				}
			}
			for lk, lv := range p.PodLabels {
				if errs := validation.IsQualifiedName(lk); len(errs) > 0 {
					fe(line, k+".podLabels."+lk, "not a label key: %s", strings.Join(errs, "; "))
				}
				if errs := validation.IsValidLabelValue(lv); len(errs) > 0 {
					fe(line, k+".podLabels."+lk, "not a label value: %s", strings.Join(errs, "; "))
				}
			}
			if p.Namespace != "" {
				if errs := validation.IsDNS1123Label(p.Namespace); len(errs) > 0 {
					fe(line, k+".namespace", "%q is not a namespace name", p.Namespace)
				}
			}
		}
		for j, s := range fl.Ports {
			pt, err := parsePort(s)
			if err != nil {
				fe(at("ports", strconv.Itoa(j)), fmt.Sprintf("%s.ports[%d]", key, j), "%v", err)
				continue
			}
			fl.ports = append(fl.ports, pt)
		}
		if len(fl.Ports) == 0 && fl.To.Component == "" {
			fe(at("to"), key+".ports", "a destination outside the kit needs its ports")
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Intent{File: file, Flows: f.Flows}, nil
}
