package cmd

import (
	"errors"

	"github.com/lakeport/lakeport/cli/pkg/promote"
)

// newHealthGate builds the gate from the health sources (Kubernetes API or Argo CD API server).
func newHealthGate(o *PromoteOptions) (promote.Gate, error) {
	return nil, errors.New("the health gate is not wired yet")
}
