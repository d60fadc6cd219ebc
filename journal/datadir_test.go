package journal_test

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/stretchr/testify/require"

	"github.com/baconator/baconator/journal"
)

var firstStartSeed = flag.Uint64("first-start-seed", 1, "seed of the power losses in TestAFirstStartCutShortAtAnyStepIsClaimed")

// filesystems are the two the journal runs on: Pebble's in-memory one and
// the operating system's, each with a directory of its own for dir.
func filesystems(t *testing.T) map[string]func(t *testing.T) (vfs.FS, string) {
	return map[string]func(t *testing.T) (vfs.FS, string){
		"memory": func(t *testing.T) (vfs.FS, string) { return vfs.NewMem(), "data" },
		"disk":   func(t *testing.T) (vfs.FS, string) { return vfs.Default, filepath.Join(t.TempDir(), "data") },
	}
}

// firstStart is what Pebble leaves in a directory it created and closed
// with nothing written: file name → content.
func firstStart(t *testing.T) map[string][]byte {
	t.Helper()
	fs := vfs.NewMem()
	db, err := pebble.Open("ref", &pebble.Options{FS: fs, Logger: quiet{}})
	require.NoError(t, err)
	require.NoError(t, db.Close())
	names, err := fs.List("ref")
	require.NoError(t, err)
	files := map[string][]byte{}
	for _, name := range names {
		files[name] = readFile(t, fs, fs.PathJoin("ref", name))
	}
	return files
}

// named returns the one file name in files that starts with prefix.
func named(t *testing.T, files map[string][]byte, prefix string) string {
	t.Helper()
	var found []string
	for name := range files {
		if strings.HasPrefix(name, prefix) {
			found = append(found, name)
		}
	}
	require.Len(t, found, 1, "files named %s*", prefix)
	return found[0]
}

func readFile(t *testing.T, fs vfs.FS, path string) []byte {
	t.Helper()
	f, err := fs.Open(path)
	require.NoError(t, err)
	defer f.Close()
	b, err := io.ReadAll(f)
	require.NoError(t, err)
	return b
}

// writeDir makes dir hold exactly files (nil: no directory at all).
func writeDir(t *testing.T, fs vfs.FS, dir string, files map[string][]byte) {
	t.Helper()
	if files == nil {
		return
	}
	require.NoError(t, fs.MkdirAll(dir, 0o755))
	for name, content := range files {
		f, err := fs.Create(fs.PathJoin(dir, name), vfs.WriteCategoryUnspecified)
		require.NoError(t, err)
		_, err = f.Write(bytes.Clone(content)) // Pebble's race builds scribble over what was written

		require.NoError(t, err)
		require.NoError(t, f.Close())
	}
}

func readDir(t *testing.T, fs vfs.FS, dir string) map[string][]byte {
	t.Helper()
	names, err := fs.List(dir)
	require.NoError(t, err)
	files := map[string][]byte{}
	for _, name := range names {
		files[name] = readFile(t, fs, fs.PathJoin(dir, name))
	}
	return files
}

// requireClaimed opens dir as a new journal, empty, and checks it is then
// a journal like any other: what is committed to it is there at the next
// start.
func requireClaimed(t *testing.T, fs vfs.FS, dir string) {
	t.Helper()
	j, err := journal.Open(dir, journal.Options{FS: fs})
	require.NoError(t, err, "a directory only a first start wrote to is claimed")
	st, err := j.LoadHistory()
	require.NoError(t, err)
	require.Empty(t, st.Orders)
	require.Empty(t, st.Pallets)
	var b journal.Batch
	b.PutOrder(order("after"), "")
	require.NoError(t, j.Commit(&b))
	require.NoError(t, j.Close())

	j = open(t, fs, dir)
	defer j.Close()
	st, err = j.LoadHistory()
	require.NoError(t, err)
	require.Equal(t, []string{"after"}, orderIDs(st))
}

func orderIDs(st *journal.History) []string {
	var ids []string
	for _, o := range st.Orders {
		ids = append(ids, o.Request.ID)
	}
	return ids
}

