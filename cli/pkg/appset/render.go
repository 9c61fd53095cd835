package appset

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"text/template"
	"unsafe"

	"github.com/argoproj/argo-cd/v3/applicationset/utils"
	argov1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
)

// templateRenderer is Argo CD's utils.Render with one shortcut: a string without "{{" is copied
// instead of being handed to Go's text/template.
//
// Argo CD renders an Application template by walking every field of the struct and running each
// string, empty ones included, through a clone of a template that carries all ~200 sprig
// functions: hundreds of clones per generated Application, 70% of the expansion's CPU. Under Go
// templates (goTemplate: true, the only mode lakeport's kit uses) a text without "{{" has no
// action and executes to itself, so the shortcut cannot change a result; every string that has
// an action still goes through Argo CD's own Replace, and templatePatch too. The walk mirrors
// Argo CD's deeplyReplaceWithFilter (applicationset/utils/utils.go, v3.6.1, Apache-2.0) case for
// case; TestTemplateRendererMatchesArgoCD compares the two on the kit and on test templates.
type templateRenderer struct {
	utils.Render
	parsed parsedTemplates
}

var _ utils.Renderer = (*templateRenderer)(nil)

// RenderTemplateParams implements utils.Renderer as Argo CD's does.
func (r *templateRenderer) RenderTemplateParams(tmpl *argov1.Application, syncPolicy *argov1.ApplicationSetSyncPolicy, params map[string]any, useGoTemplate bool, goTemplateOptions []string) (*argov1.Application, error) {
	if !useGoTemplate {
		return r.Render.RenderTemplateParams(tmpl, syncPolicy, params, useGoTemplate, goTemplateOptions)
	}
	if tmpl == nil {
		return nil, errors.New("application template is empty")
	}
	if len(params) == 0 {
		return tmpl, nil
	}
	original := reflect.ValueOf(tmpl)
	destination := reflect.New(original.Type()).Elem()
	if err := r.replace(destination, original, params, goTemplateOptions); err != nil {
		return nil, err
	}
	app := destination.Interface().(*argov1.Application)
	if (syncPolicy == nil || !syncPolicy.PreserveResourcesOnDeletion) && len(app.Finalizers) == 0 {
		app.Finalizers = []string{argov1.ResourcesFinalizerName}
	}
	return app, nil
}

// str renders one string with Go templates.
func (r *templateRenderer) str(s string, params map[string]any, opts []string) (string, error) {
	if !strings.Contains(s, "{{") {
		return s, nil
	}
	return r.Replace(s, params, true, opts)
}

// replace is deeplyReplaceWithFilter without a filter.
func (r *templateRenderer) replace(destination, original reflect.Value, params map[string]any, opts []string) error {
	switch original.Kind() {
	case reflect.Pointer:
		elem := original.Elem()
		if !elem.IsValid() {
			return nil
		}
		if elem.CanSet() {
			destination.Set(reflect.New(elem.Type()))
		} else {
			copyUnexported(destination, original)
		}
		return r.replace(destination.Elem(), elem, params, opts)

	case reflect.Interface:
		elem := original.Elem()
		if elem.IsValid() {
			cp := reflect.New(elem.Type()).Elem()
			if err := r.replace(cp, elem, params, opts); err != nil {
				return err
			}
			destination.Set(cp)
		}

	case reflect.Struct:
		t := original.Type()
		for i := 0; i < original.NumField(); i++ {
			field := t.Field(i)
			switch field.Name + "." + t.PkgPath() {
			case "time.Time":
				destination.Field(i).Set(original.Field(i))
			case "Raw.k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1", "Raw.k8s.io/apimachinery/pkg/runtime":
				data, err := r.raw(original.Field(i).Bytes(), params, opts)
				if err != nil {
					return err
				}
				destination.Field(i).Set(reflect.ValueOf(data))
			default:
				if err := r.replace(destination.Field(i), original.Field(i), params, opts); err != nil {
					return err
				}
			}
		}

	case reflect.Slice:
		s := reflect.MakeSlice(original.Type(), original.Len(), original.Cap())
		if destination.CanSet() {
			destination.Set(s)
		} else {
			copyValueIntoUnexported(destination, s)
		}
		for i := 0; i < original.Len(); i++ {
			if err := r.replace(destination.Index(i), original.Index(i), params, opts); err != nil {
				return err
			}
		}

	case reflect.Map:
		m := reflect.MakeMap(original.Type())
		if destination.CanSet() {
			destination.Set(m)
		} else {
			copyValueIntoUnexported(destination, m)
		}
		for _, key := range original.MapKeys() {
			v := original.MapIndex(key)
			if v.Kind() != reflect.String && nillable(v) && v.IsNil() {
				continue
			}
			cp := reflect.New(v.Type()).Elem()
			if err := r.replace(cp, v, params, opts); err != nil {
				return err
			}
			if key.Kind() == reflect.String {
				k, err := r.str(key.String(), params, opts)
				if err != nil {
					return err
				}
				key = reflect.ValueOf(k)
			}
			destination.SetMapIndex(key, cp)
		}

	case reflect.String:
		s, err := r.str(original.String(), params, opts)
		if err != nil {
			return err
		}
		if destination.CanSet() {
			destination.SetString(s)
		} else {
			copyValueIntoUnexported(destination, reflect.ValueOf(s))
		}

	default:
		if destination.CanSet() {
			destination.Set(original)
		} else {
			copyUnexported(destination, original)
		}
	}
	return nil
}

