//go:build unix && !linux

package headroom

import "time"

// usage returns the process's CPU time so far; how long its threads
// waited for a CPU is not known here.
func usage() (cpu, waiting time.Duration) { return rusageCPU(), 0 }
