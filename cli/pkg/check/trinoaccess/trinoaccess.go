// Package trinoaccess is the Trino access-rule intent of `lakeport check`: the kit declares, in
// policies/intent/trino-access.yaml, a table of principal x action x object that must be allowed
// or denied (the distribution job writes iceberg.risk.*, readers read, maintenance optimizes,
// admin may shut a worker down, anybody else is denied), and the check evaluates every row
// against the access rules each environment renders, with Trino's documented semantics of
// file-based access control (see rules.go). It reads what Trino would read: the
// access-control.properties and group-provider.properties of the ConfigMap mounted as the node's
// configuration, the rules file they name through the pod's volumes, and the group file when the
// kit renders it.
package trinoaccess

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/lakeport/lakeport/cli/pkg/check/envcheck"
	"github.com/lakeport/lakeport/cli/pkg/check/policy"
	"github.com/lakeport/lakeport/cli/pkg/render"
	"github.com/lakeport/lakeport/cli/pkg/source"
)

// RuleID is the rule the findings are reported under.
const RuleID = "trino_access"

// configDir is where the Trino image reads its configuration (etc/ of the server).
const configDir = "/etc/trino"

// Load is the envcheck.Loader of the Trino access intent. A snapshot without the intent file
// gives a check that finds nothing.
func Load(snap source.Snapshot) (envcheck.Check, error) {
	raw, err := snap.ReadFile(IntentFile)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return &Check{}, nil
		}
		return nil, fmt.Errorf("read %s: %w", IntentFile, err)
	}
	in, err := ParseIntent(IntentFile, raw)
	if err != nil {
		return nil, err
	}
	return &Check{intent: in}, nil
}

// Check evaluates the intent against an environment's rendered Trino access rules.
type Check struct {
	intent *Intent
}

// Rules lists the one rule of the check.
func (c *Check) Rules() []envcheck.Rule {
	return []envcheck.Rule{{
		ID:       RuleID,
		Severity: policy.Failure,
		Title:    "Trino access rules grant and deny what policies/intent/trino-access.yaml declares",
		Description: "Each expectation (principal x action x object, allow or deny) is evaluated against the " +
			"rendered file-based access control of the Trino coordinator or workers, with Trino's semantics: " +
			"first matching rule per section, full-match user/group/role patterns, denial when nothing matches.",
		File: IntentFile,
		Line: 1,
	}}
}

// Check evaluates every expectation that applies to the environment.
func (c *Check) Check(_ context.Context, in envcheck.Input) ([]envcheck.Finding, error) {
	if c.intent == nil || in.Environment == nil {
		return nil, nil
	}
	env := in.Environment.Name
	var out []envcheck.Finding
	for _, rel := range in.Releases {
		if rel.Chart.Name != "trino" {
			continue
		}
		nodes, err := discover(rel, in.Releases)
		if err != nil {
			return nil, fmt.Errorf("%s/%s: %w", env, rel.Component, err)
		}
		for _, e := range c.intent.Expectations {
			if !e.appliesTo(env) {
				continue
			}
			n := nodes[e.On]
			if n == nil {
				out = append(out, c.finding(rel, nil, e, fmt.Sprintf("%s renders no Trino %s to evaluate it on", rel.App, e.On)))
				continue
			}
			if n.problem != "" {
				out = append(out, c.finding(rel, n.workload, e, n.problem))
				continue
			}
			p := c.intent.principal(e.Principal)
			for _, action := range e.Actions {
				for _, obj := range c.intent.objects(e.Object) {
					d := n.decide(p, action, obj)
					if d.Allowed == (e.Expect == "allow") {
						continue
					}
					out = append(out, c.finding(rel, n.rulesObject, e, describe(env, n, p, e, action, obj, d)))
				}
			}
		}
	}
	return out, nil
}

func (c *Check) finding(rel *render.Release, obj *render.Object, e *Expectation, msg string) envcheck.Finding {
	return envcheck.Finding{Release: rel, Object: obj, Rule: RuleID, Severity: policy.Failure, Message: msg, File: c.intent.file, Line: e.Line}
}

func describe(env string, n *node, p *IntentPrincipal, e *Expectation, action, obj string, d Decision) string {
	who := fmt.Sprintf("%s (user %q", p.Name, p.User)
	if len(p.Groups) > 0 {
		who += fmt.Sprintf(", groups %s", strings.Join(p.Groups, ","))
	}
	who += ")"
	what := action
	if obj != "" {
		what += " " + obj
	}
	verb, got := "must be allowed to", "deny"
	if e.Expect == "deny" {
		verb, got = "must be denied", "allow"
		what = "to " + what
	}
	msg := fmt.Sprintf("%s %s %s in %s, but the %s's rules (%s) %s it: %s", who, verb, what, env, e.On, n.source, got, d.Reason)
	if note := n.groupNote(p); note != "" {
		msg += " (" + note + ")"
	}
	if e.Reason != "" {
		msg += "; intent: " + e.Reason
	}
	return msg
}

// node is one Trino role (coordinator or workers) as rendered: its access rules and groups.
type node struct {
	role     string
	workload *render.Object
	// rules is nil when the node has no access-control.properties (Trino's default control).
	rules       *Rules
	rulesObject *render.Object
	source      string
	// problem says why the rules cannot be evaluated.
	problem string
	// groupProvider is whether the node maps users to groups; members is the rendered group
	// file, nil when it comes from a Secret the kit does not render.
	groupProvider bool
	groupSource   string
	members       map[string][]string
}

