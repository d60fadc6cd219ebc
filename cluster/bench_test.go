package cluster

import (
	"context"
	"flag"
	"fmt"
	"testing"
	"time"

	"github.com/baconator/baconator/actors"
	"github.com/baconator/baconator/journal"
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

// BenchmarkTakeover times a partition's takeover — its commits replayed
// into a fresh journal, an engine recovered from it, the intake opened —
// after an owner committed -takeover.orders orders in groups of 100.
//
//	go test -run '^$' -bench '^BenchmarkTakeover$' -benchtime 3x ./cluster/ -takeover.orders 10000
func BenchmarkTakeover(b *testing.B) {
	nodes := startClusterB(b, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cfg := actors.DefaultConfig()
	cfg.Chaos.Interval = 0
	const p = 3
	first, err := Own(ctx, nodes[0].JetStream(), p, cfg)
	if err != nil {
		b.Fatal(err)
	}
	j := first.journal
	for g := range *takeoverOrders / 100 {
		var batch journal.Batch
		for i := range 100 {
			batch.PutOrder(order(fmt.Sprintf("o-%d-%d", g, i)), "")
		}
		if err := j.Commit(&batch); err != nil {
			b.Fatal(err)
		}
	}
	if *takeoverCheckpoint {
		if err := first.Checkpoint(ctx); err != nil {
			b.Fatal(err)
		}
	}
	if err := first.Close(ctx); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		pt, err := Own(ctx, nodes[1+i%2].JetStream(), p, cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := pt.Close(ctx); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/takeover")
}

var (
	takeoverOrders     = flag.Int("takeover.orders", 10000, "orders in the partition BenchmarkTakeover takes over")
	takeoverCheckpoint = flag.Bool("takeover.checkpoint", false, "BenchmarkTakeover: the partition has a checkpoint of its last commit")
)
