package promote

import (
	"fmt"
	"slices"
	"sort"

	"github.com/lakeport/lakeport/cli/pkg/kit"
	"github.com/lakeport/lakeport/cli/pkg/workspace"
	"github.com/lakeport/lakeport/cli/pkg/yamledit"
)

// Pins are one component's release pins in one environment.
type Pins struct {
	// Chart is the revision as written; Resolved the commit it stands for.
	Chart    string            `json:"chart"`
	Resolved string            `json:"resolved"`
	Images   map[string]string `json:"images"`
}

// readPins reads one component's pins in one environment of w's kit; head is what a floating
// chart pin stands for.
func readPins(w *workspace.Workspace, e *kit.Environment, c, head string) (*Pins, error) {
	comp := e.Component(c)
	p := &Pins{Chart: comp.Revision, Resolved: comp.Revision, Images: map[string]string{}}
	if comp.Revision == kit.Floating {
		p.Resolved = head
	} else if h, err := w.Repo.Resolve(comp.Revision); err == nil {
		p.Resolved = h.String()
	}
	raw, err := w.Head.ReadFile(e.ValuesFile(c))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", e.ValuesFile(c), err)
	}
	for _, key := range w.Kit.ImagePins[c] {
		has, err := yamledit.Has(raw, yamledit.ParsePath(key))
		if err != nil {
			return nil, fmt.Errorf("%s: image pin %s: %w", e.ValuesFile(c), key, err)
		}
		v := ""
		if has {
			if v, err = yamledit.Get(raw, yamledit.ParsePath(key)); err != nil {
				return nil, fmt.Errorf("%s: image pin %s: %w", e.ValuesFile(c), key, err)
			}
		}
		if v != "" {
			p.Images[key] = v
		}
	}
	return p, nil
}

func (p *Pins) same(o *Pins) bool { return p.Resolved == o.Resolved && mapsEqual(p.Images, o.Images) }

// String is the pins in one line: the chart revision and the image pins.
func (p *Pins) String() string {
	s := p.Resolved
	if len(s) > 12 {
		s = s[:12]
	}
	keys := make([]string, 0, len(p.Images))
	for k := range p.Images {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		s += " " + k + "=" + p.Images[k]
	}
	return s
}

// Candidate is a promotion the dashboard proposes: the source runs other pins than the target.
type Candidate struct {
	From string `json:"from"`
	To   string `json:"to"`
	// Gate is filled in by the caller (the source's health), when it checks it.
	Gate *GateResult `json:"gate,omitempty"`
}

// Row is one component across the environments.
type Row struct {
	Component  string           `json:"component"`
	Pins       map[string]*Pins `json:"pins"`
	Candidates []Candidate      `json:"promotable"`
}

// Dashboard lists, for every component, the pins each environment runs and the promotions that
// would change something (adjacent stages whose pins differ).
func Dashboard(w *workspace.Workspace) ([]Row, error) {
	head, err := w.Repo.Resolve("HEAD")
	if err != nil {
		return nil, err
	}
	comps := map[string]bool{}
	for _, e := range w.Kit.Environments {
		for _, c := range e.Components {
			comps[c.Component] = true
		}
	}
	names := make([]string, 0, len(comps))
	for c := range comps {
		names = append(names, c)
	}
	sort.Strings(names)
	var rows []Row
	for _, c := range names {
		row := Row{Component: c, Pins: map[string]*Pins{}}
		for _, e := range w.Kit.Environments {
			comp := e.Component(c)
			if comp == nil {
				continue
			}
			p, err := readPins(w, e, c, head.String())
			if err != nil {
				return nil, err
			}
			row.Pins[e.Name] = p
		}
		// Each environment of a stage takes its pins from the first environment of the stage
		// before that has the component (promote takes them from there too).
		for i := 1; i < len(w.Kit.Stages); i++ {
			from := ""
			for _, e := range w.Kit.Stages[i-1].Environments {
				if row.Pins[e] != nil {
					from = e
					break
				}
			}
			for _, to := range w.Kit.Stages[i].Environments {
				a, b := row.Pins[from], row.Pins[to]
				if a == nil || b == nil {
					continue
				}
				if !a.same(b) {
					row.Candidates = append(row.Candidates, Candidate{From: from, To: to})
				}
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	keys := make([]string, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	return !slices.ContainsFunc(keys, func(k string) bool { return a[k] != b[k] })
}
