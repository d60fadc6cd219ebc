package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/baconator/baconator/cluster"
	"github.com/baconator/baconator/httpapi"
	"github.com/baconator/baconator/inventory"
	"github.com/baconator/baconator/seed"
)

// clusterOptions are cluster mode's flags. Without -cluster-node the
// server is a single node, exactly as before.
type clusterOptions struct {
	node     string
	listen   string
	peers    []string
	nodes    int
	leaseTTL time.Duration
}

func (c *clusterOptions) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.node, "cluster-node", "", "cluster mode: this node's name, unique in the cluster (empty: a single node, no cluster)")
	fs.StringVar(&c.listen, "cluster-listen", "127.0.0.1:6250", "cluster mode: host:port this node's cluster routes listen on")
	fs.Func("cluster-peers", "cluster mode: every node's -cluster-listen address, this one's included, comma separated (at least 3)", func(v string) error {
		c.peers = nil
		for p := range strings.SplitSeq(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				c.peers = append(c.peers, p)
			}
		}
		return nil
	})
	fs.IntVar(&c.nodes, "cluster-nodes", 0, "cluster mode: how many nodes the cluster is meant to have (0: as many as -cluster-peers)")
	fs.DurationVar(&c.leaseTTL, "cluster-lease-ttl", 2*time.Second, "cluster mode: how long a partition's lease lasts unrenewed; a dead node's partitions move after about this long")
}

func (c clusterOptions) on() bool { return c.node != "" }

var nodeName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// check validates cluster mode's flags.
func (c *clusterOptions) check(dataDir string) error {
	if !c.on() {
		if len(c.peers) > 0 {
			return fmt.Errorf("%w: -cluster-peers without -cluster-node: name this node to run a cluster", errUsage)
		}
		return nil
	}
	if !nodeName.MatchString(c.node) {
		return fmt.Errorf("%w: -cluster-node %q: 1 to 64 letters, digits, - or _", errUsage, c.node)
	}
	if _, _, err := splitHostPort(c.listen); err != nil {
		return fmt.Errorf("%w: -cluster-listen %q: %v", errUsage, c.listen, err)
	}
	if len(c.peers) < cluster.Replicas {
		return fmt.Errorf("%w: -cluster-peers: %d addresses; a cluster keeps %d replicas and needs at least %d nodes", errUsage, len(c.peers), cluster.Replicas, cluster.Replicas)
	}
	for _, p := range c.peers {
		if _, _, err := splitHostPort(p); err != nil {
			return fmt.Errorf("%w: -cluster-peers %q: %v", errUsage, p, err)
		}
	}
	c.nodes = cmp.Or(c.nodes, len(c.peers))
	switch {
	case c.nodes < 1:
		return fmt.Errorf("%w: -cluster-nodes %d: must be positive", errUsage, c.nodes)
	case c.leaseTTL < 300*time.Millisecond:
		return fmt.Errorf("%w: -cluster-lease-ttl %s: at least 300ms", errUsage, c.leaseTTL)
	case dataDir == inMemory:
		return fmt.Errorf("%w: -data-dir %s: a cluster node keeps its log on disk; give each node a directory of its own", errUsage, inMemory)
	}
	return nil
}

func splitHostPort(addr string) (string, int, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return "", 0, fmt.Errorf("port %q: want 1 to 65535", port)
	}
	return host, n, nil
}