// raw renders a raw JSON (or YAML) field, such as Helm valuesObject, value by value.
func (r *templateRenderer) raw(b []byte, params map[string]any, opts []string) ([]byte, error) {
	var v any
	j, err := utils.ConvertYAMLToJSON(string(b))
	if err != nil {
		return nil, fmt.Errorf("error while converting template to json %q: %w", j, err)
	}
	if err := json.Unmarshal([]byte(j), &v); err != nil {
		return nil, fmt.Errorf("failed to unmarshal JSON field: %w", err)
	}
	orig := reflect.ValueOf(&v)
	cp := reflect.New(orig.Type()).Elem()
	if err := r.replace(cp, orig, params, opts); err != nil {
		return nil, fmt.Errorf("failed to deeply replace JSON field contents: %w", err)
	}
	data, err := json.Marshal(cp.Interface().(*any))
	if err != nil {
		return nil, fmt.Errorf("failed to marshal templated JSON field: %w", err)
	}
	return data, nil
}

func nillable(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Map, reflect.Pointer, reflect.UnsafePointer, reflect.Interface, reflect.Slice:
		return true
	}
	return false
}

func copyValueIntoUnexported(destination, value reflect.Value) {
	reflect.NewAt(destination.Type(), unsafe.Pointer(destination.UnsafeAddr())).Elem().Set(value)
}

func copyUnexported(destination, original reflect.Value) {
	copyValueIntoUnexported(destination, reflect.NewAt(original.Type(), unsafe.Pointer(original.UnsafeAddr())).Elem())
}

// argoBaseTemplate is Argo CD's base template, with every sprig function and Argo CD's own
// (normalize, slugify, toYaml, fromYaml...) loaded (applicationset/utils/utils.go, v3.6.1). Read
// through the linker so that the parsed templates below carry exactly Argo CD's functions.
//
//go:linkname argoBaseTemplate github.com/argoproj/argo-cd/v3/applicationset/utils.baseTemplate
var argoBaseTemplate *template.Template

// parsedTemplates keeps each template text parsed once, per goTemplateOptions: Argo CD's Replace
// clones the ~200-function base template and parses the text again for every string of every
// generated Application (a third of the expansion's CPU on a fleet); a parsed text/template is
// safe to execute concurrently and executes the same. Texts that call tpl go through Argo CD's
// Replace: its tpl function counts its recursion in state shared by one execution.
type parsedTemplates struct {
	m sync.Map // options + "\x00" + text -> *template.Template
}

func (p *parsedTemplates) get(text string, opts []string) (*template.Template, bool) {
	key := strings.Join(opts, "\x01") + "\x00" + text
	if t, ok := p.m.Load(key); ok {
		return t.(*template.Template), true
	}
	if argoBaseTemplate == nil {
		return nil, false
	}
	t, err := argoBaseTemplate.Clone()
	if err != nil {
		return nil, false
	}
	for _, o := range opts {
		t = t.Option(o)
	}
	if t, err = t.Parse(text); err != nil {
		return nil, false // Argo CD's Replace reports it, in its words
	}
	actual, _ := p.m.LoadOrStore(key, t)
	return actual.(*template.Template), true
}

// Replace is Argo CD's Replace with the text parsed once (see parsedTemplates).
func (r *templateRenderer) Replace(tmpl string, params map[string]any, useGoTemplate bool, opts []string) (string, error) {
	if !useGoTemplate || strings.Contains(tmpl, "tpl") {
		return r.Render.Replace(tmpl, params, useGoTemplate, opts)
	}
	t, ok := r.parsed.get(tmpl, opts)
	if !ok {
		return r.Render.Replace(tmpl, params, useGoTemplate, opts)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, params); err != nil {
		return "", fmt.Errorf("failed to execute go template %s: %w", tmpl, err)
	}
	return b.String(), nil
}