// TestWhatAFirstStartLeavesIsClaimed: a start killed during the very first
// start leaves Pebble's files but nothing anyone was ever told about, so
// the next start claims the directory instead of refusing it. The shapes
// follow Pebble's creation order (journal/datadir.go).
func TestWhatAFirstStartLeavesIsClaimed(t *testing.T) {
	ref := firstStart(t)
	manifest := ref["MANIFEST-000001"]
	require.NotEmpty(t, manifest)
	manifestMarker := named(t, ref, "marker.manifest.")
	formatMarker := named(t, ref, "marker.format-version.")
	options := named(t, ref, "OPTIONS-")
	with := func(base map[string][]byte, name string, content []byte) map[string][]byte {
		m := map[string][]byte{}
		for k, v := range base {
			m[k] = v
		}
		m[name] = content
		return m
	}
	lockOnly := map[string][]byte{"LOCK": {}}
	wholeManifest := with(lockOnly, "MANIFEST-000001", manifest)
	current := with(wholeManifest, manifestMarker, nil)
	emptyWAL := with(current, "000002.log", nil)
	formatted := with(emptyWAL, formatMarker, nil)
	shapes := []struct {
		name  string
		files map[string][]byte
	}{
		{"no directory", nil},
		{"an empty directory", map[string][]byte{}},
		{"LOCK only (touch LOCK)", lockOnly},
		{"an empty MANIFEST", with(lockOnly, "MANIFEST-000001", nil)},
		{"a partial MANIFEST", with(lockOnly, "MANIFEST-000001", manifest[:len(manifest)/2])},
		{"a MANIFEST a power loss left as zeros", with(lockOnly, "MANIFEST-000001", make([]byte, len(manifest)))},
		{"a whole MANIFEST not yet current", wholeManifest},
		{"the marker of a MANIFEST a power loss dropped", with(lockOnly, manifestMarker, nil)},
		{"a current MANIFEST, no WAL yet", current},
		{"a WAL with no records", emptyWAL},
		{"a format version", formatted},
		{"a half-written OPTIONS temporary file", with(formatted, "temporary.000003.dbtmp", ref[options][:len(ref[options])/2])},
		{"OPTIONS, no mark yet", with(formatted, options, ref[options])},
		{"a WAL closed with no records", with(with(formatted, options, ref[options]), "000002.log", ref["000002.log"])},
	}
	for fsName, newFS := range filesystems(t) {
		t.Run(fsName, func(t *testing.T) {
			for _, s := range shapes {
				t.Run(s.name, func(t *testing.T) {
					fs, dir := newFS(t)
					writeDir(t, fs, dir, s.files)
					requireClaimed(t, fs, dir)
				})
			}
		})
	}
}

// TestAFirstStartCutShortAtAnyStepIsClaimed runs a whole first start (open,
// mark, close) on a filesystem that can simulate a crash, and takes a crash
// image before every write it makes: as a SIGKILL leaves it (everything
// written so far), as a power loss does (only what was synced), and with a
// seeded share of unsynced writes surviving. Every image must open as an
// empty journal.
func TestAFirstStartCutShortAtAnyStepIsClaimed(t *testing.T) {
	seed := *firstStartSeed
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("replay with: go test ./journal -run '%s' -first-start-seed %d", t.Name(), seed)
		}
	})
	rng := rand.New(rand.NewPCG(seed, 0xf125))
	mem := vfs.NewCrashableMem()
	type image struct {
		name string
		fs   *vfs.MemFS
	}
	var mu sync.Mutex
	var images []image
	take := func(step string) {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range []struct {
			name string
			cfg  vfs.CrashCloneCfg
		}{
			{"killed", vfs.CrashCloneCfg{UnsyncedDataPercent: 100, RNG: rng}},
			{"power lost", vfs.CrashCloneCfg{}},
			{"power lost, some writes kept", vfs.CrashCloneCfg{UnsyncedDataPercent: 50, RNG: rng}},
		} {
			images = append(images, image{fmt.Sprintf("%s before #%d %s", c.name, len(images)/3, step), mem.CrashClone(c.cfg)})
		}
	}
	fs := errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
		if op.Kind.ReadOrWrite() == errorfs.OpIsWrite {
			take(fmt.Sprintf("%v %s", op.Kind, op.Path))
		}
		return nil
	}))
	j, err := journal.Open("data", journal.Options{FS: fs})
	require.NoError(t, err)
	require.NoError(t, j.Close())
	take("nothing: the first start ended")
	// Bounds the test: a first start makes a few dozen writes.
	const imagesMax = 3 * 200
	require.Less(t, len(images), imagesMax)
	require.Greater(t, len(images), 3*10, "the first start was seen writing")

	for _, img := range images {
		j, err := journal.Open("data", journal.Options{FS: img.fs})
		require.NoError(t, err, img.name)
		st, err := j.LoadHistory()
		require.NoError(t, err, img.name)
		require.Empty(t, st.Orders, img.name)
		require.NoError(t, j.Close(), img.name)
		j, err = journal.Open("data", journal.Options{FS: img.fs})
		require.NoError(t, err, "%s: claimed, then opened again", img.name)
		require.NoError(t, j.Close(), img.name)
	}
}

