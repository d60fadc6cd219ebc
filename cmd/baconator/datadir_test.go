package main

import (
	"context"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baconator/baconator/journal"
)

// TestALockLeftByAFirstStartDoesNotStopStartUp: `touch D/LOCK` is what a
// first start killed at once leaves; the next start claims D.
func TestALockLeftByAFirstStartDoesNotStopStartUp(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "LOCK"), nil, 0o644))
	base, logs, stop := startServer(t, "-data-dir", dir, "-seed-pallets", "3", "-chaos-interval", "0")
	waitReady(t, base)
	assert.Contains(t, logs.String(), "[SYSTEM] Warehouse seeded: 3 pallets")
	require.NoError(t, stop())
}

// TestAFirstStartKilledEarlyStartsAgain kills the real server binary with
// SIGKILL at seeded moments of its very first start on an empty data
// directory, while Pebble may be creating its files, and requires the next
// start to become ready on what it left.
func TestAFirstStartKilledEarlyStartsAgain(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the server binary")
	}
	// Bounds: each cycle is a killed start and a whole one.
	const killCycles = 12
	bin := buildServer(t)
	seed := *crashSeed
	rng := rand.New(rand.NewPCG(seed, 0xf125))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("replay with: go test ./cmd/baconator -run '%s' -crash-seed %d", t.Name(), seed)
		}
	})
	// The moments that matter are the few milliseconds in which Pebble
	// creates its files, well after the process has started: between the
	// log line written just before the journal is opened and the one just
	// after. One whole first start measures how long that is on this
	// machine, now; each cycle then kills a start a seeded part of it
	// after the first line.
	probe := launch(t, bin, serverArgs(filepath.Join(t.TempDir(), "data"), seed)...)
	probe.waitLog(t, "[SYSTEM] Random seed")
	opening := time.Now()
	probe.waitLog(t, "[SYSTEM] Journal in")
	spread := time.Since(opening)
	probe.kill(t)
	for cycle := range killCycles {
		dir := filepath.Join(t.TempDir(), "data")
		after := time.Duration(rng.Int64N(int64(spread) + 1))
		first := launch(t, bin, serverArgs(dir, seed)...)
		first.waitLog(t, "[SYSTEM] Random seed")
		// The kill moment is the test's input, not synchronization: any
		// moment must do.
		time.Sleep(after)
		first.kill(t)
		t.Logf("cycle %d: killed %v into opening the journal (%v on a whole start), leaving %v", cycle, after, spread, listDir(dir))
		startBinary(t, bin, dir, seed).stop(t)
	}
}

func listDir(dir string) []string {
	entries, _ := os.ReadDir(dir) // a directory not yet made lists nothing
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestADataDirInUseIsRefused: a second server on a data directory another
// one has open says so, naming the lock, and exits non-zero; the first
// keeps serving.
func TestADataDirInUseIsRefused(t *testing.T) {
	t.Run("in this process", func(t *testing.T) {
		dir := t.TempDir()
		base, _, stop := startServer(t, "-data-dir", dir, "-seed-pallets", "3", "-chaos-interval", "0")
		waitReady(t, base)
		err := run(context.Background(), []string{"-addr", "127.0.0.1:0", "-data-dir", dir}, io.Discard, io.Discard, nil)
		require.ErrorIs(t, err, journal.ErrLocked)
		require.ErrorContains(t, err, "data directory in use: "+filepath.Join(dir, "LOCK")+" is locked by another")
		waitReady(t, base)
		require.NoError(t, stop())
	})
	t.Run("by another process", func(t *testing.T) {
		if testing.Short() {
			t.Skip("builds the server binary")
		}
		bin := buildServer(t)
		dir := t.TempDir()
		first := startBinary(t, bin, dir, 1)
		second := launch(t, bin, serverArgs(dir, 2)...)
		err := second.exit(t)
		require.Error(t, err, "a second server exits non-zero")
		log := second.logs.String()
		require.Contains(t, log, "data directory in use: "+filepath.Join(dir, "LOCK")+" is locked by another process")
		require.Contains(t, log, "stop the other server or choose another -data-dir")
		require.NotContains(t, log, "Listening", "it never listened")
		first.waitReady(t)
		first.stop(t)
	})
}
