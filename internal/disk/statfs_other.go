//go:build !unix

package disk

// statfs is not implemented here: the guard never reports low space.
func statfs(string) (Space, bool) { return Space{}, false }
