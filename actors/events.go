package actors

import "github.com/baconator/baconator/journal"

// Events returns up to max committed events after the id after: the
// journal's event log, which is what the live stream serves (see
// journal.Journal.Events for the gap).
func (e *Engine) Events(after uint64, max int) ([]journal.Event, uint64, error) {
	return e.journal.Events(after, max)
}

// EventsHead is the newest committed event's id and a channel closed when
// a newer one is committed.
func (e *Engine) EventsHead() (uint64, <-chan struct{}) { return e.journal.EventsHead() }
