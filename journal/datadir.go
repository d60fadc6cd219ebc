package journal

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// What a first start leaves behind.
//
// Pebble (v2.1.7, open.go and version_set.go) creates a database in this
// order, and the journal then writes its mark:
//
//  1. the directory, its parent synced; LOCK, empty, locked with fcntl;
//  2. MANIFEST-000001: one record, written and synced;
//  3. marker.manifest.000001.MANIFEST-000001, then the directory synced:
//     from here on the database exists and Pebble opens it;
//  4. the WAL 000002.log, empty;
//  5. marker.format-version.000001.NNN;
//  6. temporary.000003.dbtmp, synced, renamed to OPTIONS-000003;
//  7. the journal's mark (formatKey) in the WAL, synced.
//
// A start killed before step 3 ends leaves LOCK and perhaps a
// MANIFEST-000001 that is empty, partial or whole but not current; a power
// loss inside step 3 can even keep the marker's directory entry and lose
// the manifest's, which was never synced. Pebble refuses all of these (the
// database does not exist, or its manifest is missing), yet nothing was
// ever written to them: such a directory is claimed as fresh, emptied of
// the leftovers and created anew. A start killed after step 3 leaves a
// database with no key at all, which checkFormat claims. Pebble v2 never
// writes CURRENT (RocksDB, LevelDB and Pebble's first format do), so a
// directory holding one is someone else's and is refused like any other.
const (
	lockName             = "LOCK"
	firstManifestName    = "MANIFEST-000001"
	manifestMarkerPrefix = "marker.manifest."
	firstManifestMarker  = manifestMarkerPrefix + "000001." + firstManifestName
)

// dirState is what a data directory holds, as far as opening it goes.
type dirState int

const (
	dirMissing  dirState = iota // nothing there yet
	dirFresh                    // empty, or only what a first start leaves before step 3 ends
	dirDatabase                 // a Pebble database: Pebble and checkFormat judge it
)

// foreignNamesShown bounds how many foreign file names a refusal lists.
const foreignNamesShown = 3

// inspect says what dir holds, and refuses a directory that is neither a
// Pebble database nor what a first start leaves: it is someone else's. It
// only reads.
func inspect(fs vfs.FS, dir string) (dirState, error) {
	names, err := fs.List(dir)
	if errors.Is(err, os.ErrNotExist) {
		return dirMissing, nil
	}
	if err != nil {
		return 0, err
	}
	for _, name := range names {
		if strings.HasPrefix(name, manifestMarkerPrefix) && (name != firstManifestMarker || slices.Contains(names, firstManifestName)) {
			return dirDatabase, nil
		}
	}
	var foreign []string
	for _, name := range names {
		switch name {
		case lockName:
			// Pebble never writes into LOCK; locking it would truncate
			// whatever someone else wrote there.
			if st, err := fs.Stat(fs.PathJoin(dir, name)); err != nil {
				return 0, err
			} else if st.Size() != 0 {
				return 0, fmt.Errorf("not a journal: %s is not empty", name)
			}
		case firstManifestName:
			ok, err := isFirstManifest(fs, fs.PathJoin(dir, name))
			if err != nil {
				return 0, err
			}
			if !ok {
				return 0, fmt.Errorf("not a journal: %s is not current and not what a first start writes", name)
			}
		case firstManifestMarker:
			// Its manifest is missing (see above): it marks nothing.
		default:
			foreign = append(foreign, name)
		}
	}
	if len(foreign) > 0 {
		slices.Sort(foreign)
		shown := strings.Join(foreign[:min(len(foreign), foreignNamesShown)], ", ")
		if len(foreign) > foreignNamesShown {
			shown += fmt.Sprintf(" and %d more", len(foreign)-foreignNamesShown)
		}
		return 0, fmt.Errorf("not a journal: holds %s", shown)
	}
	return dirFresh, nil
}

