package diff

import (
	"fmt"
	"strings"
)

// maxEditDistance bounds the Myers search (its trace grows with the square of the distance).
// Past it the change is shown as one block of removed then added lines: still a correct diff,
// only not a minimal one, and never hundreds of megabytes for a rewritten multi-megabyte ConfigMap.
const maxEditDistance = 1500

type opKind byte

const (
	opEqual opKind = ' '
	opDel   opKind = '-'
	opAdd   opKind = '+'
)

type lineOp struct {
	kind opKind
	line string
}

// splitLines splits text into lines without their newline; an empty text has no lines.
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	s = strings.TrimSuffix(s, "\n")
	return strings.Split(s, "\n")
}

// Unified returns the hunks of a unified diff from a to b (no file header lines), with context
// lines of context around each change. It returns "" when a and b are equal.
func Unified(a, b string, context int) string {
	if a == b {
		return ""
	}
	if context < 0 {
		context = 0
	}
	ops := diffLines(splitLines(a), splitLines(b))
	return formatHunks(ops, context)
}

// diffLines is a Myers diff over lines, after stripping the common prefix and suffix.
func diffLines(a, b []string) []lineOp {
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	ops := make([]lineOp, 0, len(a)+len(b))
	for _, l := range a[:pre] {
		ops = append(ops, lineOp{opEqual, l})
	}
	ops = append(ops, myers(a[pre:len(a)-suf], b[pre:len(b)-suf])...)
	for _, l := range a[len(a)-suf:] {
		ops = append(ops, lineOp{opEqual, l})
	}
	return ops
}

func myers(a, b []string) []lineOp {
	n, m := len(a), len(b)
	if n == 0 || m == 0 {
		return replaceAll(a, b)
	}
	maxD := n + m
	if maxD > maxEditDistance {
		maxD = maxEditDistance
	}
	off := maxD + 1
	v := make([]int, 2*maxD+3)
	// trace[d] holds v[off-d-1 .. off+d+1] as it was before step d: all that step d reads.
	var trace [][]int
	found := -1
	for d := 0; d <= maxD && found < 0; d++ {
		snap := make([]int, 2*d+3)
		copy(snap, v[off-d-1:off+d+2])
		trace = append(trace, snap)
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || (k != d && v[off+k-1] < v[off+k+1]) {
				x = v[off+k+1]
			} else {
				x = v[off+k-1] + 1
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x++
				y++
			}
			v[off+k] = x
			if x >= n && y >= m {
				found = d
				break
			}
		}
	}
	if found < 0 {
		return replaceAll(a, b)
	}
	// Walk the trace backwards to recover the edit script.
	var rev []lineOp
	x, y := n, m
	for d := found; d > 0; d-- {
		vp := trace[d]
		at := func(k int) int { return vp[k+d+1] }
		k := x - y
		var prevK int
		if k == -d || (k != d && at(k-1) < at(k+1)) {
			prevK = k + 1
		} else {
			prevK = k - 1
		}
		prevX := at(prevK)
		prevY := prevX - prevK
		for x > prevX && y > prevY {
			x--
			y--
			rev = append(rev, lineOp{opEqual, a[x]})
		}
		if x == prevX {
			y--
			rev = append(rev, lineOp{opAdd, b[y]})
		} else {
			x--
			rev = append(rev, lineOp{opDel, a[x]})
		}
	}
	for x > 0 && y > 0 {
		x--
		y--
		rev = append(rev, lineOp{opEqual, a[x]})
	}
	out := make([]lineOp, len(rev))
	for i := range rev {
		out[i] = rev[len(rev)-1-i]
	}
	return out
}

func replaceAll(a, b []string) []lineOp {
	out := make([]lineOp, 0, len(a)+len(b))
	for _, l := range a {
		out = append(out, lineOp{opDel, l})
	}
	for _, l := range b {
		out = append(out, lineOp{opAdd, l})
	}
	return out
}

// formatHunks groups an edit script into unified-diff hunks.
func formatHunks(ops []lineOp, context int) string {
	var b strings.Builder
	i := 0
	for i < len(ops) {
		// Find the next change.
		for i < len(ops) && ops[i].kind == opEqual {
			i++
		}
		if i == len(ops) {
			break
		}
		start := max(i-context, 0)
		// Extend the hunk while the gap between changes is at most 2×context.
		end := i
		for j := i; j < len(ops); {
			if ops[j].kind != opEqual {
				end = j + 1
				j++
				continue
			}
			run := j
			for run < len(ops) && ops[run].kind == opEqual {
				run++
			}
			if run == len(ops) || run-j > 2*context {
				break
			}
			j = run
		}
		stop := min(end+context, len(ops))
		aStart, bStart := lineNumbers(ops, start)
		aLen, bLen := 0, 0
		for _, op := range ops[start:stop] {
			if op.kind != opAdd {
				aLen++
			}
			if op.kind != opDel {
				bLen++
			}
		}
		fmt.Fprintf(&b, "@@ -%s +%s @@\n", hunkRange(aStart, aLen), hunkRange(bStart, bLen))
		for _, op := range ops[start:stop] {
			b.WriteByte(byte(op.kind))
			b.WriteString(op.line)
			b.WriteByte('\n')
		}
		i = stop
	}
	return b.String()
}

// lineNumbers returns the 1-based line numbers in a and b of the op at index i.
func lineNumbers(ops []lineOp, i int) (int, int) {
	a, b := 1, 1
	for _, op := range ops[:i] {
		if op.kind != opAdd {
			a++
		}
		if op.kind != opDel {
			b++
		}
	}
	return a, b
}

func hunkRange(start, n int) string {
	switch n {
	case 0:
		return fmt.Sprintf("%d,0", start-1)
	case 1:
		return fmt.Sprint(start)
	}
	return fmt.Sprintf("%d,%d", start, n)
}
