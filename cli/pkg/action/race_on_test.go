//go:build race

package action

// raceEnabled: the test binary runs under the race detector (make test).
const raceEnabled = true
