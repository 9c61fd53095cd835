package render

import (
	"bytes"
	"errors"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
)

// IgnoredValues locates content of a values file that Helm does not read.
type IgnoredValues struct {
	// File is the values file's repository path; Line the first line Helm ignores.
	File string `json:"file"`
	Line int    `json:"line"`
}

// ignoredLine returns the first line of a values file that Helm never reads, or 0. Helm (and so
// Argo CD's repo-server) reads a values file with sigs.k8s.io/yaml, which decodes the first YAML
// node and silently drops whatever follows it: keys written after a `{}`, or a second document
// after `---`. Such a file renders as if those keys were not there.
func ignoredLine(raw []byte) int {
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	var first, next yaml.Node
	if err := dec.Decode(&first); err != nil {
		return 0 // empty, or an error the values reader reports itself
	}
	err := dec.Decode(&next)
	if errors.Is(err, io.EOF) {
		return 0
	}
	if err == nil && (len(next.Content) == 0 || next.Content[0].Tag == "!!null") {
		return 0 // a trailing `---` with nothing after it
	}
	lines := strings.Split(string(raw), "\n")
	for i := lastLine(&first); i < len(lines); i++ {
		switch l := strings.TrimSpace(lines[i]); {
		case l == "", strings.HasPrefix(l, "#"), l == "---", l == "...":
		default:
			return i + 1
		}
	}
	return 0
}

// lastLine is the last line a node's content starts on.
func lastLine(n *yaml.Node) int {
	l := n.Line
	for _, c := range n.Content {
		l = max(l, lastLine(c))
	}
	return l
}
