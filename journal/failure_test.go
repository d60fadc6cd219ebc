package journal_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/stretchr/testify/require"

	"github.com/baconator/baconator/journal"
)

// flakyReplica refuses every Append once refuse is set (a deposed owner).
type flakyReplica struct{ refuse atomic.Bool }

func (r *flakyReplica) Append([]byte) error {
	if r.refuse.Load() {
		return errors.New("fenced")
	}
	return nil
}

// syncGate holds WAL syncs while hold is set, until release is closed:
// a group stays written and unsynced for as long as a test needs.
type syncGate struct {
	hold    atomic.Bool
	blocked chan struct{} // one send per blocked sync
	release chan struct{}
}

func newGatedFS() (vfs.FS, *syncGate) {
	g := &syncGate{blocked: make(chan struct{}, 100), release: make(chan struct{})}
	fs := errorfs.Wrap(vfs.NewMem(), errorfs.InjectorFunc(func(op errorfs.Op) error {
		switch op.Kind {
		case errorfs.OpFileSync, errorfs.OpFileSyncData, errorfs.OpFileSyncTo:
			if strings.HasSuffix(op.Path, ".log") && g.hold.Load() {
				g.blocked <- struct{}{}
				<-g.release
			}
		}
		return nil
	}))
	return fs, g
}

// aAckedBInFlightCRefused commits A, then writes B and holds its sync,
// then has the replica refuse C: the journal has failed with B in flight.
// Release the gate to let B land; bDone and cDone carry their answers.
func aAckedBInFlightCRefused(t *testing.T) (j *journal.Journal, fs vfs.FS, gate *syncGate, bDone, cDone chan error) {
	t.Helper()
	fs, gate = newGatedFS()
	rep := &flakyReplica{}
	j, err := journal.Open("data", journal.Options{FS: fs, Replica: rep})
	require.NoError(t, err)
	require.NoError(t, commitOrder(j, "A"))
	gate.hold.Store(true)
	bDone, cDone = make(chan error, 1), make(chan error, 1)
	go func() { bDone <- commitOrder(j, "B") }()
	<-gate.blocked // B's sync is held: B is in flight
	rep.refuse.Store(true)
	go func() { cDone <- commitOrder(j, "C") }()
	require.Eventually(t, func() bool { return j.Err() != nil }, 5*time.Second, time.Millisecond)
	return j, fs, gate, bDone, cDone
}

func commitOrder(j *journal.Journal, id string) error {
	var b journal.Batch
	b.PutOrder(order(id), "")
	return j.Commit(&b)
}

// Group A is acknowledged. Group B is written and syncing. Group C is
// refused by the replica: the journal fails. A was acknowledged, so it
// must still be read back.
func TestAnAcknowledgedGroupIsReadBackRightAfterALaterOneFails(t *testing.T) {
	j, _, gate, bDone, cDone := aAckedBInFlightCRefused(t)

	read := make(chan bool, 1)
	go func() { _, ok, _ := j.Order("A"); read <- ok }()
	// Give the read a moment to start while B is in flight: right, it
	// waits for B to land; wrong, it answers from a stale snapshot. The
	// outcome never depends on the pause, only whether a wrong answer is
	// caught does.
	time.Sleep(20 * time.Millisecond)
	gate.hold.Store(false)
	close(gate.release)
	okA := <-read
	errB, errC := <-bDone, <-cDone
	t.Logf("B: %v; C: %v", errB, errC)
	_, okA2, _ := j.Order("A")
	_ = j.Close()
	require.True(t, okA2, "A is read back once B has landed")
	require.True(t, okA, "acknowledged A is read back right after the failure")
}

// Readers after a failure never hold a fallback snapshot that is then
// replaced and closed under them (Pebble panics: "pebble: closed").
func TestReadsNeverUseAFallbackSnapshotBeingReplaced(t *testing.T) {
	j, _, gate, bDone, cDone := aAckedBInFlightCRefused(t)

	var stop atomic.Bool
	var panics atomic.Int64
	var firstPanic atomic.Value
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for !stop.Load() {
				func() {
					defer func() {
						if r := recover(); r != nil {
							if panics.Add(1) == 1 {
								firstPanic.Store(fmt.Sprint(r))
							}
						}
					}()
					_, _, _ = j.Order("A")
				}()
			}
		})
	}
	time.Sleep(20 * time.Millisecond) // readers run while B is in flight (see above)
	gate.hold.Store(false)
	close(gate.release)
	<-bDone
	<-cDone
	time.Sleep(20 * time.Millisecond) // and on while B lands
	stop.Store(true)
	wg.Wait()
	_ = j.Close()
	require.Zero(t, panics.Load(), "a read panicked: %v", firstPanic.Load())
}

// B is written, synced and replicated before C is refused: B's answer
// and what a restart reads back agree.
func TestAGroupIsReadBackAfterARestartOnlyIfAcknowledged(t *testing.T) {
	j, fs, gate, bDone, cDone := aAckedBInFlightCRefused(t)
	gate.hold.Store(false)
	close(gate.release)
	errB := <-bDone
	<-cDone
	_ = j.Close()

	j2, err := journal.Open("data", journal.Options{FS: fs})
	require.NoError(t, err)
	defer j2.Close()
	_, okB, err := j2.Order("B")
	require.NoError(t, err)
	require.Equal(t, errB == nil, okB, "B is read back after a restart iff it was acknowledged (err %v)", errB)
}

// The very first group is written and syncing when the next one is
// refused: a read must not show A before its answer is known, and must
// agree with it.
func TestTheFirstGroupIsNotReadBeforeItIsAcknowledged(t *testing.T) {
	fs, gate := newGatedFS()
	rep := &flakyReplica{}
	j, err := journal.Open("data", journal.Options{FS: fs, Replica: rep})
	require.NoError(t, err)

	gate.hold.Store(true)
	aDone := make(chan error, 1)
	go func() { aDone <- commitOrder(j, "A") }()
	<-gate.blocked
	rep.refuse.Store(true)
	cDone := make(chan error, 1)
	go func() { cDone <- commitOrder(j, "C") }()
	require.Eventually(t, func() bool { return j.Err() != nil }, 5*time.Second, time.Millisecond)

	read := make(chan bool, 1)
	go func() { _, ok, _ := j.Order("A"); read <- ok }()
	time.Sleep(20 * time.Millisecond) // the read starts while A is in flight (see above)
	gate.hold.Store(false)
	close(gate.release)
	okA := <-read
	errA := <-aDone
	<-cDone
	_ = j.Close()
	require.Equal(t, errA == nil, okA, "A is read back iff it was acknowledged (err %v)", errA)
}
