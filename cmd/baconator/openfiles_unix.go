//go:build unix

package main

import "syscall"

// openFilesLimit is the process's open-files limit (RLIMIT_NOFILE, whose
// soft limit the Go runtime raises to the hard one at start), or 0 if it
// cannot be read.
func openFilesLimit() uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	return lim.Cur
}
