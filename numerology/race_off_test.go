//go:build !race

package numerology

// raceSlowdown scales the wall-clock bounds of tests; 1 without the race
// detector.
const raceSlowdown = 1