// runCluster is a cluster node: an embedded NATS server with JetStream,
// its share of the partitions, each an engine, and the HTTP gateway that
// serves the same API as a single node from every node.
func runCluster(ctx context.Context, o options, log *slog.Logger, keys httpapi.Keys, onListen func(addr string)) error {
	host, port, _ := splitHostPort(o.cluster.listen)
	node, err := cluster.StartNode(cluster.NodeConfig{Name: o.cluster.node, Host: host, Port: -1, Cluster: port,
		Routes: o.cluster.peers, DataDir: o.dataDir})
	if err != nil {
		return err
	}
	defer node.Close()
	log.Info(fmt.Sprintf("[CLUSTER] Node %s: routes on %s, waiting for the cluster (%s) to form", o.cluster.node, o.cluster.listen, strings.Join(o.cluster.peers, ", ")))
	if err := node.WaitClustered(ctx); err != nil {
		if ctx.Err() != nil {
			return nil // stopped before the cluster formed: nothing to finish
		}
		return err
	}
	metrics := httpapi.NewMetrics()
	member, err := cluster.Join(ctx, node, cluster.MemberConfig{Nodes: o.cluster.nodes, LeaseTTL: o.cluster.leaseTTL,
		Engine: o.engineConfig(log, metrics), Seed: o.partitionSeed(), Logger: log})
	if err != nil {
		return err
	}
	router, err := cluster.NewRouter(ctx, node, member)
	if err != nil {
		_ = member.Leave(context.Background())
		return err
	}
	defer router.Close()
	api := httpapi.NewGateway(httpapi.GatewayConfig{Cluster: router, Keys: keys, Metrics: metrics, Logger: log})
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		_ = member.Leave(context.Background())
		return fmt.Errorf("listen on %s: %w", o.addr, err)
	}
	srv := api.HTTPServer(httpapi.HTTPOptions{Addr: o.addr, IdleTimeout: o.idleTimeout, ConnsMax: o.connsCap(log)})
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	addr := ln.Addr().String()
	log.Info(fmt.Sprintf("[CLUSTER] Listening on http://%s (node %s)", addr, o.cluster.node))
	if onListen != nil {
		onListen(addr)
	}
	api.SetReady()

	var err2 error
	select {
	case <-ctx.Done():
	case err2 = <-serveErr:
		err2 = fmt.Errorf("serve: %w", err2)
	}
	// Leaving hands every partition on at once (leases released), rather
	// than after their TTL; orders under way are the next owner's.
	log.Info("[CLUSTER] Leaving: refusing new requests, handing partitions on")
	api.Drain()
	httpCtx, cancel := context.WithTimeout(context.Background(), o.shutdownTimeout)
	defer cancel()
	err2 = errors.Join(err2, srv.Shutdown(httpCtx))
	// Releasing leases needs the cluster's majority: the last nodes of a
	// cluster being stopped have none, and their leases lapse by
	// themselves after the TTL.
	leaveCtx, cancelLeave := context.WithTimeout(context.Background(), o.cluster.leaseTTL)
	defer cancelLeave()
	if err := member.Leave(leaveCtx); err != nil {
		log.Warn("[CLUSTER] Partitions handed on; some leases not released (they lapse after the TTL)", "err", err)
	}
	if err2 == nil {
		log.Info("[CLUSTER] Left cleanly")
	}
	return err2
}

// partitionSeed is the stock each partition gets the first time it is
// owned: from -inventory-file, the pallets of SKUs that hash to it; else
// its share of -seed-pallets synthetic pallets, of the SKU
// cluster.SeedSKUs names for it, with ids and lots tagged by partition.
func (o options) partitionSeed() func(p int) ([]inventory.PalletSpec, error) {
	if o.inventoryFile != "" {
		return func(p int) ([]inventory.PalletSpec, error) {
			specs, err := seed.File{Path: o.inventoryFile}.Pallets(context.Background())
			if err != nil {
				return nil, err
			}
			mine := specs[:0]
			for _, s := range specs {
				if cluster.PartitionOf(s.SKU) == p {
					mine = append(mine, s)
				}
			}
			return mine, nil
		}
	}
	return func(p int) ([]inventory.PalletSpec, error) {
		n := o.seedPallets / cluster.Partitions
		if p < o.seedPallets%cluster.Partitions {
			n++
		}
		return seed.Synthetic{Count: n, Seed: o.seed + uint64(p), Now: time.Now(), SKU: cluster.SeedSKUs[p], Tag: fmt.Sprintf("p%02d", p)}.Pallets(context.Background())
	}
}