// clearLeftovers removes what a first start cut short left in dir, all but
// the LOCK the caller holds, so that Pebble creates its database from
// nothing. Removing them need not be durable: a crash here leaves a subset
// of the leftovers, which the next start claims just the same.
func clearLeftovers(fs vfs.FS, dir string) error {
	names, err := fs.List(dir)
	if err != nil {
		return err
	}
	for _, name := range names {
		if name == lockName {
			continue
		}
		if err := fs.Remove(fs.PathJoin(dir, name)); err != nil {
			return err
		}
	}
	return nil
}

// isFirstManifest reports whether the file at path holds what Pebble
// writes to MANIFEST-000001 when it creates a database, or a part of it: a
// prefix, with zeros where a power loss kept the length but not the data.
func isFirstManifest(fs vfs.FS, path string) (bool, error) {
	want, err := firstManifest()
	if err != nil {
		return false, fmt.Errorf("learn the first manifest: %w", err)
	}
	f, err := fs.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	got, err := io.ReadAll(io.LimitReader(f, int64(len(want))+1))
	if err != nil {
		return false, err
	}
	if len(got) > len(want) {
		return false, nil
	}
	for i, b := range got {
		if b != want[i] && b != 0 {
			return false, nil
		}
	}
	return true, nil
}

// firstManifest is the MANIFEST-000001 Pebble writes when it creates a
// database. It is the same for every new database of one Pebble version
// (the comparer's name and the first file numbers), so it is learnt by
// creating one in memory rather than copied from Pebble's encoding.
var firstManifest = sync.OnceValues(func() ([]byte, error) {
	fs := vfs.NewMem()
	db, err := pebble.Open("db", &pebble.Options{FS: fs, Logger: pebbleLogger{slog.New(slog.DiscardHandler)}})
	if err != nil {
		return nil, err
	}
	if err := db.Close(); err != nil {
		return nil, err
	}
	f, err := fs.Open(fs.PathJoin("db", firstManifestName))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
})

// makeDir creates dir and any missing parent, syncing each parent that
// gained an entry, so that a new journal's directory survives a power loss
// as its files do (Pebble does the same when it creates one).
func makeDir(fs vfs.FS, dir string) error {
	var parents []string
	for p := fs.PathDir(dir); ; p = fs.PathDir(p) {
		parents = append(parents, p)
		if fs.PathDir(p) == p {
			break
		}
		if _, err := fs.Stat(p); err == nil {
			break
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, p := range parents {
		d, err := fs.OpenDir(p)
		if err != nil {
			return err
		}
		err = d.Sync()
		if cerr := d.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// lockDir takes dir's LOCK for the journal's whole life: one process at a
// time writes a journal. A lock someone else holds is ErrLocked.
func lockDir(fs vfs.FS, dir string) (*pebble.Lock, error) {
	lock, err := pebble.LockDirectory(dir, fs)
	if err == nil {
		return lock, nil
	}
	path := fs.PathJoin(dir, lockName)
	if holder := lockHolder(err); holder != "" {
		return nil, fmt.Errorf("open journal in %s: %w: %s is locked by %s", dir, ErrLocked, path, holder)
	}
	return nil, fmt.Errorf("open journal in %s: %w: lock %s: %v", dir, ErrCorrupt, path, err)
}

// lockHolder says who holds the lock that err reports, or "" if err is not
// about a held lock. fcntl answers EAGAIN or EACCES when another process
// holds it; an EACCES from creating the file is a permission problem
// instead. Pebble refuses a second lock within one process before asking
// the kernel (fcntl locks are per process), and says so only in words.
func lockHolder(err error) string {
	var pathErr *os.PathError
	switch {
	case errors.As(err, &pathErr):
		return ""
	case errors.Is(err, syscall.EAGAIN), errors.Is(err, syscall.EACCES):
		return "another process"
	case strings.Contains(err.Error(), "lock held by current process"):
		return "another journal in this process"
	}
	return ""
}
