package connectivity

import (
	"strings"
	"testing"
)

func TestParseIntentErrors(t *testing.T) {
	const head = "apiVersion: lakeport.dev/v1alpha1\nkind: ConnectivityIntent\nflows:\n"
	for _, tc := range []struct {
		name  string
		doc   string
		wants []string
	}{
		{"unknown key", head + "  - name: a\n    from: {component: x}\n    to: {component: y}\n    port: [http]\n",
			[]string{`f.yaml: line 7: unknown key "port"`}},
		{"wrong kind", "apiVersion: v1\nkind: Flows\nflows:\n  - {name: a, from: {component: x}, to: {component: y}}\n",
			[]string{`f.yaml:1: apiVersion: want apiVersion lakeport.dev/v1alpha1 and kind ConnectivityIntent, got "v1" "Flows"`}},
		{"no flows", "apiVersion: lakeport.dev/v1alpha1\nkind: ConnectivityIntent\n",
			[]string{"flows: must declare at least one flow"}},
		{"peers", head +
			"  - name: a\n    from: {component: x, cidr: 10.0.0.0/8}\n    to: {role: worker}\n" +
			"  - name: a\n    from: {cidr: 10.0.0.0/8}\n    to: {cidr: 10.0.0.300/8}\n    ports: [\"443\"]\n",
			[]string{
				"f.yaml:5: flows[0].from: must name exactly one of",
				"f.yaml:6: flows[0].to: must name exactly one of",
				`f.yaml:7: flows[1].name: flow "a" is declared twice`,
				"f.yaml:8: flows[1].from.cidr: flows from addresses outside the cluster are not supported",
				`f.yaml:9: flows[1].to.cidr: "10.0.0.300/8" is not a CIDR`,
			}},
		{"ports", head + "  - name: a\n    from: {component: x}\n    to: {namespace: monitoring}\n" +
			"  - name: b\n    from: {component: x}\n    to: {component: y}\n    ports: [\"0\", http/ICMP, Not_A_Name, \"53/udp\"]\n",
			[]string{
				"f.yaml:6: flows[0].ports: a destination outside the kit needs its ports",
				"f.yaml:10: flows[1].ports[0]: port 0 is out of range",
				`f.yaml:10: flows[1].ports[1]: protocol "ICMP" is not TCP, UDP or SCTP`,
				`f.yaml:10: flows[1].ports[2]: "Not_A_Name" is neither a port number nor a container port name`,
			}},
		{"labels and namespace", head + "  - name: a\n    from: {namespace: Bad_NS}\n    to: {podLabels: {\"a b\": x}}\n    ports: [\"1\"]\n",
			[]string{`flows[0].from.namespace: "Bad_NS" is not a namespace name`, "flows[0].to.podLabels.a b: not a label key"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseIntent("f.yaml", []byte(tc.doc))
			if err == nil {
				t.Fatal("no error")
			}
			for _, want := range tc.wants {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not contain %q:\n%v", want, err)
				}
			}
		})
	}
}

func TestParseIntentPorts(t *testing.T) {
	in, err := ParseIntent("f.yaml", []byte("apiVersion: lakeport.dev/v1alpha1\nkind: ConnectivityIntent\nflows:\n"+
		"  - name: a\n    from: {component: \"*\"}\n    to: {namespace: kube-system, podLabels: {k8s-app: kube-dns}}\n    ports: [53/UDP, \"53\", https|http]\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := in.Flows[0].ports
	if len(got) != 3 || got[0].num != 53 || got[0].protocol != "UDP" || got[1].protocol != "TCP" || strings.Join(got[2].names, ",") != "https,http" {
		t.Errorf("ports %+v", got)
	}
	if in.Flows[0].Line != 4 {
		t.Errorf("line %d, want 4", in.Flows[0].Line)
	}
}
