//go:build race

package engine_test

// raceEnabled says the race detector is on: tests that repeat
// single-goroutine work thousands of times do less of it.
const raceEnabled = true
