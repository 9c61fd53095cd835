// Package policy loads the kit's Rego policies and evaluates them in-process with OPA, in
// conftest's conventions: the policies live in package main, every rule named deny, violation or
// warn (optionally with a _suffix) is a check, deny/violation results are failures and warn
// results warnings, a result is a message string or an object with a "msg" key, the object under
// test is the input document and everything else (here the environment) is data. Running
// `conftest test` on the same manifests with the same data gives the same findings.
package policy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/lakeport/lakeport/cli/pkg/kit"
	"github.com/lakeport/lakeport/cli/pkg/source"
)

// Dir is where the kit keeps its policies, relative to the repository root.
const Dir = "policies"

// Namespace is the Rego package whose deny/violation/warn rules are evaluated (conftest's default).
const Namespace = "main"

// Severity of a rule's results.
type Severity string

// Severities.
const (
	Failure Severity = "failure"
	Warning Severity = "warning"
)

var (
	warnRE    = regexp.MustCompile(`^warn(_[a-zA-Z0-9]+)*$`)
	failureRE = regexp.MustCompile(`^(deny|violation)(_[a-zA-Z0-9]+)*$`)
	prefixRE  = regexp.MustCompile(`^(deny|violation|warn)_`)
)

// Rule is one deny/violation/warn rule of package main.
type Rule struct {
	// Name is the Rego rule name, e.g. deny_psa_privileged.
	Name string `json:"name"`
	// ID is the name without its severity prefix (psa_privileged), as conftest's exceptions name
	// rules; exceptions files use it too.
	ID       string   `json:"id"`
	Severity Severity `json:"severity"`
	// Title and Description come from the rule's METADATA annotation, when it has one.
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	// File and Line locate the rule's first definition.
	File string `json:"file"`
	Line int    `json:"line"`
}

// RuleID is the ID of a rule name: the name without its deny_/violation_/warn_ prefix.
func RuleID(name string) string {
	if id := prefixRE.ReplaceAllString(name, ""); id != name {
		return id
	}
	return name
}

// Engine is a compiled set of policies.
type Engine struct {
	// Files are the policy files, repository paths, sorted.
	Files []string
	// Rules are the checks, sorted by ID.
	Rules []*Rule
	// Digest identifies the policies by content (file names and sources): two engines with the
	// same digest evaluate every input alike.
	Digest   string
	compiler *ast.Compiler
	query    ast.Body
	vars     []string // the query variable of each rule, in Rules order
}

