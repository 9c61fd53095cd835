// Package impact says what a change to a rendered resource will do once Argo CD syncs it, beyond
// the text of the diff: which pods restart, which updates the API server refuses (the sync
// fails), where data can be lost, what changes who can reach or do what, and what changes the
// number of pods. It reads the two rendered objects of a resource (base and head; in a live diff
// the cluster's object and the predicted one) whole, before any ignore rule: a changed
// checksum/config annotation is noise in the text but exactly why a pod restarts.
//
// Analyze is pure and cheap: it only walks objects whose documents differ, and never prints or
// returns a secret value (reasons name keys, never values, except image references, replica
// counts, storage sizes and retention periods).
package impact

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/lakeport/lakeport/cli/pkg/render"
)

// Kind is a class of impact.
type Kind string

// Kinds, in the order they are shown (the most consequential first).
const (
	// SyncFails is an update the API server refuses (an immutable field): the sync fails until
	// the object is replaced or deleted and recreated.
	SyncFails Kind = "sync-fails"
	// DataAtRisk is a change that can lose or orphan data: volumes, CRDs, the lakehouse's
	// warehouse and catalog, snapshot retention, applied migrations, data contracts.
	DataAtRisk Kind = "data-at-risk"
	// Security changes who can reach or do what.
	Security Kind = "security"
	// Restart is a pod template change: the workload's pods are replaced.
	Restart Kind = "restart"
	// Scale changes how many pods run or may be disrupted.
	Scale Kind = "scale"
)

// Kinds lists every kind in display order.
var Kinds = []Kind{SyncFails, DataAtRisk, Security, Restart, Scale}

// ParseKind reads a kind as the CLI spells it ("sync-fails"; "sync fails" and "data at risk" too).
func ParseKind(s string) (Kind, error) {
	k := Kind(strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), " ", "-"))
	for _, known := range Kinds {
		if k == known {
			return k, nil
		}
	}
	names := make([]string, len(Kinds))
	for i, k := range Kinds {
		names[i] = string(k)
	}
	return "", fmt.Errorf("unknown impact %q (known: %s)", s, strings.Join(names, ", "))
}

// Impact is one consequence of a change.
type Impact struct {
	Kind Kind `json:"kind"`
	// Reason says what happens and why, in words (and, for sync failures, what Argo CD needs).
	Reason string `json:"reason"`
	// Paths are the fields (or, for repository files, the files) that cause it.
	Paths []string `json:"paths"`
}

// Icon is the emoji the Markdown writer puts before the kind's words.
func (k Kind) Icon() string {
	switch k {
	case SyncFails:
		return "⛔"
	case DataAtRisk:
		return "🗑️"
	case Security:
		return "🔐"
	case Restart:
		return "🔄"
	case Scale:
		return "📈"
	}
	return "•"
}

// Words is the kind as a reader says it ("sync fails").
func (k Kind) Words() string { return strings.ReplaceAll(string(k), "-", " ") }

func rank(k Kind) int {
	for i, known := range Kinds {
		if k == known {
			return i
		}
	}
	return len(Kinds)
}

// Sort orders impacts by kind (display order), then reason.
func Sort(im []Impact) {
	sort.SliceStable(im, func(i, j int) bool {
		if im[i].Kind != im[j].Kind {
			return rank(im[i].Kind) < rank(im[j].Kind)
		}
		return im[i].Reason < im[j].Reason
	})
}

// KindsOf lists the distinct kinds of impacts, in display order.
func KindsOf(im []Impact) []Kind {
	seen := map[Kind]bool{}
	for _, i := range im {
		seen[i.Kind] = true
	}
	var out []Kind
	for _, k := range Kinds {
		if seen[k] {
			out = append(out, k)
		}
	}
	return out
}

// Analyze returns the impacts of changing base into head. Either may be nil: head nil is a
// removed resource, base nil an added one. Identical documents have no impact.
func Analyze(base, head *render.Object) []Impact {
	if base == nil && head == nil {
		return nil
	}
	if base != nil && head != nil && base.YAML != "" && base.YAML == head.YAML {
		return nil
	}
	c := change{base: base, head: head}
	cur := head
	if cur == nil {
		cur = base
	}
	c.group, c.kind, c.hook = cur.Group(), cur.Kind, cur.Hook
	if !analysed[c.group] && !analysed[c.group+"/"+c.kind] {
		return nil // no rule reads this kind (ServiceMonitors, dashboards...): skip the walk
	}
	if base != nil {
		c.b = base.Content
	}
	if head != nil {
		c.h = head.Content
	}
	if base != nil && head != nil {
		diffPaths(c.b, c.h, make(path, 0, 16), &c.paths)
	}
	c.workload()
	c.syncFails()
	c.dataAtRisk()
	c.security()
	c.scale()
	Sort(c.out)
	return c.out
}

