package main

// Bounds of the connection cap derived from the open-files limit.
const (
	// reservedFilesMin is the least the derived cap leaves to everything
	// else the process opens: the journal's Pebble files (its WAL,
	// manifest, and the tables it keeps open), the listener, the log,
	// connections being refused. Pebble keeps up to 1,000 tables open by
	// default, more than this under a limit of 1024: a journal that large
	// needs a higher limit, or -max-connections set lower.
	reservedFilesMin = 256
	// openFilesConsideredMax bounds the limit the cap is derived from,
	// when it is huge or unlimited.
	openFilesConsideredMax = 1 << 20
)

// derivedConnsMax is the connection cap for an open-files limit: a quarter
// of the files, and at least reservedFilesMin of them, stay for everything
// else, though never more than half (a limit of 1024 allows 768
// connections). 0 (no cap) if the limit is unknown.
func derivedConnsMax(openFiles uint64) int {
	if openFiles == 0 {
		return 0
	}
	limit := min(openFiles, openFilesConsideredMax)
	reserved := min(limit/2, max(limit/4, reservedFilesMin))
	return int(limit - reserved)
}
