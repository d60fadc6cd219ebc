package cluster

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// NodeConfig is one node's place in the cluster.
type NodeConfig struct {
	Name    string   // unique in the cluster
	Host    string   // where it listens; 127.0.0.1 in tests
	Port    int      // client port; -1 picks a free one
	Cluster int      // route port the other nodes dial
	Routes  []string // every node's route address, host:port, this one's too
	DataDir string   // JetStream's files
}

// Node is a running embedded NATS server with JetStream, and this
// process's connection to it.
type Node struct {
	cfg NodeConfig
	srv *server.Server
	nc  *nats.Conn
	js  jetstream.JetStream
}

// How often a server pings its routes and clients, and how many pings may
// go unanswered before it drops one.
const (
	pingInterval = time.Second
	pingsOutMax  = 3
)

// payloadMax is the largest message the servers carry.
const payloadMax = 8 << 20

// clusterName names the NATS cluster every node joins.
const clusterName = "baconator"

// StartNode starts the node's server and connects to it. Every write is
// fsynced before JetStream acknowledges it (SyncAlways): the defaults sync
// every two minutes, and a published power-loss analysis lost
// acknowledged writes with them.
func StartNode(cfg NodeConfig) (*Node, error) {
	routes := make([]string, len(cfg.Routes))
	for i, r := range cfg.Routes {
		routes[i] = "nats://" + r
	}
	o := &server.Options{
		ServerName: cfg.Name,
		Host:       cfg.Host,
		Port:       cfg.Port,
		JetStream:  true,
		StoreDir:   cfg.DataDir,
		SyncAlways: true,
		// A forwarded answer (a page of a list) may be larger than
		// NATS's default 1 MiB.
		MaxPayload: payloadMax,
		// A node that stops answering (paused, cut off) loses its routes
		// and clients within about three seconds, and with them its
		// subscriptions: requests stop going to it. NATS's defaults
		// (two minutes) would leave its partitions' requests unanswered
		// that long after another node took them over.
		PingInterval: pingInterval,
		MaxPingsOut:  pingsOutMax,
		NoSigs:       true,
		NoLog:        true,
		Routes:       server.RoutesFromStr(strings.Join(routes, ",")),
	}
	o.Cluster.Name = clusterName
	o.Cluster.Host = cfg.Host
	o.Cluster.Port = cfg.Cluster
	o.Cluster.PingInterval, o.Cluster.MaxPingsOut = pingInterval, pingsOutMax
	srv, err := server.NewServer(o)
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", cfg.Name, err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("node %s: not accepting connections after 10s", cfg.Name)
	}
	nc, err := nats.Connect(srv.ClientURL(), nats.Name(cfg.Name), nats.MaxReconnects(-1))
	if err != nil {
		srv.Shutdown()
		return nil, fmt.Errorf("node %s: connect: %w", cfg.Name, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		srv.Shutdown()
		return nil, fmt.Errorf("node %s: %w", cfg.Name, err)
	}
	return &Node{cfg: cfg, srv: srv, nc: nc, js: js}, nil
}

// Name is the node's name.
func (n *Node) Name() string { return n.cfg.Name }

// JetStream is the node's JetStream client.
func (n *Node) JetStream() jetstream.JetStream { return n.js }

// WaitClustered returns once the cluster has a JetStream meta leader, so
// that streams can be made. It asks every 50 ms, each time for at most
// half a second (an answer waits for the leader), until ctx ends.
func (n *Node) WaitClustered(ctx context.Context) error {
	for {
		try, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		_, err := n.js.AccountInfo(try)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node %s: no JetStream cluster: %w", n.cfg.Name, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Close disconnects and shuts the server down, waiting for it to stop.
func (n *Node) Close() {
	n.nc.Close()
	n.srv.Shutdown()
	n.srv.WaitForShutdown()
}

// FreePorts asks the operating system for n free TCP ports on host: for
// tests and local clusters, where route ports must be known before any
// node starts. A port may be taken again before it is used; the node then
// fails to start and says so.
func FreePorts(host string, n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	ports := make([]int, n)
	for i := range ports {
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports, nil
}

// RouteAddrs is host:port for each route port.
func RouteAddrs(host string, ports []int) []string {
	out := make([]string, len(ports))
	for i, p := range ports {
		out[i] = net.JoinHostPort(host, strconv.Itoa(p))
	}
	return out
}
