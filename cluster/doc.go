// Package cluster is the ground the multi-node mode stands on: NATS
// JetStream embedded in each node as the replicated system of record,
// SKUs hashed into a fixed number of partitions, one owner per partition
// by a lease, and a per-partition log whose commits are fenced, so that a
// deposed owner's write is refused by the store itself, never applied.
//
// The engine is not wired to it yet (docs/cluster.md says what is built
// and what is next); single-node mode does not import it.
//
// Why JetStream and a fence rather than a protocol of our own: placement
// can be loose — two nodes may both believe they own a partition for a
// moment — as long as the store rejects the stale one's writes. Each
// partition's stream carries two subjects: intake (any node appends an
// accepted order, deduplicated by its id as Nats-Msg-Id) and commits
// (only the owner appends, each append naming the commit sequence it
// follows; JetStream refuses it if another commit came first).
package cluster
