//go:build !race

package release_test

const raceEnabled = false
