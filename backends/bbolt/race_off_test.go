//go:build !race

package bbolt_test

const raceEnabled = false
