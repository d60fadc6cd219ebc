package cluster

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkAccept appends orders to a partition's intake, one at a time,
// on a three-node cluster with three replicas and an fsync per write:
// the latency a 202 waits for in cluster mode.
//
//	go test -run '^$' -bench '^BenchmarkAccept$' -benchtime 2000x ./cluster/
func BenchmarkAccept(b *testing.B) {
	nodes := startClusterB(b, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var l *Log
	for {
		var err error
		if l, err = OpenLog(ctx, nodes[0].JetStream(), 0, Replicas); err == nil {
			break
		}
		if ctx.Err() != nil {
			b.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.ResetTimer()
	for i := range b.N {
		if _, _, err := l.Accept(ctx, fmt.Sprintf("o-%d", i), []byte(`{"customer":"bench","amountRequested":1}`)); err != nil {
			b.Fatal(err)
		}
	}
}
