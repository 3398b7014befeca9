//go:build race

package testenv

// Race reports whether the race detector is on: tests that push volume
// through the stack push less under it.
const Race = true
