package action

import (
	"context"
	"errors"

	"github.com/lakeport/lakeport/cli/pkg/promote"
	"github.com/lakeport/lakeport/cli/pkg/workspace"
)

// UsageError is a request that cannot be carried out as asked (an unknown environment, a revision
// that cannot be read outside a clone...). Its message never names a CLI flag.
type UsageError struct {
	Msg string
	// Option names the option (a field of the action) that settles it, when one does: a CLI
	// says it as its flag.
	Option string
}

func (e *UsageError) Error() string { return e.Msg }

// GateRefusedError is a promotion the gate refused: the source environment is not Synced and
// Healthy at the release (or not for long enough).
type GateRefusedError struct{ Gate promote.GateResult }

func (e *GateRefusedError) Error() string { return "gate: " + e.Gate.Summary }

// Kind classifies an error for callers that map outcomes to exit codes or HTTP statuses.
type Kind int

// Kinds of errors, from the most common.
const (
	// KindError is any failure not classified below.
	KindError Kind = iota
	// KindUsage is a request that names something the kit does not have, or asks the impossible.
	KindUsage
	// KindRefused is a refusal on the merits (the promotion gate, change control).
	KindRefused
	// KindTimeout is a deadline that passed.
	KindTimeout
	// KindNegative is a verb that ran and found changes, failing findings or unhealthy
	// Applications.
	KindNegative
	// KindImpacts is a diff that found an impact of a kind the caller fails on (sync fails,
	// data at risk...).
	KindImpacts
)

// KindOf classifies err (nil is KindError: check err first).
func KindOf(err error) Kind {
	var (
		ue  *UsageError
		wue *workspace.UsageError
		pue *promote.UsageError
		gr  *GateRefusedError
		cr  *promote.RefusedError
	)
	switch {
	case errors.As(err, &gr), errors.As(err, &cr):
		return KindRefused
	case errors.As(err, &ue), errors.As(err, &wue), errors.As(err, &pue):
		return KindUsage
	case errors.Is(err, ErrImpacts):
		return KindImpacts
	case errors.Is(err, ErrTimedOut), errors.Is(err, context.DeadlineExceeded):
		return KindTimeout
	case errors.Is(err, ErrChanges), errors.Is(err, ErrFindings), errors.Is(err, ErrUnhealthy), errors.Is(err, ErrStale):
		return KindNegative
	}
	return KindError
}

// Outcomes: a verb that ran and answered "no". Reports return them from Verdict so that callers
// map every outcome in one place; they carry no message worth printing.
var (
	ErrChanges   = errors.New("changes found")
	ErrFindings  = errors.New("failing findings")
	ErrUnhealthy = errors.New("not Synced and Healthy")
	ErrTimedOut  = errors.New("timed out")
	ErrImpacts   = errors.New("impacts to fail on")
)

// IsOutcome says whether err is only an outcome (nothing went wrong, the answer is "no").
func IsOutcome(err error) bool {
	return errors.Is(err, ErrChanges) || errors.Is(err, ErrImpacts) || errors.Is(err, ErrFindings) || errors.Is(err, ErrUnhealthy) || errors.Is(err, ErrTimedOut) || errors.Is(err, ErrStale)
}
