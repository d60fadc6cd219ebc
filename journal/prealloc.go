package journal

import "github.com/cockroachdb/pebble/v2/vfs"

// noPreallocFS keeps Pebble from reserving disk ahead of its write-ahead
// log. Pebble reserves 110% of the memtable for each log (70 MiB with
// ours) plus as much for each log it keeps to recycle, so a warehouse of
// 1 MB took 141 MB on disk from its first start. Without the reservation
// the log takes the space it uses; durable intake measured the same
// (docs/performance.md, "Disk at rest").
type noPreallocFS struct{ vfs.FS }

func (fs noPreallocFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, category)
	return wrapNoPrealloc(f, err)
}

func (fs noPreallocFS) ReuseForWrite(oldname, newname string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname, category)
	return wrapNoPrealloc(f, err)
}

func (fs noPreallocFS) OpenReadWrite(name string, category vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := fs.FS.OpenReadWrite(name, category, opts...)
	return wrapNoPrealloc(f, err)
}

func wrapNoPrealloc(f vfs.File, err error) (vfs.File, error) {
	if err != nil {
		return nil, err
	}
	return noPreallocFile{f}, nil
}

type noPreallocFile struct{ vfs.File }

func (noPreallocFile) Preallocate(offset, length int64) error { return nil }
