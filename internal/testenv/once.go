package testenv

import "testing"

// Missing fails t if an event of stored (counts by key) was stored more
// than once, and returns how many keys of acked were not stored yet: the
// exactly-once check of the tests that kill or cut off a server while it
// acknowledges events.
func Missing(t testing.TB, acked map[string]bool, stored map[string]int) int {
	t.Helper()
	for k, n := range stored {
		if n != 1 {
			t.Fatalf("event %s stored %d times", k, n)
		}
	}
	missing := 0
	for k := range acked {
		if stored[k] == 0 {
			missing++
		}
	}
	return missing
}
