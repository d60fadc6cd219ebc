//go:build !unix

package main

// openFilesLimit is 0 where there is no open-files limit to read: the
// connection cap is then off unless -max-connections sets one.
func openFilesLimit() uint64 { return 0 }