// TestSomeoneElsesDirectoryIsRefusedUntouched: a directory holding anything
// a first start does not leave is refused, named, and not written to — no
// LOCK, no manifest.
func TestSomeoneElsesDirectoryIsRefusedUntouched(t *testing.T) {
	ref := firstStart(t)
	manifest := ref["MANIFEST-000001"]
	cases := []struct {
		name  string
		files map[string][]byte
		says  string
	}{
		{"a file of someone else's", map[string][]byte{"notes.txt": []byte("hello")}, "holds notes.txt"},
		{"someone else's files beside a LOCK", map[string][]byte{"LOCK": nil, "a": nil, "b": nil, "c": nil, "d": nil}, "holds a, b, c and 1 more"},
		{"a LOCK with something in it", map[string][]byte{"LOCK": []byte("pid 42")}, "LOCK is not empty"},
		{"a MANIFEST no first start wrote", map[string][]byte{"LOCK": nil, "MANIFEST-000001": []byte("not a manifest")}, "MANIFEST-000001 is not current"},
		{"a MANIFEST longer than a first start's", map[string][]byte{"MANIFEST-000001": append(append([]byte{}, manifest...), 'x')}, "MANIFEST-000001 is not current"},
		{"a later MANIFEST, not current", map[string][]byte{"LOCK": nil, "MANIFEST-000007": manifest}, "holds MANIFEST-000007"},
		{"a CURRENT file (RocksDB, LevelDB or an old Pebble)", map[string][]byte{"CURRENT": []byte("MANIFEST-000001\n"), "MANIFEST-000001": manifest}, "holds CURRENT"},
		{"a WAL with no current manifest", map[string][]byte{"LOCK": nil, "000002.log": []byte("records")}, "holds 000002.log"},
		{"a table with no current manifest", map[string][]byte{"000005.sst": []byte("table")}, "holds 000005.sst"},
	}
	for fsName, newFS := range filesystems(t) {
		t.Run(fsName, func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					fs, dir := newFS(t)
					writeDir(t, fs, dir, c.files)
					before := readDir(t, fs, dir)
					_, err := journal.Open(dir, journal.Options{FS: fs})
					require.ErrorIs(t, err, journal.ErrCorrupt)
					require.ErrorContains(t, err, dir, "the message says where")
					require.ErrorContains(t, err, c.says, "and why")
					require.Equal(t, before, readDir(t, fs, dir), "nothing written, nothing added")
				})
			}
		})
	}
}

// TestADirectoryInUseIsRefused: one journal at a time writes a directory;
// a second is told the directory is in use and which lock says so, and
// gets it once the first has closed.
func TestADirectoryInUseIsRefused(t *testing.T) {
	for fsName, newFS := range filesystems(t) {
		t.Run(fsName, func(t *testing.T) {
			fs, dir := newFS(t)
			first := open(t, fs, dir)
			_, err := journal.Open(dir, journal.Options{FS: fs})
			require.ErrorIs(t, err, journal.ErrLocked)
			require.NotErrorIs(t, err, journal.ErrCorrupt)
			require.ErrorContains(t, err, "data directory in use: "+fs.PathJoin(dir, "LOCK")+" is locked by another")
			require.NoError(t, first.Close())
			second := open(t, fs, dir)
			require.NoError(t, second.Close())
		})
	}
	t.Run("while its first start is under way", func(t *testing.T) {
		dir := t.TempDir()
		lock, err := pebble.LockDirectory(dir, vfs.Default) // as a first start holds it, before anything else is written
		require.NoError(t, err)
		_, err = journal.Open(dir, journal.Options{})
		require.ErrorIs(t, err, journal.ErrLocked, "not claimed from under the start that holds it")
		require.NoError(t, lock.Close())
		requireClaimed(t, vfs.Default, dir)
	})
}
