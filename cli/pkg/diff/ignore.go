package diff

import (
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
)

// Path locates a value inside an object: map keys (string) and list indexes (int).
type Path []any

var plainKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// String renders a path the way --ignore accepts it: spec.template.metadata.labels["helm.sh/chart"],
// spec.containers[0].image. The root is "".
func (p Path) String() string {
	var b strings.Builder
	for _, s := range p {
		switch s := s.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", s)
		case string:
			if plainKey.MatchString(s) {
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(s)
			} else {
				b.WriteString("[" + strconv.Quote(s) + "]")
			}
		}
	}
	return b.String()
}

func (p Path) child(s any) Path {
	out := make(Path, len(p)+1)
	copy(out, p)
	out[len(p)] = s
	return out
}

// Rule ignores the parts of objects it matches. A rule is either a path pattern or a regular
// expression over path strings, optionally restricted to a kind (and name).
type Rule struct {
	// Spec is the rule as written.
	Spec string
	// Default marks the built-in rules.
	Default bool

	kind, name string
	segs       []seg
	re         *regexp.Regexp
}

type segKind int

const (
	segKey     segKind = iota // a map key; glob when it contains * or ?
	segAnyKey                 // * : any one map key
	segIndex                  // [N]
	segAnyItem                // [*]
	segDeep                   // .. : zero or more levels
)

type seg struct {
	kind  segKind
	key   string
	index int
}

// DefaultIgnores are the noise every rendered diff carries: chart and app version labels (they
// change with every chart bump), checksum annotations (they change with any value), and fields
// the server owns.
var DefaultIgnores = []string{
	`..labels["helm.sh/chart"]`,
	`..labels["app.kubernetes.io/version"]`,
	`..annotations["checksum/*"]`,
	`metadata.managedFields`,
	`status`,
}

// DefaultRules parses DefaultIgnores.
func DefaultRules() []Rule {
	out := make([]Rule, len(DefaultIgnores))
	for i, s := range DefaultIgnores {
		r, err := ParseRule(s)
		if err != nil {
			panic(fmt.Sprintf("default ignore %q: %v", s, err)) // a bug in the list above
		}
		r.Default = true
		out[i] = r
	}
	return out
}

var kindPrefix = regexp.MustCompile(`^([A-Z][A-Za-z0-9]*)(?:/([a-z0-9*?][-a-z0-9.*?]*))?:`)

// ParseRule parses an --ignore value:
//
//	spec.replicas                          a path (JSONPath-like, a leading $. is optional)
//	..annotations["checksum/*"]            .. matches any depth, * any key, globs inside ["..."]
//	spec.template.spec.containers[*].image [N] one item, [*] every item
//	/^metadata\.annotations/               a regular expression over path strings
//	Deployment/trino-*:spec.replicas       either, for one kind (and name glob) only
func ParseRule(s string) (Rule, error) {
	r := Rule{Spec: s}
	rest := strings.TrimSpace(s)
	if m := kindPrefix.FindStringSubmatch(rest); m != nil {
		r.kind, r.name = m[1], m[2]
		rest = rest[len(m[0]):]
	}
	if len(rest) >= 2 && strings.HasPrefix(rest, "/") && strings.HasSuffix(rest, "/") {
		re, err := regexp.Compile(rest[1 : len(rest)-1])
		if err != nil {
			return r, fmt.Errorf("{Ignore} %q: %w", s, err)
		}
		r.re = re
		return r, nil
	}
	segs, err := parsePath(rest)
	if err != nil {
		return r, fmt.Errorf("{Ignore} %q: %w", s, err)
	}
	if len(segs) == 0 {
		return r, fmt.Errorf("{Ignore} %q: empty path (it would ignore whole objects)", s)
	}
	if segs[len(segs)-1].kind == segDeep {
		return r, fmt.Errorf("{Ignore} %q: .. must be followed by a key", s)
	}
	r.segs = segs
	return r, nil
}

func parsePath(s string) ([]seg, error) {
	s = strings.TrimPrefix(s, "$")
	var out []seg
	i := 0
	readKey := func() string {
		j := i
		for j < len(s) && s[j] != '.' && s[j] != '[' {
			j++
		}
		k := s[i:j]
		i = j
		return k
	}
	for i < len(s) {
		switch {
		case strings.HasPrefix(s[i:], ".."):
			out = append(out, seg{kind: segDeep})
			i += 2
			if i < len(s) && s[i] != '[' {
				k := readKey()
				out = append(out, keySeg(k))
			}
		case s[i] == '.':
			i++
			k := readKey()
			if k == "" {
				return nil, fmt.Errorf("empty key at offset %d", i)
			}
			out = append(out, keySeg(k))
		case s[i] == '[':
			j := strings.IndexByte(s[i:], ']')
			if j < 0 {
				return nil, fmt.Errorf("unterminated [ at offset %d", i)
			}
			inner := s[i+1 : i+j]
			// A quoted key may contain ']'; find the closing quote first.
			if len(inner) > 0 && (inner[0] == '"' || inner[0] == '\'') {
				q := inner[0]
				end := strings.IndexByte(s[i+2:], q)
				if end < 0 || i+2+end+1 >= len(s) || s[i+2+end+1] != ']' {
					return nil, fmt.Errorf("unterminated quoted key at offset %d", i)
				}
				out = append(out, keySeg(s[i+2:i+2+end]))
				i = i + 2 + end + 2
				continue
			}
			switch {
			case inner == "*":
				out = append(out, seg{kind: segAnyItem})
			default:
				n, err := strconv.Atoi(inner)
				if err != nil || n < 0 {
					return nil, fmt.Errorf("[%s] is neither an index, [*] nor a quoted key", inner)
				}
				out = append(out, seg{kind: segIndex, index: n})
			}
			i += j + 1
		default:
			if i != 0 {
				return nil, fmt.Errorf("unexpected %q at offset %d", s[i], i)
			}
			out = append(out, keySeg(readKey()))
		}
	}
	return out, nil
}

func keySeg(k string) seg {
	if k == "*" {
		return seg{kind: segAnyKey}
	}
	return seg{kind: segKey, key: k}
}

// appliesTo says whether the rule is restricted to other kinds or names.
func (r *Rule) appliesTo(kind, name string) bool {
	if r.kind != "" && r.kind != kind {
		return false
	}
	if r.name != "" {
		if ok, _ := path.Match(r.name, name); !ok {
			return false
		}
	}
	return true
}

// Match says whether the rule matches the value at p (and so everything below it).
func (r *Rule) Match(p Path, ps string) bool {
	if r.re != nil {
		return r.re.MatchString(ps)
	}
	return matchSegs(r.segs, p)
}

func matchSegs(segs []seg, p Path) bool {
	if len(segs) == 0 {
		return len(p) == 0
	}
	s := segs[0]
	if s.kind == segDeep {
		for i := 0; i <= len(p); i++ {
			if matchSegs(segs[1:], p[i:]) {
				return true
			}
		}
		return false
	}
	if len(p) == 0 {
		return false
	}
	switch v := p[0].(type) {
	case string:
		switch s.kind {
		case segAnyKey:
		case segKey:
			if s.key != v {
				if !strings.ContainsAny(s.key, "*?[") {
					return false
				}
				if ok, _ := path.Match(s.key, v); !ok {
					return false
				}
			}
		default:
			return false
		}
	case int:
		switch s.kind {
		case segAnyItem:
		case segIndex:
			if s.index != v {
				return false
			}
		default:
			return false
		}
	}
	return matchSegs(segs[1:], p[1:])
}
