// Package schema validates rendered objects offline, the way the API server would on create:
// built-in kinds are decoded strictly into the Kubernetes API types (unknown or duplicated fields
// and wrong types fail), and custom resources are pruned, validated and CEL-checked against the
// structural OpenAPI v3 schema of their CustomResourceDefinition, with the API server's own
// apiextensions code. Metadata (names, labels, annotations) is validated for both.
package schema

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	apiext "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextv1beta1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1beta1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	schemaobjectmeta "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	k8sschema "k8s.io/apimachinery/pkg/runtime/schema"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/lakeport/lakeport/cli/pkg/atomicfile"
)

// Rule IDs of schema problems.
const (
	// RuleSchema: the object does not validate against its schema.
	RuleSchema = "schema"
	// RuleUnknownKind: no schema is known for the object's apiVersion and kind.
	RuleUnknownKind = "schema_unknown_kind"
)

// Problem is one schema violation of one object.
type Problem struct {
	Rule    string
	Message string
}

// Validator validates objects. It is safe for concurrent use.
type Validator struct {
	scheme *runtime.Scheme
	// decoder decodes YAML strictly; jsonDecoder the same document converted to JSON already.
	decoder, jsonDecoder runtime.Decoder
	// crds maps group/kind to the CRD that defines it; later sources override earlier ones.
	crds map[k8sschema.GroupKind]*crd
	// sources are CRD files not read yet, indexed by the group/kinds they declare.
	lazy map[k8sschema.GroupKind]*lazyFile
	// CacheDir, when set, keeps each CRD file decoded as JSON (named by the file's SHA-256):
	// decoding a megabyte of YAML costs a hundred milliseconds, JSON a tenth of that.
	CacheDir string
}

var builtinScheme = sync.OnceValue(func() *runtime.Scheme {
	s := runtime.NewScheme()
	// Registration into a fresh scheme cannot fail.
	_ = clientgoscheme.AddToScheme(s)
	_ = apiextv1.AddToScheme(s)
	_ = apiextv1beta1.AddToScheme(s)
	return s
})

// New returns a validator for the built-in kinds only.
func New() *Validator {
	s := builtinScheme()
	return &Validator{
		scheme:      s,
		decoder:     kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, s, s, kjson.SerializerOptions{Yaml: true, Strict: true}),
		jsonDecoder: kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, s, s, kjson.SerializerOptions{Strict: true}),
		crds:        map[k8sschema.GroupKind]*crd{},
		lazy:        map[k8sschema.GroupKind]*lazyFile{},
	}
}

// Scheme is the scheme of the built-in kinds (client-go's, plus apiextensions).
func Scheme() *runtime.Scheme { return builtinScheme() }

// Builtin says whether the group is served by Kubernetes itself (not by a CRD).
func (v *Validator) Builtin(group string) bool {
	for gvk := range v.scheme.AllKnownTypes() {
		if gvk.Group == group {
			return true
		}
	}
	return false
}

// With returns a copy of v that also knows the given CRDs (objects already decoded, such as the
// CustomResourceDefinitions a chart renders). They take precedence over v's.
func (v *Validator) With(source string, objs []map[string]any) (*Validator, error) {
	out := *v
	out.crds = make(map[k8sschema.GroupKind]*crd, len(v.crds)+len(objs))
	for k, c := range v.crds {
		out.crds[k] = c
	}
	var errs []error
	for _, o := range objs {
		obj := &apiextv1.CustomResourceDefinition{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o, obj); err != nil {
			errs = append(errs, fmt.Errorf("%s: CustomResourceDefinition: %w", source, err))
			continue
		}
		c, err := newCRD(source, obj)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out.crds[c.gk] = c
	}
	return &out, errors.Join(errs...)
}

// AddFS indexes the CRD YAML files (*.yaml, *.yml, *.json, multi-document) of a file system, such
// as the CRDs embedded in the lakeport binary. Files are parsed only when an object of a kind
// they declare is validated, so that large CRD bundles cost nothing until used.
func (v *Validator) AddFS(fsys fs.FS) error {
	return fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		switch path.Ext(p) {
		case ".yaml", ".yml", ".json":
		default:
			return nil
		}
		raw, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		lf := &lazyFile{name: p, raw: raw, cacheDir: v.CacheDir}
		gks := indexCRDs(raw)
		if len(gks) == 0 {
			// The file does not look like the usual layout: read it now.
			lf.load()
			if lf.err != nil {
				return lf.err
			}
			for gk := range lf.crds {
				gks = append(gks, gk)
			}
		}
		for _, gk := range gks {
			v.lazy[gk] = lf
		}
		return nil
	})
}

