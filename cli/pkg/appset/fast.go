package appset

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"

	"dario.cat/mergo"
	"github.com/argoproj/argo-cd/v3/applicationset/controllers/template"
	"github.com/argoproj/argo-cd/v3/applicationset/generators"
	"github.com/argoproj/argo-cd/v3/applicationset/utils"
	argov1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
)

// fastPlan is the direct path of one element's expansion, worked out once per ApplicationSet.
//
// Profiled on a fleet of 3,017 Applications (issue 14), Argo CD's GenerateApplications spends
// most of an element's time around the work rather than in it: Transform walks the generator by
// reflection and flattens every parameter set for a selector that is not there, and the matrix
// interpolates its list generator through utils.Render{}, which clones the ~200-function base
// template and parses the text again for every string of the generator struct, empty ones
// included (a third of the expansion). The plan performs the same steps in the same order for the
// shapes the Expander splits with goTemplate, each with Argo CD's own code where the step is
// the work (the git generator's GenerateParams, the list generator's GenerateParams,
// GetTempApplication, mergo with Argo CD's options, the strategic merge patch) and with the
// Expander's templateRenderer (parsed-once texts, Argo CD's walk) where it is templating:
//
//   - matrix (applicationset/generators/matrix.go, v3.6.1): the first child's parameters, then
//     per parameter set the second child interpolated with it (generator_spec_processor.go
//     Transform → InterpolateGenerator → utils.Render.RenderGeneratorParams) and generated, each
//     pair merged as `mergo.Merge(&tmp, b, WithOverride); mergo.Merge(&tmp, a, WithOverride)`;
//   - the template (controllers/template/template.go GenerateApplications): the generator's
//     template merged under the ApplicationSet's (mergeGeneratorTemplate), RenderTemplateParams,
//     then templatePatch rendered and applied (applyTemplatePatch, below), then the namespace.
//
// Anything else, and any element whose fast path fails, goes through GenerateApplications, so
// errors keep Argo CD's words. TestExpanderMatchesArgoCD and TestExpanderErrorsAndShapes compare
// the result with Argo CD's own GenerateApplications and utils.Render on the kit, the fixture, a
// fleet and test shapes.
type fastPlan struct {
	as   *argov1.ApplicationSet
	git  argov1.ApplicationSetGenerator  // the git files generator alone
	list *argov1.ApplicationSetGenerator // the matrix's list generator, second child (nil: git alone)
	tmpl argov1.ApplicationSetTemplate   // the generator's template merged under the ApplicationSet's
}

// newFastPlan returns the plan of an ApplicationSet that splittable accepted, or nil when the
// fast path does not apply (then every element goes through Argo CD's GenerateApplications).
func newFastPlan(as *argov1.ApplicationSet) *fastPlan {
	if !as.Spec.GoTemplate || len(as.Spec.Generators) != 1 {
		return nil
	}
	g := as.Spec.Generators[0]
	p := &fastPlan{as: as}
	var own *argov1.ApplicationSetTemplate
	switch {
	case g.Git != nil && g.Matrix == nil:
		p.git = argov1.ApplicationSetGenerator{Git: g.Git}
		own = &g.Git.Template
	case g.Matrix != nil && len(g.Matrix.Generators) == 2:
		first, second := g.Matrix.Generators[0], g.Matrix.Generators[1]
		if first.Git == nil || second.List == nil || first.Selector != nil || second.Selector != nil {
			return nil
		}
		p.git = argov1.ApplicationSetGenerator{Git: first.Git}
		p.list = &argov1.ApplicationSetGenerator{List: second.List}
		own = &g.Matrix.Template
	default:
		return nil
	}
	dest := own.DeepCopy()
	if err := mergo.Merge(dest, as.Spec.Template); err != nil {
		return nil
	}
	p.tmpl = *dest
	return p
}

