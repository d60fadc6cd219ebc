package main

// Bounds of the connection cap derived from the open-files limit.
const (
	// reservedFilesMin is the least the derived cap leaves to everything
	// else the process opens: the journal's Pebble files (its WAL,
	// manifest, and the tables it keeps open), the listener, the log,
	// connections being refused.
	reservedFilesMin = 256
	// derivedConnsMax bounds the derived cap when the limit is huge or
	// unlimited.
	derivedConnsMax = 1 << 20
)

// derivedMaxConns is the connection cap for an open-files limit: a quarter
// of the files, and at least reservedFilesMin of them, stay for everything
// else, though never more than half (a limit of 1024 allows 768
// connections). 0 (no cap) if the limit is unknown.
func derivedMaxConns(openFiles uint64) int {
	if openFiles == 0 {
		return 0
	}
	limit := min(openFiles, derivedConnsMax)
	reserved := min(limit/2, max(limit/4, reservedFilesMin))
	return int(limit - reserved)
}
