// Package envcheck is the contract of the whole-environment checks of `lakeport check`: checks
// that cannot judge one object alone because what they prove is a property of everything an
// environment renders together (the network flows the platform needs against the rendered
// NetworkPolicies, references between objects, who may do what in Trino). Each check is loaded
// from a snapshot of the kit (its intent files live in the repository) and evaluated once per
// environment; package check turns its findings into report findings, with exceptions and PR
// mode applied as for every other finding.
package envcheck

import (
	"context"

	"github.com/lakeport/lakeport/cli/pkg/check/policy"
	"github.com/lakeport/lakeport/cli/pkg/kit"
	"github.com/lakeport/lakeport/cli/pkg/render"
	"github.com/lakeport/lakeport/cli/pkg/source"
)

// Rule describes one rule a check reports under.
type Rule struct {
	ID          string
	Severity    policy.Severity
	Title       string
	Description string
	// File and Line locate the rule's source (an intent file), when it has one.
	File string
	Line int
}

// Input is one environment's whole render.
type Input struct {
	Environment *kit.Environment
	// Releases are every release of the environment (what is deployed together).
	Releases []*render.Release
}

// Finding is one problem. Release and Object locate it when it belongs to a rendered object;
// File and Line when it belongs to a file of the kit (an intent, env.yaml).
type Finding struct {
	Release  *render.Release
	Object   *render.Object
	Rule     string
	Severity policy.Severity
	Message  string
	File     string
	Line     int
}

// Check is one whole-environment check.
type Check interface {
	// Rules lists the rules the check reports under.
	Rules() []Rule
	// Check evaluates one environment. Errors are failures to evaluate, not findings.
	Check(ctx context.Context, in Input) ([]Finding, error)
}

// Loader builds a check from a snapshot of the kit (reading its intent files). A bad intent file
// is an error naming the file, line and key.
type Loader func(snap source.Snapshot) (Check, error)
