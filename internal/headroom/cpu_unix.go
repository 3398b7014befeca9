//go:build unix

package headroom

import (
	"syscall"
	"time"
)

// rusageCPU returns the user and system CPU time of the process's
// threads so far (0 if it cannot be read).
func rusageCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
