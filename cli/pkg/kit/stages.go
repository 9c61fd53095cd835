package kit

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Stage is one step of the promotion graph: the environments a release reaches together (one
// per cluster, region or legal entity), promoted one by one or all at once.
//
// environments/lakeport.yaml's `promotion` is a list of stages, each written as
//   - an environment name (a stage of one environment, named after it): `dev`;
//   - a list of environment names: `[prod-eu, prod-us]`, named after their longest common
//     prefix at a '-' boundary ("prod"), or "stage<N>" (its 1-based place) when they share none;
//   - a named stage: `{stage: prod, environments: [prod-eu, prod-us]}`.
//
// A linear list (`[dev, staging, prod]`) is therefore a graph of one-environment stages, read
// exactly as before.
type Stage struct {
	Name         string
	Environments []string
	// Line is the stage's line in environments/lakeport.yaml.
	Line int
}

type stageMember struct {
	name, key string
	line      int
}

type parsedStage struct {
	name    string
	line    int
	members []stageMember
}

// parseStages reads the `promotion` node. Errors name File, the line and the key.
func parseStages(n *yaml.Node) ([]parsedStage, []error) {
	var errs []error
	fe := func(line int, key, format string, args ...any) {
		errs = append(errs, &FieldError{File: File, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	if n.Kind == 0 || (n.Kind == yaml.SequenceNode && len(n.Content) == 0) {
		fe(n.Line, "promotion", "must list the environments in promotion order, e.g. [dev, staging, prod] or [dev, staging, [prod-eu, prod-us]]")
		return nil, errs
	}
	if n.Kind != yaml.SequenceNode {
		fe(n.Line, "promotion", "must be a list of stages, e.g. [dev, staging, [prod-eu, prod-us]]")
		return nil, errs
	}
	scalars := func(seq *yaml.Node, key string) []stageMember {
		var out []stageMember
		for j, e := range seq.Content {
			k := fmt.Sprintf("%s[%d]", key, j)
			if e.Kind != yaml.ScalarNode || e.Value == "" {
				fe(e.Line, k, "must be an environment name")
				continue
			}
			out = append(out, stageMember{name: e.Value, key: k, line: e.Line})
		}
		return out
	}
	var out []parsedStage
	names := map[string]string{} // stage name -> key that named it
	for i, item := range n.Content {
		key := fmt.Sprintf("promotion[%d]", i)
		st := parsedStage{line: item.Line}
		switch item.Kind {
		case yaml.ScalarNode:
			if item.Value == "" {
				fe(item.Line, key, "must be an environment name")
				continue
			}
			st.name = item.Value
			st.members = []stageMember{{name: item.Value, key: key, line: item.Line}}
		case yaml.SequenceNode:
			st.members = scalars(item, key)
			if len(item.Content) == 0 {
				fe(item.Line, key, "stage %d has no environment", i+1)
				continue
			}
			st.name = derivedStageName(st.members, i)
		case yaml.MappingNode:
			var envs *yaml.Node
			for j := 0; j+1 < len(item.Content); j += 2 {
				kn, v := item.Content[j], item.Content[j+1]
				switch kn.Value {
				case "stage":
					if v.Kind != yaml.ScalarNode || !envNameRE.MatchString(v.Value) {
						fe(v.Line, key+".stage", "%q is not a stage name (a DNS label)", v.Value)
					}
					st.name = v.Value
				case "environments":
					envs = v
				default:
					fe(kn.Line, key+"."+kn.Value, "unknown key: a named stage has only stage and environments")
				}
			}
			if st.name == "" {
				fe(item.Line, key+".stage", "must name the stage")
			}
			if envs == nil || envs.Kind != yaml.SequenceNode || len(envs.Content) == 0 {
				line := item.Line
				if envs != nil {
					line = envs.Line
				}
				fe(line, key+".environments", "stage %q has no environment", st.name)
				continue
			}
			st.members = scalars(envs, key+".environments")
		default:
			fe(item.Line, key, "must be an environment, a list of environments or {stage: NAME, environments: [...]}")
			continue
		}
		if prev, ok := names[st.name]; ok && st.name != "" {
			fe(item.Line, key, "stage name %q is already used by %s", st.name, prev)
		}
		names[st.name] = key
		out = append(out, st)
	}
	// A stage named like an environment of another stage would make --to-stage ambiguous.
	for _, st := range out {
		for _, o := range out {
			for _, m := range o.members {
				if m.name == st.name && len(st.members) > 1 {
					fe(st.line, "promotion", "stage name %q is also an environment (%s): name the stage differently", st.name, m.key)
				}
			}
		}
	}
	return out, errs
}

// derivedStageName names an unnamed list stage after its members' common prefix.
func derivedStageName(members []stageMember, i int) string {
	if len(members) == 0 {
		return "stage" + strconv.Itoa(i+1)
	}
	prefix := members[0].name
	for _, m := range members[1:] {
		for !strings.HasPrefix(m.name, prefix) {
			prefix = prefix[:len(prefix)-1]
		}
	}
	if len(members) > 1 {
		// Cut back to a '-' boundary: prod-eu and prod-us share "prod-"; pe and pu share nothing.
		if j := strings.LastIndexByte(prefix, '-'); j > 0 {
			prefix = prefix[:j]
		} else {
			prefix = ""
		}
	}
	if prefix = strings.Trim(prefix, "-"); prefix == "" {
		return "stage" + strconv.Itoa(i+1)
	}
	return prefix
}

// StageIndex is the place of env's stage in the promotion graph (-1 when it has none).
func (k *Kit) StageIndex(env string) int {
	for i, s := range k.Stages {
		for _, e := range s.Environments {
			if e == env {
				return i
			}
		}
	}
	return -1
}

// Stage returns the stage named name, and its place, or nil and -1.
func (k *Kit) Stage(name string) (*Stage, int) {
	for i := range k.Stages {
		if k.Stages[i].Name == name {
			return &k.Stages[i], i
		}
	}
	return nil, -1
}

// StageNames lists the stages in order.
func (k *Kit) StageNames() []string {
	out := make([]string, len(k.Stages))
	for i, s := range k.Stages {
		out[i] = s.Name
	}
	return out
}

// Order is the promotion graph in words: "dev → staging → prod[prod-eu, prod-us]".
func (k *Kit) Order() string {
	parts := make([]string, len(k.Stages))
	for i, s := range k.Stages {
		parts[i] = s.Name
		if len(s.Environments) != 1 || s.Environments[0] != s.Name {
			parts[i] = s.Name + "[" + strings.Join(s.Environments, ", ") + "]"
		}
	}
	return strings.Join(parts, " → ")
}