// lazyFile is a CRD file read on first use.
type lazyFile struct {
	name     string
	raw      []byte
	cacheDir string
	once     sync.Once
	crds     map[k8sschema.GroupKind]*crd
	err      error
}

func (f *lazyFile) load() {
	f.once.Do(func() {
		f.crds = map[k8sschema.GroupKind]*crd{}
		objs, err := f.decode()
		if err != nil {
			f.err = err
			return
		}
		for _, obj := range objs {
			c, err := newCRD(f.name, obj)
			if err != nil {
				f.err = err
				return
			}
			f.crds[c.gk] = c
		}
	})
}

// decode reads the CRDs of the file, from the JSON cache when it has them.
func (f *lazyFile) decode() ([]*apiextv1.CustomResourceDefinition, error) {
	var cached string
	if f.cacheDir != "" {
		sum := sha256.Sum256(f.raw)
		cached = filepath.Join(f.cacheDir, hex.EncodeToString(sum[:])+".json")
		if b, err := os.ReadFile(cached); err == nil {
			var objs []*apiextv1.CustomResourceDefinition
			if json.Unmarshal(b, &objs) == nil {
				return objs, nil
			}
		}
	}
	var objs []*apiextv1.CustomResourceDefinition
	for i, doc := range splitYAML(f.raw) {
		if !bytes.Contains(doc, []byte("CustomResourceDefinition")) {
			continue
		}
		obj := &apiextv1.CustomResourceDefinition{}
		if err := sigsyaml.Unmarshal(doc, obj); err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", f.name, i+1, err)
		}
		if obj.Kind == "CustomResourceDefinition" {
			objs = append(objs, obj)
		}
	}
	if cached != "" {
		// A cache that cannot be written only costs time: the error is dropped.
		_ = writeAtomic(cached, objs)
	}
	return objs, nil
}

func writeAtomic(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteAll(filepath.Dir(path), map[string][]byte{filepath.Base(path): b}, nil)
}

var (
	crdGroupRE = regexp.MustCompile(`(?m)^  group: ["']?([^"'\s]+)`)
	crdKindRE  = regexp.MustCompile(`(?m)^    kind: ["']?([^"'\s]+)`)
)

// splitYAML splits a YAML stream at "---" lines. It scans bytes rather than running a regular
// expression: CRD files run to megabytes.
func splitYAML(raw []byte) [][]byte {
	var out [][]byte
	start := 0
	emit := func(end int) {
		if d := raw[start:end]; len(bytes.TrimSpace(d)) > 0 {
			out = append(out, d)
		}
	}
	for i := 0; i < len(raw); {
		nl := bytes.IndexByte(raw[i:], '\n')
		end := len(raw)
		if nl >= 0 {
			end = i + nl
		}
		if line := bytes.TrimRight(raw[i:end], " \t\r"); bytes.Equal(line, []byte("---")) {
			emit(i)
			start = end + 1
			if start > len(raw) {
				start = len(raw)
			}
		}
		i = end + 1
	}
	if start < len(raw) {
		emit(len(raw))
	}
	return out
}

// indexCRDs finds, without parsing, the group and kind each CRD document of a file declares
// (spec.group and spec.names.kind at their usual indentation). Nil when a document does not
// follow that layout.
func indexCRDs(raw []byte) []k8sschema.GroupKind {
	var out []k8sschema.GroupKind
	for _, doc := range splitYAML(raw) {
		if !bytes.Contains(doc, []byte("kind: CustomResourceDefinition")) {
			continue
		}
		head := doc
		if i := bytes.Index(head, []byte("\n  versions:")); i > 0 {
			head = head[:i]
		}
		g, k := crdGroupRE.FindSubmatch(head), crdKindRE.FindSubmatch(head)
		if g == nil || k == nil {
			return nil
		}
		out = append(out, k8sschema.GroupKind{Group: string(g[1]), Kind: string(k[1])})
	}
	return out
}

