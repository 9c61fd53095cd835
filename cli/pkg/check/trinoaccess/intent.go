package trinoaccess

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// IntentFile is where the kit declares who may do what in Trino, relative to the repository root.
const IntentFile = "policies/intent/trino-access.yaml"

// Actions an expectation can name.
const (
	ActionSelect                 = "select"
	ActionInsert                 = "insert"
	ActionDelete                 = "delete"
	ActionUpdate                 = "update"
	ActionOwnership              = "ownership"
	ActionShowSchemas            = "show-schemas"
	ActionShowTables             = "show-tables"
	ActionTableProcedure         = "execute-table-procedure"
	ActionKillQuery              = "kill-query"
	ActionReadSystemInformation  = "read-system-information"
	ActionWriteSystemInformation = "write-system-information"
	ActionImpersonate            = "impersonate"
)

// actionObjects says what each action's object is.
var actionObjects = map[string]string{
	ActionSelect:                 "table",
	ActionInsert:                 "table",
	ActionDelete:                 "table",
	ActionUpdate:                 "table",
	ActionOwnership:              "table",
	ActionTableProcedure:         "table",
	ActionShowSchemas:            "catalog",
	ActionShowTables:             "schema",
	ActionKillQuery:              "user",
	ActionImpersonate:            "user",
	ActionReadSystemInformation:  "none",
	ActionWriteSystemInformation: "none",
}

// Intent is the parsed intent file.
type Intent struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	// Principals are who the expectations speak of.
	Principals []*IntentPrincipal `yaml:"principals"`
	// Tables are what a "*" table in an object stands for: each is checked.
	Tables []string `yaml:"tables"`
	// Expectations are the table of principal x action x object.
	Expectations []*Expectation `yaml:"expectations"`

	file string
}

// IntentPrincipal is a named user with the groups it belongs to.
type IntentPrincipal struct {
	Name   string   `yaml:"name"`
	User   string   `yaml:"user"`
	Groups []string `yaml:"groups"`
	Line   int      `yaml:"-"`
}

// Expectation says that a principal must be allowed (or denied) some actions on an object.
type Expectation struct {
	Principal string   `yaml:"principal"`
	Actions   []string `yaml:"actions"`
	// Object is catalog.schema.table, catalog.schema, catalog or a user name, per action.
	Object string `yaml:"object"`
	// Expect is allow or deny.
	Expect string `yaml:"expect"`
	// On is the node whose rules decide: coordinator (default) or worker.
	On string `yaml:"on"`
	// Environments narrow the expectation; empty means every environment.
	Environments []string `yaml:"environments"`
	// Reason says why, for the finding.
	Reason string `yaml:"reason"`
	Line   int    `yaml:"-"`
}

// ParseIntent reads and validates an intent file; every problem is reported at once, as
// file:line: key: message.
func ParseIntent(file string, raw []byte) (*Intent, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var in Intent
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&in); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	in.file = file
	lines := itemLines(&root)
	for i, p := range in.Principals {
		p.Line = lines["principals"][i]
	}
	for i, e := range in.Expectations {
		e.Line = lines["expectations"][i]
		if e.On == "" {
			e.On = "coordinator"
		}
	}
	if err := in.validate(); err != nil {
		return nil, err
	}
	return &in, nil
}

// itemLines gives the line of every item of the top-level sequences.
func itemLines(root *yaml.Node) map[string][]int {
	out := map[string][]int{}
	if len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return out
	}
	m := root.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		for _, item := range m.Content[i+1].Content {
			out[m.Content[i].Value] = append(out[m.Content[i].Value], item.Line)
		}
	}
	return out
}

func (in *Intent) validate() error {
	var errs []error
	bad := func(line int, key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s:%d: %s: %s", in.file, line, key, fmt.Sprintf(format, a...)))
	}
	if in.APIVersion != "lakeport.dev/v1alpha1" || in.Kind != "TrinoAccessIntent" {
		bad(1, "apiVersion/kind", "want lakeport.dev/v1alpha1 TrinoAccessIntent, got %s %s", in.APIVersion, in.Kind)
	}
	names := map[string]bool{}
	for i, p := range in.Principals {
		key := fmt.Sprintf("principals[%d]", i)
		if p.Name == "" || p.User == "" {
			bad(p.Line, key, "name and user are required")
		}
		if names[p.Name] {
			bad(p.Line, key+".name", "principal %q is declared twice", p.Name)
		}
		names[p.Name] = true
	}
	for i, e := range in.Expectations {
		key := fmt.Sprintf("expectations[%d]", i)
		if !names[e.Principal] {
			bad(e.Line, key+".principal", "unknown principal %q (declare it under principals)", e.Principal)
		}
		if e.Expect != "allow" && e.Expect != "deny" {
			bad(e.Line, key+".expect", "%q: use allow or deny", e.Expect)
		}
		if e.On != "coordinator" && e.On != "worker" {
			bad(e.Line, key+".on", "%q: use coordinator or worker", e.On)
		}
		if len(e.Actions) == 0 {
			bad(e.Line, key+".actions", "name at least one action")
		}
		for _, a := range e.Actions {
			kind, ok := actionObjects[a]
			if !ok {
				bad(e.Line, key+".actions", "unknown action %q (one of %s)", a, strings.Join(knownActions(), ", "))
				continue
			}
			if err := checkObject(kind, e.Object); err != nil {
				bad(e.Line, key+".object", "%s: %v", a, err)
			}
		}
		if strings.Contains(e.Object, "*") && len(in.Tables) == 0 {
			bad(e.Line, key+".object", "%q uses * but the file lists no tables to check it with", e.Object)
		}
	}
	return errors.Join(errs...)
}

func knownActions() []string {
	var out []string
	for a := range actionObjects {
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}

func checkObject(kind, object string) error {
	parts := strings.Split(object, ".")
	switch kind {
	case "table":
		if len(parts) != 3 {
			return fmt.Errorf("object %q: want catalog.schema.table", object)
		}
	case "schema":
		if len(parts) != 2 {
			return fmt.Errorf("object %q: want catalog.schema", object)
		}
	case "catalog", "user":
		if object == "" || strings.Contains(object, ".") {
			return fmt.Errorf("object %q: want a %s name", object, kind)
		}
	case "none":
		if object != "" {
			return fmt.Errorf("object %q: this action takes no object", object)
		}
	}
	for _, p := range parts[:len(parts)-1] {
		if strings.Contains(p, "*") {
			return fmt.Errorf("object %q: only the table may be *", object)
		}
	}
	return nil
}

// principal returns the declared principal called name.
func (in *Intent) principal(name string) *IntentPrincipal {
	for _, p := range in.Principals {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// objects expands a * table into the declared tables.
func (in *Intent) objects(object string) []string {
	if !strings.HasSuffix(object, ".*") {
		return []string{object}
	}
	prefix := strings.TrimSuffix(object, "*")
	out := make([]string, 0, len(in.Tables))
	for _, t := range in.Tables {
		out = append(out, prefix+t)
	}
	return out
}

// appliesTo says whether an expectation concerns an environment.
func (e *Expectation) appliesTo(env string) bool {
	return len(e.Environments) == 0 || slices.Contains(e.Environments, env)
}
