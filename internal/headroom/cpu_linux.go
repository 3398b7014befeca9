package headroom

import (
	"bytes"
	"os"
	"strconv"
	"time"
)

// usage returns how long the process's threads have run so far and how
// long they waited, runnable, for a CPU the machine had given to another
// process (the kernel's per-thread schedstat). The waiting is what tells
// a saturated machine apart from a quiet process on it: a server that
// shares two cores with a load generator never uses both, yet has none
// to spare. Without schedstat it falls back to the CPU time alone.
func usage() (cpu, waiting time.Duration) {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return rusageCPU(), 0
	}
	for _, task := range tasks {
		b, err := os.ReadFile("/proc/self/task/" + task.Name() + "/schedstat")
		if err != nil {
			continue // the thread exited meanwhile
		}
		f := bytes.Fields(b)
		if len(f) < 2 {
			return rusageCPU(), 0
		}
		run, err1 := strconv.ParseInt(string(f[0]), 10, 64)
		wait, err2 := strconv.ParseInt(string(f[1]), 10, 64)
		if err1 != nil || err2 != nil {
			return rusageCPU(), 0
		}
		cpu += time.Duration(run)
		waiting += time.Duration(wait)
	}
	return cpu, waiting
}