// crd is one CustomResourceDefinition, its versions compiled on first use.
type crd struct {
	source     string
	name       string
	gk         k8sschema.GroupKind
	namespaced bool
	obj        *apiextv1.CustomResourceDefinition
	versions   map[string]*crdVersion
}

type crdVersion struct {
	v    *apiextv1.CustomResourceDefinitionVersion
	once sync.Once
	err  error

	structural *structuralschema.Structural
	validator  apiservervalidation.SchemaValidator
	// hasRules says whether the schema has x-kubernetes-validations; their CEL programs are
	// compiled only once an object reaches one of them (compiling them all costs a quarter of a
	// second for the Argo Workflows CRDs).
	hasRules bool
	celOnce  sync.Once
	cel      *cel.Validator
}

func newCRD(source string, obj *apiextv1.CustomResourceDefinition) (*crd, error) {
	if obj.APIVersion != "apiextensions.k8s.io/v1" {
		return nil, fmt.Errorf("%s: CustomResourceDefinition %s is %s: lakeport reads apiextensions.k8s.io/v1 CRDs", source, obj.Name, obj.APIVersion)
	}
	c := &crd{
		source:     source,
		name:       obj.Name,
		gk:         k8sschema.GroupKind{Group: obj.Spec.Group, Kind: obj.Spec.Names.Kind},
		namespaced: obj.Spec.Scope == apiextv1.NamespaceScoped,
		obj:        obj,
		versions:   map[string]*crdVersion{},
	}
	for i := range obj.Spec.Versions {
		c.versions[obj.Spec.Versions[i].Name] = &crdVersion{v: &obj.Spec.Versions[i]}
	}
	return c, nil
}

func (cv *crdVersion) compile(c *crd) error {
	cv.once.Do(func() {
		val := cv.v.Schema
		if val == nil || val.OpenAPIV3Schema == nil {
			cv.err = fmt.Errorf("CRD %s (%s) has no schema for version %s", c.name, c.source, cv.v.Name)
			return
		}
		internal := &apiext.CustomResourceValidation{}
		if err := apiextv1.Convert_v1_CustomResourceValidation_To_apiextensions_CustomResourceValidation(val, internal, nil); err != nil {
			cv.err = fmt.Errorf("CRD %s (%s) version %s: %w", c.name, c.source, cv.v.Name, err)
			return
		}
		s, err := structuralschema.NewStructural(internal.OpenAPIV3Schema)
		if err != nil {
			cv.err = fmt.Errorf("CRD %s (%s) version %s: schema is not structural: %w", c.name, c.source, cv.v.Name, err)
			return
		}
		cv.structural = s
		if cv.validator, _, err = apiservervalidation.NewSchemaValidator(internal.OpenAPIV3Schema); err != nil {
			cv.err = fmt.Errorf("CRD %s (%s) version %s: %w", c.name, c.source, cv.v.Name, err)
			return
		}
		cv.hasRules = hasRules(s)
	})
	return cv.err
}

func (cv *crdVersion) celValidator() *cel.Validator {
	cv.celOnce.Do(func() { cv.cel = cel.NewValidator(cv.structural, true, celconfig.PerCallLimit) })
	return cv.cel
}

// validateCEL runs the CRD's CEL rules on obj. Compiling every rule of a large CRD (the Argo
// Workflows ones embed the whole pod spec many times) costs far more than validating, so the
// rules are first compiled against the schema trimmed to the fields obj has: rules on absent
// fields never run anyway. Only when that finds errors does the full validator run, and its
// errors are the ones reported, so trimming can never invent a finding.
func (cv *crdVersion) validateCEL(ctx context.Context, obj map[string]any) field.ErrorList {
	if v := cel.NewValidator(trim(cv.structural, []any{obj}), true, celconfig.PerCallLimit); v != nil {
		errs, _ := v.Validate(ctx, nil, nil, obj, nil, celconfig.RuntimeCELCostBudget)
		if len(errs) == 0 {
			return nil
		}
	}
	full := cv.celValidator()
	if full == nil {
		return nil
	}
	errs, _ := full.Validate(ctx, nil, nil, obj, nil, celconfig.RuntimeCELCostBudget)
	return errs
}

