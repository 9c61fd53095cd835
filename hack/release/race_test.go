//go:build race

package release_test

// raceEnabled: the test binary runs under the race detector, so the packages of a `go build
// -race` are already in the build cache (make test runs with -race).
const raceEnabled = true
