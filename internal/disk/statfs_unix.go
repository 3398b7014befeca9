//go:build unix

package disk

import "syscall"

// statfs reads the size and the space available to this process of the
// filesystem holding dir.
func statfs(dir string) (Space, bool) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return Space{}, false
	}
	bs := uint64(st.Bsize)
	return Space{Total: uint64(st.Blocks) * bs, Free: uint64(st.Bavail) * bs}, true
}