// trim copies s keeping only what vals (the values found at this node) use: an object or array
// property that no value has becomes an untyped stub without rules, so that rules naming it
// still compile (has(self.x)) but nothing below it is compiled.
func trim(s *structuralschema.Structural, vals []any) *structuralschema.Structural {
	if s == nil {
		return nil
	}
	out := *s
	if len(s.Properties) > 0 {
		out.Properties = make(map[string]structuralschema.Structural, len(s.Properties))
		for k := range s.Properties {
			p := s.Properties[k]
			var child []any
			for _, v := range vals {
				if m, ok := v.(map[string]any); ok {
					if x, ok := m[k]; ok && x != nil {
						child = append(child, x)
					}
				}
			}
			if len(child) == 0 {
				out.Properties[k] = stub(p)
			} else {
				out.Properties[k] = *trim(&p, child)
			}
		}
	}
	if s.AdditionalProperties != nil && s.AdditionalProperties.Structural != nil {
		var child []any
		for _, v := range vals {
			if m, ok := v.(map[string]any); ok {
				for k, x := range m {
					if _, known := s.Properties[k]; !known && x != nil {
						child = append(child, x)
					}
				}
			}
		}
		ap := *s.AdditionalProperties
		if len(child) == 0 {
			st := stub(*ap.Structural)
			ap.Structural = &st
		} else {
			ap.Structural = trim(ap.Structural, child)
		}
		out.AdditionalProperties = &ap
	}
	if s.Items != nil {
		var child []any
		for _, v := range vals {
			if a, ok := v.([]any); ok {
				child = append(child, a...)
			}
		}
		if len(child) == 0 {
			st := stub(*s.Items)
			out.Items = &st
		} else {
			out.Items = trim(s.Items, child)
		}
	}
	return &out
}

// stub stands for a schema no value reaches: scalars keep their type, objects and arrays become
// free-form (x-kubernetes-preserve-unknown-fields) without properties or rules.
func stub(p structuralschema.Structural) structuralschema.Structural {
	free := func(typ string) structuralschema.Structural {
		st := structuralschema.Structural{}
		st.Type = typ
		st.Nullable = p.Nullable
		st.XPreserveUnknownFields = true
		return st
	}
	switch p.Type {
	case "object":
		return free("object")
	case "array":
		st := free("array")
		st.XPreserveUnknownFields = false
		items := free("object")
		st.Items = &items
		return st
	}
	p.XValidations = nil
	p.Properties, p.Items, p.AdditionalProperties = nil, nil, nil
	return p
}

// hasRules says whether a schema or any schema below it has CEL validation rules.
func hasRules(s *structuralschema.Structural) bool {
	if s == nil {
		return false
	}
	if len(s.XValidations) > 0 {
		return true
	}
	for k := range s.Properties {
		p := s.Properties[k]
		if hasRules(&p) {
			return true
		}
	}
	if s.AdditionalProperties != nil && hasRules(s.AdditionalProperties.Structural) {
		return true
	}
	return hasRules(s.Items)
}

// reachesRules says whether the object has a value at a schema node that carries CEL rules.
func reachesRules(x any, s *structuralschema.Structural) bool {
	if s == nil || x == nil {
		return false
	}
	if len(s.XValidations) > 0 {
		return true
	}
	switch x := x.(type) {
	case map[string]any:
		for k, v := range x {
			if p, ok := s.Properties[k]; ok {
				if reachesRules(v, &p) {
					return true
				}
			} else if s.AdditionalProperties != nil && reachesRules(v, s.AdditionalProperties.Structural) {
				return true
			}
		}
	case []any:
		for _, v := range x {
			if reachesRules(v, s.Items) {
				return true
			}
		}
	}
	return false
}

// Validation is what the validator knows about an object's API version.
type Validation struct {
	Problems []Problem
	// CRD names the CustomResourceDefinition (and where it came from) that served the object.
	CRD string
	// Deprecated is the CRD version's deprecation warning, when the CRD marks it deprecated.
	Deprecated string
}

