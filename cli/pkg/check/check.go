// Package check holds every rendered object of the kit against the platform's rules, offline:
// (1) its schema (built-in kinds strictly against the Kubernetes API types, custom resources
// against their CRD's structural schema), (2) the API versions the environment's Kubernetes
// release deprecates or removes, and (3) the Rego policies of policies/, evaluated with the
// environment as data. Exceptions (policies/exceptions/) waive findings per object, with a reason
// and an expiry date. In PR mode two reports (base and head) are compared into new, fixed and
// unchanged findings.
package check

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	k8sschema "k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/lakeport/lakeport/cli/pkg/check/changecontrol"
	"github.com/lakeport/lakeport/cli/pkg/check/connectivity"
	"github.com/lakeport/lakeport/cli/pkg/check/deprecation"
	"github.com/lakeport/lakeport/cli/pkg/check/envcheck"
	"github.com/lakeport/lakeport/cli/pkg/check/policy"
	"github.com/lakeport/lakeport/cli/pkg/check/references"
	"github.com/lakeport/lakeport/cli/pkg/check/schema"
	"github.com/lakeport/lakeport/cli/pkg/check/trinoaccess"
	"github.com/lakeport/lakeport/cli/pkg/kit"
	"github.com/lakeport/lakeport/cli/pkg/render"
	"github.com/lakeport/lakeport/cli/pkg/source"
)

// Kinds of check.
const (
	CheckSchema      = "schema"
	CheckDeprecation = "deprecation"
	CheckPolicy      = "policy"
	CheckException   = "exception"
	// CheckIntent is a whole-environment check (package envcheck): what the kit declares must
	// hold at runtime, proved on every render.
	CheckIntent = "intent"
	// CheckValues reads the values files the way Helm does.
	CheckValues = "values"
)

// Rules of the exceptions themselves.
const (
	RuleExceptionExpired = "exception_expired"
	RuleExceptionUnused  = "exception_unused"
	// RuleValuesIgnored: a values file holds content Helm never reads.
	RuleValuesIgnored = "values_ignored"
)

// Severity of a finding.
type Severity = policy.Severity

// Severities.
const (
	Failure = policy.Failure
	Warning = policy.Warning
)

// Status of a finding in PR mode.
type Status string

// Statuses.
const (
	StatusNew       Status = "new"
	StatusFixed     Status = "fixed"
	StatusUnchanged Status = "unchanged"
)

// ObjectRef names a rendered object.
type ObjectRef struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
}

func (o *ObjectRef) String() string { return o.Kind + "/" + o.Name }

