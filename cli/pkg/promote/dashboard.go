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
			p := &Pins{Chart: comp.Revision, Resolved: comp.Revision, Images: map[string]string{}}
			if comp.Revision == kit.Floating {
				p.Resolved = head.String()
			} else if h, err := w.Repo.Resolve(comp.Revision); err == nil {
				p.Resolved = h.String()
			}
			raw, err := w.Head.ReadFile(e.ValuesFile(c))
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", e.ValuesFile(c), err)
			}
			for _, key := range w.Kit.ImagePins[c] {
				v, err := yamledit.Get(raw, yamledit.ParsePath(key))
				if err != nil {
					return nil, fmt.Errorf("%s: image pin %s: %w", e.ValuesFile(c), key, err)
				}
				p.Images[key] = v
			}
			row.Pins[e.Name] = p
		}
		for i := 1; i < len(w.Kit.Promotion); i++ {
			from, to := w.Kit.Promotion[i-1], w.Kit.Promotion[i]
			a, b := row.Pins[from], row.Pins[to]
			if a == nil || b == nil {
				continue
			}
			if a.Resolved != b.Resolved || !mapsEqual(a.Images, b.Images) {
				row.Candidates = append(row.Candidates, Candidate{From: from, To: to})
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
