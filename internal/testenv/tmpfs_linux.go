package testenv

import (
	"syscall"
	"testing"
)

// Tmpfs mounts a tmpfs of size (such as "64m") on a fresh directory and
// returns it, unmounted when t ends: a small filesystem a test can fill
// up. Mounting needs root; without it the test is skipped, saying so.
func Tmpfs(t testing.TB, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("mounting a %s tmpfs needs root (run as root, as .ci/run does): %v", size, err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}