// Validate checks one object: raw is its YAML document as rendered, content the same decoded, and
// doc, when not nil, its JSON form as sigs.k8s.io/yaml.YAMLToJSONStrict(raw) gives it (see
// render.Object.JSON), which spares converting raw.
func (v *Validator) Validate(ctx context.Context, apiVersion, kind string, raw, doc []byte, content map[string]any) Validation {
	gv, err := k8sschema.ParseGroupVersion(apiVersion)
	if err != nil {
		return Validation{Problems: []Problem{{RuleSchema, fmt.Sprintf("apiVersion %q: %v", apiVersion, err)}}}
	}
	gvk := gv.WithKind(kind)
	if v.scheme.Recognizes(gvk) {
		return Validation{Problems: v.validateBuiltin(gvk, raw, doc)}
	}
	c := v.crd(gvk.GroupKind())
	if c == nil {
		msg := fmt.Sprintf("no schema for %s %s: it is neither a Kubernetes API type nor defined by a known CustomResourceDefinition", apiVersion, kind)
		if v.Builtin(gv.Group) {
			msg = fmt.Sprintf("%s %s is not a Kubernetes API type (a wrong apiVersion or kind?)", apiVersion, kind)
		}
		return Validation{Problems: []Problem{{RuleUnknownKind, msg}}}
	}
	out := Validation{CRD: fmt.Sprintf("%s (%s)", c.name, c.source)}
	cv := c.versions[gv.Version]
	if cv == nil || !cv.v.Served {
		served := c.servedVersions()
		out.Problems = []Problem{{RuleUnknownKind, fmt.Sprintf("CRD %s does not serve %s (served: %s)", c.name, apiVersion, strings.Join(served, ", "))}}
		return out
	}
	if cv.v.Deprecated {
		out.Deprecated = fmt.Sprintf("%s %s is deprecated", apiVersion, kind)
		if cv.v.DeprecationWarning != nil {
			out.Deprecated = *cv.v.DeprecationWarning
		}
	}
	if err := cv.compile(c); err != nil {
		out.Problems = []Problem{{RuleSchema, err.Error()}}
		return out
	}
	out.Problems = v.validateCustom(ctx, c, cv, content)
	return out
}

func (c *crd) servedVersions() []string {
	var out []string
	for _, v := range c.obj.Spec.Versions {
		if v.Served {
			out = append(out, c.gk.Group+"/"+v.Name)
		}
	}
	return out
}

func (v *Validator) crd(gk k8sschema.GroupKind) *crd {
	if c := v.crds[gk]; c != nil {
		return c
	}
	if lf := v.lazy[gk]; lf != nil {
		lf.load()
		return lf.crds[gk]
	}
	return nil
}

// validateBuiltin decodes strictly into the typed object and validates its metadata. doc is raw
// as JSON (nil: converted here).
//
// The strict YAML decoder (apimachinery's json.Serializer with Yaml and Strict) converts the
// document twice: YAMLToJSON for the decoding, then YAMLToJSONStrict only to report a key that
// appears twice. When YAMLToJSONStrict succeeds both give the same JSON, so the JSON decoder on
// that JSON decodes, and fails, exactly as the YAML decoder does on raw; a document it refuses
// goes through the YAML decoder for the same errors. Converting YAML was most of the schema
// check's time on a fleet (issue 14).
func (v *Validator) validateBuiltin(gvk k8sschema.GroupVersionKind, raw, doc []byte) []Problem {
	if doc == nil {
		if j, err := sigsyaml.YAMLToJSONStrict(raw); err == nil {
			doc = j
		}
	}
	if doc == nil {
		return v.decodeBuiltin(gvk, v.decoder, raw)
	}
	return v.decodeBuiltin(gvk, v.jsonDecoder, doc)
}

// decodeBuiltin is validateBuiltin with a decoder and what it decodes.
func (v *Validator) decodeBuiltin(gvk k8sschema.GroupVersionKind, dec runtime.Decoder, data []byte) []Problem {
	obj, _, err := dec.Decode(data, &gvk, nil)
	var out []Problem
	if err != nil {
		if runtime.IsStrictDecodingError(err) {
			var se interface{ Errors() []error }
			if errors.As(err, &se) {
				for _, e := range se.Errors() {
					out = append(out, Problem{RuleSchema, cleanDecodeError(e.Error())})
				}
				if obj == nil {
					return out
				}
			}
		} else {
			return []Problem{{RuleSchema, cleanDecodeError(err.Error())}}
		}
	}
	if acc, ok := obj.(interface {
		GetName() string
		GetLabels() map[string]string
		GetAnnotations() map[string]string
	}); ok {
		out = append(out, metadataProblems(gvk.Kind, acc.GetName(), acc.GetLabels(), acc.GetAnnotations())...)
	}
	return out
}