// analysed are the API groups, or group/kind pairs, some rule reads.
var analysed = map[string]bool{
	"apps": true, "batch": true, "rbac.authorization.k8s.io": true, "apiextensions.k8s.io": true,
	"networking.k8s.io": true, "gateway.networking.k8s.io": true, "autoscaling": true, "policy": true,
	"/Service": true, "/PersistentVolumeClaim": true, "/ConfigMap": true, "/Secret": true,
	"/ServiceAccount": true, "/Namespace": true,
}

// change is one resource being analysed.
type change struct {
	base, head        *render.Object
	b, h              map[string]any // contents, nil where absent
	group, kind, hook string
	// paths are the changed leaf paths of the whole object (changed resources only).
	paths []path
	out   []Impact
}

func (c *change) added() bool   { return c.base == nil }
func (c *change) removed() bool { return c.head == nil }
func (c *change) changed() bool { return c.base != nil && c.head != nil }

func (c *change) add(k Kind, reason string, paths ...string) {
	if paths == nil {
		paths = []string{}
	}
	c.out = append(c.out, Impact{Kind: k, Reason: reason, Paths: paths})
}

// under returns the changed paths that start with prefix (as strings).
func (c *change) under(prefix ...any) []string {
	var out []string
	for _, p := range c.paths {
		if p.hasPrefix(prefix) {
			out = append(out, p.String())
		}
	}
	return out
}

// path is a field path: string keys and int indexes.
type path []any

func (p path) child(s any) path {
	out := make(path, len(p)+1)
	copy(out, p)
	out[len(p)] = s
	return out
}

func (p path) hasPrefix(prefix []any) bool {
	if len(p) < len(prefix) {
		return false
	}
	for i, s := range prefix {
		if s == anyIndex {
			if _, ok := p[i].(int); ok {
				continue
			}
			return false
		}
		if p[i] != s {
			return false
		}
	}
	return true
}

// anyIndex in a prefix matches any list index.
const anyIndex = "[*]"

// String prints the path as the diff engine does: dotted keys, [i] indexes, ["key"] for keys
// that are not plain names.
func (p path) String() string {
	var b strings.Builder
	for _, s := range p {
		switch s := s.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", s)
		case string:
			if plainKey(s) {
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(s)
			} else {
				b.WriteString("[" + strconv.Quote(s) + "]")
			}
		}
	}
	if b.Len() == 0 {
		return "(root)"
	}
	return b.String()
}

func plainKey(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
		case i > 0 && (r >= '0' && r <= '9' || r == '-'):
		default:
			return false
		}
	}
	return true
}

// diffPaths lists the leaf paths where a and b differ; lists of different lengths and values of
// different types are one change at their path. p is a stack shared by the walk: it is copied
// only when a difference is recorded, so that walking equal subtrees allocates nothing.
func diffPaths(a, b any, p path, out *[]path) {
	emit := func(p path) { *out = append(*out, append(path(nil), p...)) }
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok {
			break
		}
		keys := make([]string, 0, len(av)+len(bv))
		for k := range av {
			keys = append(keys, k)
		}
		for k := range bv {
			if _, ok := av[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			ac, aok := av[k]
			bc, bok := bv[k]
			if aok != bok {
				emit(append(p, k))
				continue
			}
			diffPaths(ac, bc, append(p, k), out)
		}
		return
	case []any:
		bv, ok := b.([]any)
		if !ok || len(av) != len(bv) {
			break
		}
		for i := range av {
			diffPaths(av[i], bv[i], append(p, i), out)
		}
		return
	case string:
		if bs, ok := b.(string); ok && av == bs {
			return
		}
	}
	if !reflect.DeepEqual(a, b) {
		emit(p)
	}
}

// get reads a nested value by keys; nil when any step is missing.
func get(m map[string]any, keys ...string) any {
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

func getMap(m map[string]any, keys ...string) map[string]any {
	v, _ := get(m, keys...).(map[string]any)
	return v
}

func getList(m map[string]any, keys ...string) []any {
	v, _ := get(m, keys...).([]any)
	return v
}

func getString(m map[string]any, keys ...string) string {
	switch v := get(m, keys...).(type) {
	case string:
		return v
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

// number reads an integer-valued field (YAML and JSON decoders differ in the Go type).
func number(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int64:
		return n, true
	case int32:
		return int64(n), true
	case float64:
		return int64(n), true
	case uint64:
		return int64(n), true
	}
	return 0, false
}

func same(a, b any) bool { return reflect.DeepEqual(a, b) }

func quoteList(items []string) string {
	if len(items) == 0 {
		return ""
	}
	return strings.Join(items, ", ")
}
