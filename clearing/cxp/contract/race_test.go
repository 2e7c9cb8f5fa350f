//go:build race

package contract

// raceEnabled: the race detector makes the n = 4 exploration several times
// slower, so TestFairnessFour skips under it (deploy/test runs it without -race).
const raceEnabled = true
