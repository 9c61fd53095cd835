// Package burstgc turns the garbage collector into a soft memory limit for a short-lived CLI
// process, from package initialisation on. Import it (blank) from main only.
//
// lakeport allocates in one short burst (the kit rendered once or twice) and its dependencies
// allocate ~30 MB while their packages initialise: with the default GOGC the collector runs four
// times before main starts (about a quarter of the start-up time) and takes a third of the CPU of
// a render. Instead the heap grows to a soft limit of 512 MiB, past which the collector runs as
// usual. GOGC or GOMEMLIMIT in the environment switch this off.
//
// Go initialises packages in import-path order among those whose imports are ready, so this
// package (which imports only the runtime) runs before the heavy Kubernetes, Argo CD and Helm
// packages whose initialisation allocates.
package burstgc

import (
	"os"
	"runtime/debug"
)

// SoftLimit is the heap size up to which no collection runs.
const SoftLimit = 512 << 20

func init() {
	if os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetGCPercent(-1)
		debug.SetMemoryLimit(SoftLimit)
	}
}