// Load reads every .rego file under dir (tests excluded) from the snapshot and compiles them. A
// missing or empty folder gives an engine without rules. Parse and compile errors name the file
// and line of each problem, all at once.
func Load(snap source.Snapshot, dir string) (*Engine, error) {
	modules, files, err := readModules(snap, dir, false)
	if err != nil {
		return nil, err
	}
	e := &Engine{Files: files}
	h := sha256.New()
	for _, f := range files {
		raw, err := snap.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", f, err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00", f, len(raw))
		h.Write(raw)
	}
	e.Digest = hex.EncodeToString(h.Sum(nil))
	if len(modules) == 0 {
		return e, nil
	}
	c := ast.NewCompiler().WithEnablePrintStatements(false)
	c.Compile(modules)
	if c.Failed() {
		return nil, astErrors(c.Errors)
	}
	e.compiler = c
	byName := map[string]*Rule{}
	names := make([]string, 0, len(modules))
	for name := range modules {
		names = append(names, name)
	}
	sort.Strings(names)
	var errs []error
	for _, file := range names {
		m := c.Modules[file]
		if m.Package.Path.String() != "data."+Namespace {
			continue
		}
		for _, r := range m.Rules {
			name := r.Head.Name.String()
			if name == "" && len(r.Head.Reference) > 0 {
				name = r.Head.Reference[0].String()
			}
			if name == "exception" {
				// conftest's in-Rego exceptions have no reason and no expiry: the kit waives
				// findings only in exception files, so that every waiver says why and until when.
				errs = append(errs, &kit.FieldError{File: file, Line: r.Location.Row, Msg: fmt.Sprintf("rule %q: declare exceptions in %s/exceptions/*.yaml, with a reason and an expiry date, not as Rego exception rules", name, dir)})
				continue
			}
			var sev Severity
			switch {
			case failureRE.MatchString(name):
				sev = Failure
			case warnRE.MatchString(name):
				sev = Warning
			default:
				continue
			}
			rule := byName[name]
			if rule == nil {
				rule = &Rule{Name: name, ID: RuleID(name), Severity: sev, File: file, Line: r.Location.Row}
				byName[name] = rule
				e.Rules = append(e.Rules, rule)
			}
			for _, a := range c.GetAnnotationSet().GetRuleScope(r) {
				if rule.Title == "" {
					rule.Title = a.Title
				}
				if rule.Description == "" {
					rule.Description = strings.TrimSpace(a.Description)
				}
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	sort.Slice(e.Rules, func(i, j int) bool { return e.Rules[i].Name < e.Rules[j].Name })
	// One query evaluates every rule: r<i> := [x | some x in data.main.<rule>]. The comprehension
	// is defined even when a rule is not, so one undefined rule never hides the others.
	var q []string
	for i, r := range e.Rules {
		v := fmt.Sprintf("r%d", i)
		e.vars = append(e.vars, v)
		q = append(q, fmt.Sprintf("%s := [x | some x in data.%s.%s]", v, Namespace, r.Name))
	}
	if len(q) > 0 {
		if e.query, err = ast.ParseBody(strings.Join(q, "; ")); err != nil {
			return nil, fmt.Errorf("build policy query: %w", err)
		}
	}
	return e, nil
}

// Rule returns the rule with the given ID, or nil.
func (e *Engine) Rule(id string) *Rule {
	for _, r := range e.Rules {
		if r.ID == id {
			return r
		}
	}
	return nil
}

// readModules parses the .rego files under dir; tests selects the _test.rego files too.
func readModules(snap source.Snapshot, dir string, tests bool) (map[string]*ast.Module, []string, error) {
	all, err := snap.Files(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("read %s: %w", dir, err)
	}
	modules := map[string]*ast.Module{}
	var files []string
	var errs []error
	for _, f := range all {
		if path.Ext(f) != ".rego" || (!tests && strings.HasSuffix(f, "_test.rego")) {
			continue
		}
		raw, err := snap.ReadFile(f)
		if err != nil {
			return nil, nil, fmt.Errorf("read %s: %w", f, err)
		}
		m, err := ast.ParseModuleWithOpts(f, string(raw), ast.ParserOptions{ProcessAnnotation: true, RegoVersion: ast.RegoV1})
		if err != nil {
			errs = append(errs, astErrors(err))
			continue
		}
		modules[f] = m
		files = append(files, f)
	}
	sort.Strings(files)
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	return modules, files, nil
}

// astErrors turns OPA's errors into one *kit.FieldError per problem (file, line, message).
func astErrors(err error) error {
	var list ast.Errors
	if !errors.As(err, &list) {
		return err
	}
	out := make([]error, 0, len(list))
	for _, e := range list {
		fe := &kit.FieldError{Msg: fmt.Sprintf("%s: %s", e.Code, e.Message)}
		if e.Location != nil {
			fe.File, fe.Line = e.Location.File, e.Location.Row
		}
		out = append(out, fe)
	}
	return errors.Join(out...)
}

// Result is one message of one rule for one input.
type Result struct {
	Rule    *Rule
	Message string
	// Metadata holds the other keys of a structured result ({"msg": ..., ...}).
	Metadata map[string]any
}

// Evaluator evaluates the policies against inputs, with one data document.
type Evaluator struct {
	e  *Engine
	pq *rego.PreparedEvalQuery
}

// Prepare binds the engine to a data document (conftest's --data): the store is built once and
// read as AST values, so that evaluating many inputs does not convert it again.
func (e *Engine) Prepare(ctx context.Context, data map[string]any) (*Evaluator, error) {
	ev := &Evaluator{e: e}
	if len(e.Rules) == 0 {
		return ev, nil
	}
	store := inmem.NewFromObjectWithOpts(data, inmem.OptRoundTripOnWrite(false), inmem.OptReturnASTValuesOnRead(true))
	pq, err := rego.New(
		rego.ParsedQuery(e.query),
		rego.Compiler(e.compiler),
		rego.Store(store),
		rego.StrictBuiltinErrors(false),
	).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("prepare policies: %w", err)
	}
	ev.pq = &pq
	return ev, nil
}

// Eval evaluates every rule against one input (already converted with ast.InterfaceToValue).
// Results are in rule order, then in each rule's (sorted) order.
func (ev *Evaluator) Eval(ctx context.Context, input ast.Value) ([]Result, error) {
	if ev.pq == nil {
		return nil, nil
	}
	rs, err := ev.pq.Eval(ctx, rego.EvalParsedInput(input))
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		return nil, nil
	}
	var out []Result
	for i, r := range ev.e.Rules {
		vals, _ := rs[0].Bindings[ev.e.vars[i]].([]any)
		for _, v := range vals {
			switch v := v.(type) {
			case string:
				out = append(out, Result{Rule: r, Message: v})
			case map[string]any:
				msg, ok := v["msg"].(string)
				if !ok {
					return nil, fmt.Errorf("rule %s (%s:%d) returned an object without a string \"msg\" key", r.Name, r.File, r.Line)
				}
				meta := map[string]any{}
				for k, x := range v {
					if k != "msg" {
						meta[k] = x
					}
				}
				out = append(out, Result{Rule: r, Message: msg, Metadata: meta})
			}
		}
	}
	return out, nil
}
