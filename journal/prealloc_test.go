//go:build linux

package journal_test

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baconator/baconator/journal"
)

// diskBytes is what the files under dir take on disk (allocated blocks,
// as du counts them), not their apparent size.
func diskBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var total int64
	require.NoError(t, filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			total += st.Blocks * 512
		}
		return nil
	}))
	return total
}

// A small warehouse takes a small directory: Pebble reserved 70 MiB
// ahead of each write-ahead log, 141 MB for a journal holding 1 MB.
func TestASmallJournalTakesLittleDisk(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	j, err := journal.Open(dir, journal.Options{})
	require.NoError(t, err)
	var b journal.Batch
	for i := range 2000 {
		b.PutPallet(pallet(fmt.Sprintf("P-%04d", i)))
	}
	require.NoError(t, j.Commit(&b))
	assert.Less(t, diskBytes(t, dir), int64(8<<20), "with the log open")
	require.NoError(t, j.Close())
	assert.Less(t, diskBytes(t, dir), int64(8<<20), "after a clean stop")
}