// expand is one element's Applications (the element being the one file r serves).
func (p *fastPlan) expand(r Resolver, renderer *templateRenderer) ([]argov1.Application, error) {
	as := p.as
	repos := &repos{resolver: r}
	gitParams, err := generators.NewGitGenerator(repos, as.Namespace).GenerateParams(&p.git, as, nil)
	if err != nil {
		return nil, err
	}
	params := gitParams
	if p.list != nil {
		params = nil
		list := generators.NewListGenerator()
		for _, a := range gitParams {
			gen := p.list
			if len(a) != 0 {
				if gen, err = renderer.generator(p.list, a, as.Spec.GoTemplateOptions); err != nil {
					return nil, err
				}
			}
			bs, err := list.GenerateParams(gen, as, nil)
			if err != nil {
				return nil, err
			}
			for _, b := range bs {
				tmp := map[string]any{}
				if err := mergo.Merge(&tmp, b, mergo.WithOverride); err != nil {
					return nil, err
				}
				if err := mergo.Merge(&tmp, a, mergo.WithOverride); err != nil {
					return nil, err
				}
				params = append(params, tmp)
			}
		}
	}
	tmpl := template.GetTempApplication(p.tmpl)
	out := make([]argov1.Application, 0, len(params))
	for _, param := range params {
		app, err := renderer.RenderTemplateParams(tmpl, as.Spec.SyncPolicy, param, true, as.Spec.GoTemplateOptions)
		if err != nil {
			return nil, err
		}
		if as.Spec.TemplatePatch != nil {
			patch, err := renderer.Replace(*as.Spec.TemplatePatch, param, true, as.Spec.GoTemplateOptions)
			if err != nil {
				return nil, err
			}
			if app, err = applyTemplatePatch(app, patch); err != nil {
				return nil, err
			}
		}
		app.Namespace = as.Namespace
		out = append(out, *app)
	}
	return out, nil
}

// generator is utils.Render.RenderGeneratorParams for a generator without a Values field (a
// list generator): Argo CD's walk over the generator with every string templated.
func (r *templateRenderer) generator(gen *argov1.ApplicationSetGenerator, params map[string]any, opts []string) (*argov1.ApplicationSetGenerator, error) {
	original := reflect.ValueOf(gen)
	destination := reflect.New(original.Type()).Elem()
	if err := r.replace(destination, original, params, opts); err != nil {
		return nil, fmt.Errorf("failed to replace parameters in generator: %w", err)
	}
	return destination.Interface().(*argov1.ApplicationSetGenerator), nil
}

// applyTemplatePatch is Argo CD's (applicationset/controllers/template/patch.go, v3.6.1,
// Apache-2.0), unexported there: the rendered templatePatch applied to the Application as a
// strategic merge patch, the project kept.
func applyTemplatePatch(app *argov1.Application, templatePatch string) (*argov1.Application, error) {
	appString, err := json.Marshal(app)
	if err != nil {
		return nil, fmt.Errorf("error while marhsalling Application %w", err)
	}
	convertedTemplatePatch, err := utils.ConvertYAMLToJSON(templatePatch)
	if err != nil {
		return nil, fmt.Errorf("error while converting template to json %q: %w", convertedTemplatePatch, err)
	}
	if err := json.Unmarshal([]byte(convertedTemplatePatch), &argov1.Application{}); err != nil {
		return nil, fmt.Errorf("invalid templatePatch %q: %w", convertedTemplatePatch, err)
	}
	data, err := strategicpatch.StrategicMergePatch(appString, []byte(convertedTemplatePatch), argov1.Application{})
	if err != nil {
		return nil, fmt.Errorf("error while applying templatePatch template to json %q: %w", convertedTemplatePatch, err)
	}
	finalApp := argov1.Application{}
	if err := json.Unmarshal(data, &finalApp); err != nil {
		return nil, fmt.Errorf("error while unmarhsalling patched application: %w", err)
	}
	finalApp.Spec.Project = app.Spec.Project
	return &finalApp, nil
}

// element is expand for one element, sorted by name as expand sorts; ok is false when the
// element must go through GenerateApplications instead (an error, or two Applications with one
// name), which then reports it in Argo CD's words.
func (p *fastPlan) element(r Resolver, renderer *templateRenderer) ([]argov1.Application, bool) {
	apps, err := p.expand(r, renderer)
	if err != nil {
		return nil, false
	}
	seen := make(map[string]bool, len(apps))
	for i := range apps {
		if seen[apps[i].Name] {
			return nil, false
		}
		seen[apps[i].Name] = true
	}
	sort.Slice(apps, func(i, j int) bool { return apps[i].Name < apps[j].Name })
	return apps, true
}
