// Package burstgc turns the garbage collector into a soft memory limit for a short-lived CLI
// process, from package initialisation on. Import it (blank) from main only.
//
// lakeport allocates in one short burst (the kit rendered once or twice) and its dependencies
// allocate ~30 MB while their packages initialise: with the default GOGC the collector runs four
// times before main starts (about a quarter of the start-up time) and takes a third of the CPU of
// a render. Instead the heap grows to a soft limit of SoftLimit, with no collection before it.
//
// The first collection the limit triggers ends the burst: the collector is then switched back to
// its default pacing (GOGC=100, no limit). Keeping the limit instead would pin the resident size
// at the limit for any command that allocates more (a fleet of thousands of Applications
// allocates gigabytes while holding little: `lakeport apps` on 3,000 Applications holds ~50 MB
// live), and would make the collector run back to back once the live heap itself passes the
// limit (a fleet's whole render held for output). GOGC or GOMEMLIMIT in the environment switch
// all this off.
//
// Go initialises packages in import-path order among those whose imports are ready, so this
// package (which imports only the runtime) runs before the heavy Kubernetes, Argo CD and Helm
// packages whose initialisation allocates.
package burstgc

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
)

// SoftLimit is the heap size up to which no collection runs. 96 MiB holds a whole command on the
// bundled kit (no collection at all). On a fleet, the pages a larger burst touches cost more than
// the collections it saves: each fresh page is a page fault, and `lakeport apps` on 3,017
// Applications spent 0.5 s of its 1.9 s of CPU in the kernel at 192 MiB. At 96 MiB it takes 10%
// less time (interleaved A/B, issue 14).
const SoftLimit = 96 << 20

func init() {
	if os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetGCPercent(-1)
		debug.SetMemoryLimit(SoftLimit)
		arm()
	}
}

// sentinel is an object whose finalizer runs after the collection that finds it unreachable.
type sentinel struct{ _ [16]byte }

// arm makes the next collection call endBurst.
func arm() { runtime.SetFinalizer(&sentinel{}, endBurst) }

// endBurst switches the collector back to its default pacing once the heap has reached the
// limit; a collection forced earlier (runtime.GC from a dependency) only re-arms.
func endBurst(*sentinel) {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	if m.NumForcedGC > 0 && m.TotalAlloc < SoftLimit/2 {
		arm()
		return
	}
	debug.SetGCPercent(100)
	debug.SetMemoryLimit(math.MaxInt64)
}
