//go:build unix

package server

import "syscall"

// fileLimit is the process's limit on open files (Go raises the soft
// limit to the hard one at start), or 0 when it cannot be read.
func fileLimit() uint64 {
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) != nil {
		return 0
	}
	return rl.Cur
}