// Finding is one problem.
type Finding struct {
	Environment string     `json:"environment,omitempty"`
	App         string     `json:"app,omitempty"`
	Component   string     `json:"component,omitempty"`
	Object      *ObjectRef `json:"object,omitempty"`
	// File is a repository path: the chart template that rendered the object, or the exception
	// file; Line is set when known.
	File     string   `json:"file,omitempty"`
	Line     int      `json:"line,omitempty"`
	Check    string   `json:"check"`
	Rule     string   `json:"rule"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
	// Exception is the exception that waives the finding: it neither fails nor warns.
	Exception *Exception `json:"exception,omitempty"`
	// Status is set in PR mode.
	Status Status `json:"status,omitempty"`

	order int
}

// Excepted says whether an exception waives the finding.
func (f *Finding) Excepted() bool { return f.Exception != nil }

// Key identifies a finding across two revisions.
func (f *Finding) Key() string {
	obj := ""
	if f.Object != nil {
		obj = f.Object.Kind + "/" + f.Object.Namespace + "/" + f.Object.Name
	}
	return strings.Join([]string{f.Environment, f.App, obj, f.Rule, f.Message}, "\x00")
}

// RuleInfo describes a rule for reports (SARIF rules, --list).
type RuleInfo struct {
	ID          string   `json:"id"`
	Check       string   `json:"check"`
	Severity    Severity `json:"severity"`
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	File        string   `json:"file,omitempty"`
	Line        int      `json:"line,omitempty"`
}

// BuiltinRules are the rules that are not Rego policies.
var BuiltinRules = []RuleInfo{
	{ID: schema.RuleSchema, Check: CheckSchema, Severity: Failure, Title: "Valid against the schema of its kind", Description: "Built-in kinds decode strictly into the Kubernetes API types (no unknown or duplicated fields, right types, valid names and labels); custom resources validate against their CRD's structural schema, CEL rules included."},
	{ID: schema.RuleUnknownKind, Check: CheckSchema, Severity: Failure, Title: "A known kind", Description: "The apiVersion and kind are a Kubernetes API type or are served by a known CustomResourceDefinition."},
	{ID: deprecation.RuleRemoved, Check: CheckDeprecation, Severity: Failure, Title: "No API version removed in the environment's Kubernetes", Description: "The API version was removed in the Kubernetes release the environment runs (env.yaml kubeVersion)."},
	{ID: deprecation.RuleDeprecated, Check: CheckDeprecation, Severity: Warning, Title: "No deprecated API version", Description: "The API version is deprecated in the Kubernetes release the environment runs, or its CRD marks it deprecated."},
	{ID: RuleValuesIgnored, Check: CheckValues, Severity: Failure, Title: "Every line of a values file is read", Description: "Helm reads only the first YAML node of a values file: keys after a `{}`, or a second document after `---`, are silently dropped, so Argo CD deploys without them."},
	{ID: RuleExceptionExpired, Check: CheckException, Severity: Failure, Title: "No expired exception", Description: "An exception past its expiry date: fix what it waived, or renew it with a reason and a new date."},
	{ID: RuleExceptionUnused, Check: CheckException, Severity: Warning, Title: "No unused exception", Description: "An exception whose object was checked but that waives nothing: remove it."},
}

// AppResult is one checked application.
type AppResult struct {
	Environment string       `json:"environment"`
	App         string       `json:"app"`
	Component   string       `json:"component"`
	Chart       string       `json:"chart"`
	Objects     []*ObjectRef `json:"objects"`
	// Files maps each object (by index) to its template, for reports.
	Files []string `json:"-"`
}

// Summary counts what a report holds. Failures and Warnings count findings that are not excepted
// (and, in PR mode, not fixed).
type Summary struct {
	Applications int `json:"applications"`
	Objects      int `json:"objects"`
	Failures     int `json:"failures"`
	Warnings     int `json:"warnings"`
	Excepted     int `json:"excepted"`
	New          int `json:"new,omitempty"`
	Fixed        int `json:"fixed,omitempty"`
	Unchanged    int `json:"unchanged,omitempty"`
}

// Report is the result of a check.
type Report struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// Base is the base revision in PR mode.
	Base         string       `json:"base,omitempty"`
	Summary      Summary      `json:"summary"`
	Rules        []RuleInfo   `json:"rules"`
	Applications []*AppResult `json:"applications"`
	Findings     []*Finding   `json:"findings"`
}

// Counts says whether a finding counts towards failing the check: not excepted, not fixed, and
// (in PR mode, unless all is set) new.
func (r *Report) Counts(f *Finding, all bool) bool {
	if f.Excepted() || f.Status == StatusFixed {
		return false
	}
	return r.Base == "" || all || f.Status == StatusNew
}

// Failed says whether the check fails: a counted failure, or a counted warning with failOnWarn.
func (r *Report) Failed(failOnWarn, all bool) bool {
	for _, f := range r.Findings {
		if r.Counts(f, all) && (f.Severity == Failure || failOnWarn && f.Severity == Warning) {
			return true
		}
	}
	return false
}

func (r *Report) summarize() {
	s := Summary{Applications: len(r.Applications)}
	for _, a := range r.Applications {
		s.Objects += len(a.Objects)
	}
	for _, f := range r.Findings {
		switch {
		case f.Excepted():
			s.Excepted++
		case f.Status == StatusFixed:
		case f.Severity == Failure:
			s.Failures++
		default:
			s.Warnings++
		}
		switch f.Status {
		case StatusNew:
			s.New++
		case StatusFixed:
			s.Fixed++
		case StatusUnchanged:
			s.Unchanged++
		}
	}
	r.Summary = s
}

// Options configure a Checker.
type Options struct {
	// Now is the time exceptions expire against (default time.Now).
	Now time.Time
	// CRDs are CustomResourceDefinition files (YAML, any layout) that serve custom kinds, such as
	// the CRDs embedded in lakeport; the CRDs a chart renders are added per environment.
	CRDs fs.FS
	// CacheDir, when set, keeps decoded CRD files between runs (see schema.Validator.CacheDir).
	CacheDir string
	// ReadFile, when set, reads a chart file at a revision (a Release's Chart.Resolved): findings
	// then point at the line of the template that renders the object's kind.
	ReadFile func(revision, path string) ([]byte, error)
	// PolicyDir and ExceptionsDir default to policies/ and policies/exceptions/.
	PolicyDir     string
	ExceptionsDir string
	// EnvChecks are the whole-environment checks; nil means DefaultEnvChecks.
	EnvChecks []envcheck.Loader
	// Shared, when set, shares the per-object results with the other Checkers given it (the
	// base and head of a pull request); they must be built with the same CRDs and CacheDir.
	Shared *Shared
}

// Shared remembers what checking one object found (schema, API version and policy results),
// keyed by content: the object's text, and everything its evaluation reads beyond it (the
// policies' digest, the environment's policy data: its settings and every object it renders,
// the CRDs rendered beside it, its Kubernetes version). An object another Application, another
// environment with the same data, or the other side of a pull request already checked is not
// evaluated again; its findings are re-stamped with the new Application, object and file. It is
// safe for concurrent use.
type Shared struct {
	m         sync.Map // key -> *sharedObject
	evaluated atomic.Int64
}

// Evaluated counts the objects evaluated (not served from the memory).
func (s *Shared) Evaluated() int64 { return s.evaluated.Load() }

// NewShared returns an empty memory.
func NewShared() *Shared { return &Shared{} }

type sharedObject struct {
	once sync.Once
	res  []objectResult
	err  error
}

// objectResult is one finding of an object, before it is stamped with where it was found.
type objectResult struct {
	check, rule string
	severity    Severity
	message     string
}

func (s *Shared) get(key [sha256.Size]byte) *sharedObject {
	v, _ := s.m.LoadOrStore(key, &sharedObject{})
	return v.(*sharedObject)
}

// envKey digests what an object's evaluation reads beyond the object in one environment.
func (c *Checker) envKey(env *kit.Environment, rels []*render.Release) ([sha256.Size]byte, error) {
	h := sha256.New()
	data, err := json.Marshal(EnvironmentData(env))
	if err != nil {
		return [sha256.Size]byte{}, fmt.Errorf("%s: policy data: %w", env.File, err)
	}
	fmt.Fprintf(h, "policies %s\x00kube %s\x00env %d\x00", c.Engine.Digest, env.KubeVersion, len(data))
	h.Write(data)
	for _, r := range rels {
		for _, o := range r.Objects {
			fmt.Fprintf(h, "\x00object %d\x00", len(o.YAML))
			h.Write([]byte(o.YAML))
		}
	}
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k, nil
}

// objectKey is the memory's key of one object of an environment.
func objectKey(env [sha256.Size]byte, o *render.Object) [sha256.Size]byte {
	h := sha256.New()
	h.Write(env[:])
	fmt.Fprintf(h, "%s\x00%s\x00%d\x00", o.APIVersion, o.Kind, len(o.YAML))
	h.Write([]byte(o.YAML))
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

// DefaultEnvChecks are the whole-environment checks `lakeport check` runs.
func DefaultEnvChecks() []envcheck.Loader {
	return []envcheck.Loader{
		trinoaccess.Load,
		connectivity.Load,
		references.Load,
		changecontrol.Load,
	}
}

// Checker checks releases against the policies and exceptions of one revision of the kit.
type Checker struct {
	Engine     *policy.Engine
	Exceptions []*Exception
	schema     *schema.Validator
	envChecks  []envcheck.Check
	now        time.Time
	readFile   func(revision, path string) ([]byte, error)
	shared     *Shared
}

// New loads the policies and exceptions of a snapshot of the kit. Bad policies (syntax, compile
// errors) and bad exception files (no reason, no expiry, unknown rule) are errors naming file
// and line.
func New(snap source.Snapshot, opts Options) (*Checker, error) {
	if opts.PolicyDir == "" {
		opts.PolicyDir = policy.Dir
	}
	if opts.ExceptionsDir == "" {
		opts.ExceptionsDir = ExceptionsDir
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	eng, err := policy.Load(snap, opts.PolicyDir)
	if err != nil {
		return nil, err
	}
	c := &Checker{Engine: eng, schema: schema.New(), now: opts.Now, readFile: opts.ReadFile, shared: opts.Shared}
	if c.shared == nil {
		c.shared = NewShared()
	}
	c.schema.CacheDir = opts.CacheDir
	loaders := opts.EnvChecks
	if loaders == nil {
		loaders = DefaultEnvChecks()
	}
	for _, load := range loaders {
		ec, err := load(snap)
		if err != nil {
			return nil, err
		}
		c.envChecks = append(c.envChecks, ec)
	}
	known := map[string]bool{}
	var ids []string
	for _, r := range c.Rules() {
		if !known[r.ID] {
			known[r.ID] = true
			ids = append(ids, r.ID)
		}
	}
	sort.Strings(ids)
	if c.Exceptions, err = LoadExceptions(snap, opts.ExceptionsDir, func(id string) bool { return known[id] }, ids); err != nil {
		return nil, err
	}
	if opts.CRDs != nil {
		if err := c.schema.AddFS(opts.CRDs); err != nil {
			return nil, fmt.Errorf("load CRDs: %w", err)
		}
	}
	return c, nil
}

// Rules lists every rule: the built-in checks, then the policies.
func (c *Checker) Rules() []RuleInfo {
	out := slices.Clone(BuiltinRules)
	for _, r := range c.Engine.Rules {
		title := r.Title
		if title == "" {
			title = r.Name
		}
		out = append(out, RuleInfo{ID: r.ID, Check: CheckPolicy, Severity: r.Severity, Title: title, Description: r.Description, File: r.File, Line: r.Line})
	}
	for _, ec := range c.envChecks {
		for _, r := range ec.Rules() {
			out = append(out, RuleInfo{ID: r.ID, Check: CheckIntent, Severity: r.Severity, Title: r.Title, Description: r.Description, File: r.File, Line: r.Line})
		}
	}
	return out
}

// Target is one environment to check.
type Target struct {
	Environment *kit.Environment
	// Releases are the applications to report on.
	Releases []*render.Release
	// Context is every release of the environment, which cross-object rules (NetworkPolicies,
	// PodDisruptionBudgets, HPAs) see as data.lakeport.objects; nil means Releases.
	Context []*render.Release
}

// Targets groups rendered releases into one Target per environment, in the order of envs.
// report chooses the releases to report on (nil: all of them); the others of their environment
// are still seen by cross-object rules.
func Targets(envs []*kit.Environment, rels []*render.Release, report func(*render.Release) bool) []Target {
	targets := make([]Target, 0, len(envs))
	for _, env := range envs {
		t := Target{Environment: env}
		for _, r := range rels {
			if r.Environment != env.Name {
				continue
			}
			if report != nil {
				t.Context = append(t.Context, r)
				if !report(r) {
					continue
				}
			}
			t.Releases = append(t.Releases, r)
		}
		targets = append(targets, t)
	}
	return targets
}

// EnvironmentData is the environment as policies see it (data.lakeport.environment).
func EnvironmentData(e *kit.Environment) map[string]any {
	apis := make([]any, len(e.APIVersions))
	for i, a := range e.APIVersions {
		apis[i] = a
	}
	comps := make([]any, len(e.Components))
	for i, c := range e.Components {
		comps[i] = c.Component
	}
	return map[string]any{
		"name":        e.Name,
		"project":     e.Project,
		"server":      e.Destination.Server,
		"cluster":     e.Destination.Name,
		"namespace":   e.Destination.Namespace,
		"kubeVersion": e.KubeVersion,
		"apiVersions": apis,
		"components":  comps,
	}
}

// PolicyData is the data document the policies are evaluated with for one environment:
// {"lakeport": {"environment": ..., "objects": [every rendered object]}}. Written to a JSON file
// it is what `conftest test --data` needs to give the same findings.
func PolicyData(e *kit.Environment, rels []*render.Release) map[string]any {
	return policyData(e, rels, func(o *render.Object) any { return o.Content })
}

// policyData is PolicyData with each object as value gives it.
func policyData(e *kit.Environment, rels []*render.Release, value func(*render.Object) any) map[string]any {
	var objs []any
	for _, r := range rels {
		for _, o := range r.Objects {
			objs = append(objs, value(o))
		}
	}
	if objs == nil {
		objs = []any{}
	}
	return map[string]any{"lakeport": map[string]any{"environment": EnvironmentData(e), "objects": objs}}
}

// TemplateFile is the repository path of the template an object came from: the chart folder
// joined with helm's "# Source:" path minus the chart name.
func TemplateFile(r *render.Release, o *render.Object) string {
	_, rest, ok := strings.Cut(o.Source, "/")
	if !ok || o.Source == "" {
		return r.Chart.Path
	}
	return path.Join(r.Chart.Path, rest)
}

// job is one object to check, with what its environment's preparation gives it.
type job struct {
	env  *kit.Environment
	prep *envPrep
	rel  *render.Release
	obj  *render.Object
}

// envPrep is what checking a target needs beyond its objects, computed per environment.
type envPrep struct {
	kube     deprecation.Version
	eval     *policy.Evaluator
	key      [sha256.Size]byte
	val      *schema.Validator
	findings []*Finding // of the whole-environment checks
	// inputs are the objects of the environment as policy inputs.
	inputs map[*render.Object]ast.Value
}

// prepare computes a target's envPrep: the policies bound to its data, its memory key, the
// schemas of the CRDs it renders, and the whole-environment checks.
func (c *Checker) prepare(ctx context.Context, t Target) (*envPrep, error) {
	env := t.Environment
	kube, err := deprecation.ParseVersion(env.KubeVersion)
	if err != nil {
		return nil, &kit.FieldError{File: env.File, Line: env.Line("kubeVersion"), Key: "kubeVersion", Msg: err.Error()}
	}
	ctxRels := t.Context
	if ctxRels == nil {
		ctxRels = t.Releases
	}
	// Each object is converted to an AST value once, for the environment's data and as the
	// input of its own evaluation (the same value: the store keeps an ast.Value as it is).
	// Converting it twice was 0.9 s of CPU (and its garbage) on the 617-Application fleet.
	// An object that does not convert is left to fail as before (in the store, and in its
	// evaluation).
	inputs := map[*render.Object]ast.Value{}
	data := policyData(env, ctxRels, func(o *render.Object) any {
		v, err := ast.InterfaceToValue(o.Content)
		if err != nil {
			return o.Content
		}
		inputs[o] = v
		return v
	})
	ev, err := c.Engine.Prepare(ctx, data)
	if err != nil {
		return nil, err
	}
	ek, err := c.envKey(env, ctxRels)
	if err != nil {
		return nil, err
	}
	var crds []map[string]any
	for _, r := range ctxRels {
		for _, o := range r.Objects {
			if o.Kind == "CustomResourceDefinition" && o.APIVersion == "apiextensions.k8s.io/v1" {
				crds = append(crds, o.Content)
			}
		}
	}
	val := c.schema
	if len(crds) > 0 {
		// A rendered CRD that cannot serve as a schema is reported by its own validation
		// (it is a built-in kind); the others still serve theirs.
		val, _ = c.schema.With(fmt.Sprintf("rendered in %s", env.Name), crds)
	}
	fs, err := c.checkEnvironment(ctx, t, ctxRels)
	if err != nil {
		return nil, err
	}
	return &envPrep{kube: kube, eval: ev, key: ek, val: val, findings: fs, inputs: inputs}, nil
}

// forEach runs do(i) for i in [0, n) on GOMAXPROCS goroutines and returns the error of the
// smallest i that failed (the one a sequential loop would return). The goroutines live for the
// whole loop instead of one per item: policy evaluation recurses deeply, and a fresh goroutine
// grows its stack by copying it several times (runtime.copystack was 1.25 s of CPU of a 30 s
// check of the 617-Application fleet with a goroutine per object).
func forEach(ctx context.Context, n int, do func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if errs[i] = do(ctx, i); errs[i] != nil {
					cancel()
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return ctx.Err()
}

// Check checks every target and returns the report (findings sorted by environment order,
// application, object order and rule). Errors are evaluation failures, not findings.
func (c *Checker) Check(ctx context.Context, targets []Target) (*Report, error) {
	rep := &Report{APIVersion: "lakeport.dev/v1alpha1", Kind: "CheckReport", Rules: c.Rules()}
	// Each environment is prepared, then its objects checked, then its prepared policies and
	// policy inputs dropped, environments running concurrently. Preparing every environment
	// first kept the whole fleet's policy data alive at once (the 617-Application fleet's
	// objects as OPA values, twice the rendered maps): the collector then marked it on every
	// cycle. Binding the policies to an environment's data and its whole-environment checks
	// took 2.9 s of CPU on one core for that fleet before they ran concurrently.
	type envResult struct {
		findings []*Finding   // of the whole-environment checks
		jobs     []job        // its objects
		results  [][]*Finding // per job
	}
	envs := make([]envResult, len(targets))
	err := forEach(ctx, len(targets), func(ctx context.Context, i int) error {
		t := targets[i]
		p, err := c.prepare(ctx, t)
		if err != nil {
			return err
		}
		var jobs []job
		for _, r := range t.Releases {
			for _, o := range r.Objects {
				jobs = append(jobs, job{env: t.Environment, prep: p, rel: r, obj: o})
			}
		}
		results := make([][]*Finding, len(jobs))
		err = forEach(ctx, len(jobs), func(ctx context.Context, j int) error {
			var err error
			results[j], err = c.checkObject(ctx, &jobs[j])
			return err
		})
		if err != nil {
			return err
		}
		p.eval, p.inputs = nil, nil // the environment's policy data can go
		envs[i] = envResult{findings: p.findings, jobs: jobs, results: results}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var envFindings []*Finding
	checkedEnvs := map[string]bool{}
	order := 0
	lines := c.kindLines()
	for i, t := range targets {
		env := t.Environment
		checkedEnvs[env.Name] = true
		for _, r := range t.Releases {
			app := &AppResult{Environment: env.Name, App: r.App, Component: r.Component, Chart: r.Chart.Path}
			for _, o := range r.Objects {
				app.Objects = append(app.Objects, &ObjectRef{APIVersion: o.APIVersion, Kind: o.Kind, Namespace: namespaceOf(o, r), Name: o.Name})
				app.Files = append(app.Files, TemplateFile(r, o))
			}
			rep.Applications = append(rep.Applications, app)
			for _, iv := range r.IgnoredValues {
				envFindings = append(envFindings, &Finding{Environment: env.Name, App: r.App, Component: r.Component, Check: CheckValues, Rule: RuleValuesIgnored, Severity: Failure,
					File: iv.File, Line: iv.Line,
					Message: fmt.Sprintf("Helm reads only the first YAML node of %s: line %d and after are ignored, so Argo CD deploys without them; move those keys into the first node (replace a `{}` with them)", iv.File, iv.Line)})
			}
		}
		envFindings = append(envFindings, envs[i].findings...)
		for j, fs := range envs[i].results {
			for _, f := range fs {
				f.order = order
				order++
				f.Line = lines(envs[i].jobs[j].rel, f.File, envs[i].jobs[j].obj.Kind)
				rep.Findings = append(rep.Findings, f)
			}
		}
	}
	for _, f := range envFindings {
		f.order = order
		order++
		rep.Findings = append(rep.Findings, f)
	}
	c.applyExceptions(rep, checkedEnvs)
	rep.summarize()
	return rep, nil
}

// checkEnvironment runs the whole-environment checks on every release of a target (rels) and
// keeps the findings about the releases it reports on, and those about files of the kit.
func (c *Checker) checkEnvironment(ctx context.Context, t Target, rels []*render.Release) ([]*Finding, error) {
	if len(c.envChecks) == 0 {
		return nil, nil
	}
	reported := map[*render.Release]bool{}
	for _, r := range t.Releases {
		reported[r] = true
	}
	in := envcheck.Input{Environment: t.Environment, Releases: rels}
	var out []*Finding
	for _, ec := range c.envChecks {
		fs, err := ec.Check(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t.Environment.Name, err)
		}
		for _, ef := range fs {
			if ef.Release != nil && !reported[ef.Release] {
				continue
			}
			f := &Finding{Environment: t.Environment.Name, Check: CheckIntent, Rule: ef.Rule, Severity: ef.Severity, Message: ef.Message, File: ef.File, Line: ef.Line}
			if r := ef.Release; r != nil {
				f.App, f.Component = r.App, r.Component
				if o := ef.Object; o != nil {
					f.Object = &ObjectRef{APIVersion: o.APIVersion, Kind: o.Kind, Namespace: namespaceOf(o, r), Name: o.Name}
					if f.File == "" {
						f.File = TemplateFile(r, o)
					}
				}
			}
			out = append(out, f)
		}
	}
	return out, nil
}

var kindLineRE = regexp.MustCompile(`(?m)^kind:[ \t]*["']?([A-Za-z0-9]+)["']?[ \t]*$`)

// kindLines returns a function giving the line of "kind: <Kind>" in a release's template (the
// first one: a template that ranges over several objects of a kind points at its top), or 0.
func (c *Checker) kindLines() func(r *render.Release, file, kind string) int {
	type key struct{ rev, file string }
	cache := map[key]map[string]int{}
	return func(r *render.Release, file, kind string) int {
		if c.readFile == nil || file == "" {
			return 0
		}
		k := key{r.Chart.Resolved, file}
		kinds, ok := cache[k]
		if !ok {
			kinds = map[string]int{}
			if raw, err := c.readFile(r.Chart.Resolved, file); err == nil {
				for _, m := range kindLineRE.FindAllSubmatchIndex(raw, -1) {
					name := string(raw[m[2]:m[3]])
					if _, seen := kinds[name]; !seen {
						kinds[name] = 1 + bytes.Count(raw[:m[0]], []byte("\n"))
					}
				}
			}
			cache[k] = kinds
		}
		return kinds[kind]
	}
}

func namespaceOf(o *render.Object, r *render.Release) string {
	if o.Namespace != "" {
		return o.Namespace
	}
	return r.Namespace
}

func (c *Checker) checkObject(ctx context.Context, j *job) ([]*Finding, error) {
	o := j.obj
	so := c.shared.get(objectKey(j.prep.key, o))
	so.once.Do(func() {
		c.shared.evaluated.Add(1)
		so.res, so.err = c.evalObject(ctx, j)
	})
	if so.err != nil {
		return nil, so.err
	}
	ref := &ObjectRef{APIVersion: o.APIVersion, Kind: o.Kind, Namespace: namespaceOf(o, j.rel), Name: o.Name}
	base := Finding{Environment: j.env.Name, App: j.rel.App, Component: j.rel.Component, Object: ref, File: TemplateFile(j.rel, o)}
	var out []*Finding
	for _, r := range so.res {
		f := base
		f.Check, f.Rule, f.Severity, f.Message = r.check, r.rule, r.severity, r.message
		out = append(out, &f)
	}
	return out, nil
}

// evalObject is what checking one object finds, before it is stamped with where it was found.
func (c *Checker) evalObject(ctx context.Context, j *job) ([]objectResult, error) {
	o := j.obj
	var out []objectResult
	add := func(check, rule string, sev Severity, msg string) {
		out = append(out, objectResult{check, rule, sev, msg})
	}
	gv, err := k8sschema.ParseGroupVersion(o.APIVersion)
	removed := false
	if err == nil {
		if d := deprecation.Check(schema.Scheme(), gv.WithKind(o.Kind), j.prep.kube); d != nil {
			sev := Warning
			if d.Rule == deprecation.RuleRemoved {
				sev, removed = Failure, true
			}
			add(CheckDeprecation, d.Rule, sev, d.Message)
		}
	}
	if !removed || schema.Scheme().Recognizes(gv.WithKind(o.Kind)) {
		doc, _ := o.JSON()
		v := j.prep.val.Validate(ctx, o.APIVersion, o.Kind, []byte(o.YAML), doc, o.Content)
		for _, p := range v.Problems {
			add(CheckSchema, p.Rule, Failure, p.Message)
		}
		if v.Deprecated != "" {
			add(CheckDeprecation, deprecation.RuleDeprecated, Warning, v.Deprecated)
		}
	}
	input := j.prep.inputs[o]
	if input == nil {
		if input, err = ast.InterfaceToValue(o.Content); err != nil {
			return nil, fmt.Errorf("%s %s/%s: %w", j.rel.App, o.Kind, o.Name, err)
		}
	}
	res, err := j.prep.eval.Eval(ctx, input)
	if err != nil {
		return nil, fmt.Errorf("evaluate policies on %s %s/%s (%s): %w", j.rel.App, o.Kind, o.Name, o.Source, err)
	}
	for _, r := range res {
		add(CheckPolicy, r.Rule.ID, r.Rule.Severity, r.Message)
	}
	return out, nil
}

// applyExceptions waives the findings that live exceptions match, and adds a finding per expired
// exception and a warning per exception that waives nothing although its object was checked.
func (c *Checker) applyExceptions(rep *Report, checkedEnvs map[string]bool) {
	used := map[*Exception]bool{}
	for _, f := range rep.Findings {
		for _, e := range c.Exceptions {
			if e.Expired(c.now) || !e.Matches(f) {
				continue
			}
			f.Exception = e
			used[e] = true
			break
		}
	}
	seen := map[string]bool{} // env/kind/name of every checked object
	for _, a := range rep.Applications {
		for _, o := range a.Objects {
			seen[a.Environment+"/"+o.Kind+"/"+o.Name] = true
			seen[a.Environment+"/"+a.App+"/"+o.Kind+"/"+o.Name] = true
		}
	}
	order := len(rep.Findings)
	for _, e := range c.Exceptions {
		relevant := false
		for env := range checkedEnvs {
			relevant = relevant || e.appliesTo(env)
		}
		if !relevant {
			continue
		}
		ref := &ObjectRef{Kind: e.Object.Kind, Name: e.Object.Name, Namespace: e.Object.Namespace}
		f := &Finding{Object: ref, File: e.File, Line: e.Line, Check: CheckException, order: order}
		order++
		switch {
		case e.Expired(c.now):
			f.Rule, f.Severity = RuleExceptionExpired, Failure
			f.Message = fmt.Sprintf("the exception for %s (%s) expired on %s: fix what it waived or renew it with a reason and a new date", e.Object, strings.Join(e.Rules, ", "), e.Expires)
		case !used[e] && c.checkedObject(e, seen, checkedEnvs):
			f.Rule, f.Severity = RuleExceptionUnused, Warning
			f.Message = fmt.Sprintf("the exception for %s (%s) waives nothing: remove it", e.Object, strings.Join(e.Rules, ", "))
		default:
			continue
		}
		rep.Findings = append(rep.Findings, f)
	}
}

// checkedObject says whether the exception's object was checked in every environment it names.
func (c *Checker) checkedObject(e *Exception, seen, checkedEnvs map[string]bool) bool {
	found := false
	for env := range checkedEnvs {
		if !e.appliesTo(env) {
			continue
		}
		if len(e.Apps) == 0 {
			found = found || seen[env+"/"+e.Object.Kind+"/"+e.Object.Name]
			continue
		}
		for _, a := range e.Apps {
			found = found || seen[env+"/"+a+"/"+e.Object.Kind+"/"+e.Object.Name]
		}
	}
	return found
}

// Compare marks head's findings new or unchanged against base's, and adds base's findings that
// head no longer has as fixed. The result is head with Base set.
func Compare(base, head *Report, baseRev string) *Report {
	baseKeys := map[string]int{}
	for _, f := range base.Findings {
		baseKeys[f.Key()]++
	}
	headKeys := map[string]int{}
	for _, f := range head.Findings {
		k := f.Key()
		headKeys[k]++
		if baseKeys[k] >= headKeys[k] {
			f.Status = StatusUnchanged
		} else {
			f.Status = StatusNew
		}
	}
	order := len(head.Findings)
	seen := map[string]int{}
	for _, f := range base.Findings {
		k := f.Key()
		seen[k]++
		if seen[k] > headKeys[k] {
			fixed := *f
			fixed.Status = StatusFixed
			fixed.order = order
			order++
			head.Findings = append(head.Findings, &fixed)
		}
	}
	head.Base = baseRev
	head.summarize()
	return head
}

var statusRank = map[Status]int{StatusNew: 0, StatusUnchanged: 1, StatusFixed: 2}

// Sort orders findings by environment (in the given order), application, then the order they
// were found in (object order, then rule).
func (r *Report) Sort(envOrder []string) {
	rank := map[string]int{}
	for i, e := range envOrder {
		rank[e] = i + 1
	}
	sort.SliceStable(r.Findings, func(i, j int) bool {
		a, b := r.Findings[i], r.Findings[j]
		if (a.Check == CheckException) != (b.Check == CheckException) {
			return b.Check == CheckException
		}
		if rank[a.Environment] != rank[b.Environment] {
			return rank[a.Environment] < rank[b.Environment]
		}
		if a.App != b.App {
			return a.App < b.App
		}
		if a.Status != b.Status {
			return statusRank[a.Status] < statusRank[b.Status]
		}
		return a.order < b.order
	})
}
