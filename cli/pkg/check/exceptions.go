package check

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/lakeport/lakeport/cli/pkg/kit"
	"github.com/lakeport/lakeport/cli/pkg/source"
)

// ExceptionsDir holds the exception files, relative to the repository root.
const ExceptionsDir = "policies/exceptions"

// ExceptionFile is the schema of a file in policies/exceptions/.
type ExceptionFile struct {
	APIVersion string       `yaml:"apiVersion"`
	Kind       string       `yaml:"kind"`
	Exceptions []*Exception `yaml:"exceptions"`
}

// Exception waives some rules for one object, for a reason, until a date.
type Exception struct {
	// Object is the one object the exception is for.
	Object ExceptionTarget `yaml:"object" json:"object"`
	// Environments and Apps (component or Application names) narrow it; empty means all.
	Environments []string `yaml:"environments,omitempty" json:"environments,omitempty"`
	Apps         []string `yaml:"apps,omitempty" json:"apps,omitempty"`
	// Rules are rule IDs: policy rules without their deny_/warn_ prefix, or a built-in check.
	Rules  []string `yaml:"rules" json:"rules"`
	Reason string   `yaml:"reason" json:"reason"`
	// Expires is the last day (UTC) the exception holds, YYYY-MM-DD.
	Expires string `yaml:"expires" json:"expires"`

	File  string    `yaml:"-" json:"file"`
	Line  int       `yaml:"-" json:"line"`
	until time.Time // the first instant the exception no longer holds
}

// ExceptionTarget names the object.
type ExceptionTarget struct {
	Kind      string `yaml:"kind" json:"kind"`
	Name      string `yaml:"name" json:"name"`
	Namespace string `yaml:"namespace,omitempty" json:"namespace,omitempty"`
}

func (t ExceptionTarget) String() string { return t.Kind + " " + t.Name }

// Expired says whether the exception no longer holds at now.
func (e *Exception) Expired(now time.Time) bool { return !now.Before(e.until) }

// Matches says whether the exception waives the finding (expiry aside).
func (e *Exception) Matches(f *Finding) bool {
	if f.Object == nil || !slices.Contains(e.Rules, f.Rule) {
		return false
	}
	if f.Object.Kind != e.Object.Kind || f.Object.Name != e.Object.Name {
		return false
	}
	if e.Object.Namespace != "" && f.Object.Namespace != e.Object.Namespace {
		return false
	}
	if len(e.Environments) > 0 && !slices.Contains(e.Environments, f.Environment) {
		return false
	}
	return len(e.Apps) == 0 || slices.Contains(e.Apps, f.App) || slices.Contains(e.Apps, f.Component)
}

// appliesTo says whether the exception concerns an environment.
func (e *Exception) appliesTo(env string) bool {
	return len(e.Environments) == 0 || slices.Contains(e.Environments, env)
}

// LoadExceptions reads every *.yaml file of dir. knownRule says whether a rule ID exists; rules
// lists them for the error message. Every problem is returned at once, with file and line.
func LoadExceptions(snap source.Snapshot, dir string, knownRule func(string) bool, rules []string) ([]*Exception, error) {
	files, err := snap.Files(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	var out []*Exception
	var errs []error
	for _, f := range files {
		if ext := path.Ext(f); ext != ".yaml" && ext != ".yml" {
			continue
		}
		raw, err := snap.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", f, err)
		}
		exc, err := parseExceptions(f, raw, knownRule, rules)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, exc...)
	}
	return out, errors.Join(errs...)
}

func parseExceptions(file string, raw []byte, knownRule func(string) bool, rules []string) ([]*Exception, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var doc ExceptionFile
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var errs []error
	fe := func(line int, key, format string, args ...any) {
		errs = append(errs, &kit.FieldError{File: file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	top := mapping(&root)
	if doc.APIVersion != "lakeport.dev/v1alpha1" || doc.Kind != "PolicyExceptions" {
		fe(keyLine(top, "apiVersion"), "apiVersion", "want apiVersion lakeport.dev/v1alpha1 and kind PolicyExceptions, got %q %q", doc.APIVersion, doc.Kind)
	}
	var items []*yaml.Node
	if n := valueOf(top, "exceptions"); n != nil && n.Kind == yaml.SequenceNode {
		items = n.Content
	}
	for i, e := range doc.Exceptions {
		key := fmt.Sprintf("exceptions[%d]", i)
		var item *yaml.Node
		if i < len(items) {
			item = items[i]
		}
		e.File, e.Line = file, lineOf(item)
		line := func(k string) int {
			if l := keyLine(item, k); l > 0 {
				return l
			}
			return e.Line
		}
		if e.Object.Kind == "" || e.Object.Name == "" {
			fe(line("object"), key+".object", "must name one object: {kind: Deployment, name: trino-coordinator}")
		}
		if len(e.Rules) == 0 {
			fe(line("rules"), key+".rules", "must list the rule IDs it waives, e.g. [trino_replicas]")
		}
		for j, r := range e.Rules {
			if !knownRule(r) {
				fe(line("rules"), fmt.Sprintf("%s.rules[%d]", key, j), "unknown rule %q (rules: %s)", r, strings.Join(rules, ", "))
			}
		}
		if strings.TrimSpace(e.Reason) == "" {
			fe(line("reason"), key+".reason", "is missing: say why %s may break %s", e.Object, strings.Join(e.Rules, ", "))
		}
		if e.Expires == "" {
			fe(line("expires"), key+".expires", "is missing: every exception expires, e.g. expires: %q", "2026-12-31")
		} else if d, err := time.Parse(time.DateOnly, e.Expires); err != nil {
			fe(line("expires"), key+".expires", "%q is not a date YYYY-MM-DD", e.Expires)
		} else {
			e.until = d.AddDate(0, 0, 1)
		}
	}
	if len(doc.Exceptions) == 0 {
		fe(keyLine(top, "exceptions"), "exceptions", "lists no exception")
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return doc.Exceptions, nil
}

func mapping(n *yaml.Node) *yaml.Node {
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		return n.Content[0]
	}
	return n
}

func valueOf(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func keyLine(m *yaml.Node, key string) int {
	if m == nil || m.Kind != yaml.MappingNode {
		return 0
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i].Line
		}
	}
	return 0
}

func lineOf(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	return n.Line
}