var goTypeRE = regexp.MustCompile(`Go struct field ([A-Za-z0-9]+)\.`)

// cleanDecodeError turns encoding/json's wording into the field path a chart author looks for.
func cleanDecodeError(msg string) string {
	msg = strings.TrimPrefix(msg, "strict decoding error: ")
	msg = strings.TrimPrefix(msg, "error unmarshaling JSON: while decoding JSON: ")
	msg = goTypeRE.ReplaceAllString(msg, "field ")
	return msg
}

func metadataProblems(kind, name string, labels, annotations map[string]string) []Problem {
	var errs field.ErrorList
	meta := field.NewPath("metadata")
	if name != "" {
		check := apivalidation.NameIsDNSSubdomain
		if kind == "Service" || kind == "Namespace" {
			check = apivalidation.NameIsDNSLabel
		}
		for _, msg := range check(name, false) {
			errs = append(errs, field.Invalid(meta.Child("name"), name, msg))
		}
	}
	errs = append(errs, metav1validation.ValidateLabels(labels, meta.Child("labels"))...)
	errs = append(errs, apivalidation.ValidateAnnotations(annotations, meta.Child("annotations"))...)
	out := make([]Problem, 0, len(errs))
	for _, e := range errs {
		out = append(out, Problem{RuleSchema, e.Error()})
	}
	return out
}

// validateCustom runs what the API server runs on create of a custom resource: pruning of unknown
// fields (reported, not dropped), metadata, the OpenAPI schema, list-type invariants and the
// x-kubernetes-validations CEL rules.
func (v *Validator) validateCustom(ctx context.Context, c *crd, cv *crdVersion, content map[string]any) []Problem {
	obj := jsonCopy(content).(map[string]any)
	var out []Problem
	_, _, metaUnknown, err := schemaobjectmeta.GetObjectMetaWithOptions(obj, schemaobjectmeta.ObjectMetaOptions{ReturnUnknownFieldPaths: true})
	if err != nil {
		out = append(out, Problem{RuleSchema, "metadata: " + err.Error()})
	}
	unknown := append(metaUnknown, pruning.PruneWithOptions(jsonCopy(content), cv.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})...)
	sort.Strings(unknown)
	for _, p := range unknown {
		out = append(out, Problem{RuleSchema, fmt.Sprintf("unknown field %q", p)})
	}
	var errs field.ErrorList
	errs = append(errs, apiservervalidation.ValidateCustomResource(nil, obj, cv.validator)...)
	errs = append(errs, schemaobjectmeta.Validate(ctx, nil, obj, cv.structural, false)...)
	errs = append(errs, listtype.ValidateListSetsAndMaps(nil, cv.structural, obj)...)
	if cv.hasRules && len(errs) == 0 && reachesRules(obj, cv.structural) {
		errs = append(errs, cv.validateCEL(ctx, obj)...)
	}
	for _, e := range errs {
		out = append(out, Problem{RuleSchema, e.Error()})
	}
	if m, ok := obj["metadata"].(map[string]any); ok {
		name, _ := m["name"].(string)
		out = append(out, metadataProblems(c.gk.Kind, name, stringMap(m["labels"]), stringMap(m["annotations"]))...)
	}
	return out
}

func stringMap(v any) map[string]string {
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, x := range m {
		s, _ := x.(string)
		out[k] = s
	}
	return out
}

// jsonCopy deep-copies a decoded document the way the API server decodes JSON: integral numbers
// become int64 (CEL and the integer schema type need them), other numbers stay float64.
func jsonCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = jsonCopy(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = jsonCopy(x)
		}
		return out
	case float64:
		if v == float64(int64(v)) {
			return int64(v)
		}
		return v
	case int:
		return int64(v)
	default:
		return v
	}
}