// groups are the groups Trino would give the principal on this node.
func (n *node) groups(p *IntentPrincipal) []string {
	switch {
	case !n.groupProvider:
		return nil
	case n.members == nil:
		return p.Groups
	}
	var out []string
	for g, users := range n.members {
		if slices.Contains(users, p.User) {
			out = append(out, g)
		}
	}
	slices.Sort(out)
	return out
}

func (n *node) groupNote(p *IntentPrincipal) string {
	if len(p.Groups) == 0 {
		return ""
	}
	switch {
	case !n.groupProvider:
		return fmt.Sprintf("no group provider is configured on the %s, so user %q has no groups and group rules never match: configure group-provider.properties", n.role, p.User)
	case n.members != nil:
		return fmt.Sprintf("the group file %s gives user %q the groups %v", n.groupSource, p.User, n.groups(p))
	}
	return ""
}

func (n *node) decide(p *IntentPrincipal, action, obj string) Decision {
	if n.rules == nil {
		return DefaultDecision(action)
	}
	pr := Principal{User: p.User, Groups: n.groups(p)}
	parts := strings.Split(obj, ".")
	r := n.rules
	switch action {
	case ActionSelect, ActionInsert, ActionDelete, ActionUpdate, ActionOwnership:
		return r.TablePrivilege(pr, strings.ToUpper(action), parts[0], parts[1], parts[2])
	case ActionTableProcedure:
		return r.TableProcedure(pr, parts[0])
	case ActionShowSchemas:
		return r.ShowSchemas(pr, obj)
	case ActionShowTables:
		return r.ShowTables(pr, parts[0], parts[1])
	case ActionKillQuery:
		return r.KillQuery(pr, obj)
	case ActionReadSystemInformation:
		return r.SystemInfo(pr, "read")
	case ActionWriteSystemInformation:
		return r.SystemInfo(pr, "write")
	case ActionImpersonate:
		return r.Impersonate(pr, obj)
	}
	return deny("unknown action %q", action)
}

// discover finds the coordinator and worker Deployments of a Trino release and reads their
// access control the way Trino would.
func discover(rel *render.Release, all []*render.Release) (map[string]*node, error) {
	out := map[string]*node{}
	for _, o := range rel.Objects {
		if o.Kind != "Deployment" && o.Kind != "StatefulSet" {
			continue
		}
		role := str(dig(o.Content, "spec", "template", "metadata", "labels"), "app.kubernetes.io/component")
		if role != "coordinator" && role != "worker" {
			continue
		}
		p, err := newPod(o, all)
		if err != nil {
			return nil, err
		}
		n := &node{role: role, workload: o, source: "default access control"}
		readNode(n, p)
		out[role] = n
	}
	return out, nil
}

func readNode(n *node, p *pod) {
	acRaw, acSrc, err := p.read(path.Join(configDir, "access-control.properties"))
	switch {
	case errors.Is(err, errNotMounted), errors.Is(err, errNoKey):
		// No access-control.properties: Trino's default system access control.
	case err != nil:
		n.problem = fmt.Sprintf("cannot read the %s's access-control.properties: %v", n.role, err)
		return
	default:
		props := properties(acRaw)
		if name := props["access-control.name"]; name != "file" {
			n.problem = fmt.Sprintf("the %s uses access-control.name=%s (%s): only file-based access control can be evaluated", n.role, name, acSrc)
			return
		}
		file := props["security.config-file"]
		if !path.IsAbs(file) {
			file = path.Join("/usr/lib/trino", file) // Trino resolves relative paths from its install dir
		}
		raw, src, err := p.read(file)
		if err != nil {
			n.problem = fmt.Sprintf("the %s's security.config-file %s (%s) cannot be evaluated: %v", n.role, file, acSrc, err)
			return
		}
		rules, err := ParseRules([]byte(raw))
		if err != nil {
			n.problem = fmt.Sprintf("the %s's rules file %s (%s) is not valid for Trino: %v", n.role, file, src.String(), err)
			return
		}
		n.rules, n.source, n.rulesObject = rules, src.String(), src.object
	}
	gpRaw, gpSrc, err := p.read(path.Join(configDir, "group-provider.properties"))
	if err != nil {
		return
	}
	props := properties(gpRaw)
	if props["group-provider.name"] != "file" {
		n.groupProvider = true // another provider: its groups cannot be known here, take the intent's
		n.groupSource = gpSrc.String()
		return
	}
	n.groupProvider = true
	raw, src, err := p.read(props["file.group-file"])
	switch {
	case errors.Is(err, errNotRendered):
		n.groupSource = src.String() // from an existing Secret or ConfigMap: membership is the intent's
	case err != nil:
		n.problem = fmt.Sprintf("the %s's group file %s (%s) cannot be read: %v", n.role, props["file.group-file"], gpSrc, err)
	default:
		n.groupSource, n.members = src.String(), groupFile(raw)
	}
}

// properties parses a Java properties file (key=value lines, # comments).
func properties(text string) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "!") {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			out[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return out
}

// groupFile parses Trino's group file: group:user1,user2 per line (security/group-file.md).
func groupFile(text string) map[string][]string {
	out := map[string][]string{}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		g, users, ok := strings.Cut(line, ":")
		if !ok || line == "" {
			continue
		}
		for _, u := range strings.Split(users, ",") {
			if u = strings.TrimSpace(u); u != "" {
				out[strings.TrimSpace(g)] = append(out[strings.TrimSpace(g)], u)
			}
		}
	}
	return out
}
