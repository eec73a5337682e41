//go:build race

package numerology

// raceSlowdown scales the wall-clock bounds of tests: code built with the
// race detector runs several times slower (2–20×, by its documentation).
const raceSlowdown = 10
