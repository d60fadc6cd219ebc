// Package loadtest drives a running Baconator server the way its clients
// do and reports what happened: closed-loop clients or an open-loop arrival
// rate (free of coordinated omission), every accepted order followed to its
// end, accept and completion latencies in HdrHistograms, the server's own
// conflict and retry counters, and an audit of the invariants afterwards,
// through the public API only. cmd/loadgen is its command line.
package loadtest
