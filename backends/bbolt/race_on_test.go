//go:build race

package bbolt_test

// raceEnabled: the race detector reserves terabytes of address space, so
// tests that limit the address space cannot run under it.
const raceEnabled = true
