package main

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Deadlines of the server binary's stages, generous for a loaded machine:
// the tests never wait them out unless something is wrong.
const (
	listenTimeout = 60 * time.Second
	readyTimeout  = 60 * time.Second
	logTimeout    = 60 * time.Second
	exitTimeout   = 60 * time.Second
)

// buildServer builds the real server binary (go build caches the packages,
// so each test pays only the link).
func buildServer(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "baconator")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// server is a running server binary.
type server struct {
	cmd       *exec.Cmd
	base      string
	logs      *serverLog
	listening chan string // the address, once it logs it
	done      chan error  // its exit, once its stderr is drained
}

// serverArgs are the flags every test server runs with: a free port and a
// small warehouse.
func serverArgs(dir string, seed uint64) []string {
	return []string{"-addr", "127.0.0.1:0", "-data-dir", dir, "-seed-pallets", "40", "-seed", fmt.Sprint(seed), "-chaos-interval", "2ms"}
}

// launch starts the server binary with args and returns at once; the test
// kills it at its end if it still runs.
func launch(t *testing.T, bin string, args ...string) *server {
	t.Helper()
	return launchCmd(t, exec.Command(bin, args...))
}

// launchCmd is launch for a command that runs the server binary (under a
// shell that sets its limits, say).
func launchCmd(t *testing.T, cmd *exec.Cmd) *server {
	t.Helper()
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	s := &server{cmd: cmd, logs: newServerLog(), listening: make(chan string, 1), done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			s.logs.add(line)
			if _, addr, ok := strings.Cut(line, "Listening on http://"); ok {
				s.listening <- strings.Fields(addr)[0]
			}
		}
		s.logs.end()
		s.done <- cmd.Wait()
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return s
}

// startBinary starts the server binary on dir and waits until it is ready.
func startBinary(t *testing.T, bin, dir string, seed uint64) *server {
	t.Helper()
	return startCmd(t, exec.Command(bin, serverArgs(dir, seed)...))
}

// startCmd starts a command that runs the server binary and waits until
// the server is ready.
func startCmd(t *testing.T, cmd *exec.Cmd) *server {
	t.Helper()
	s := launchCmd(t, cmd)
	select {
	case addr := <-s.listening:
		s.base = "http://" + addr
	case err := <-s.done:
		t.Fatalf("server exited at start: %v\n%s", err, s.logs)
	case <-time.After(listenTimeout):
		t.Fatalf("server did not listen within %v\n%s", listenTimeout, s.logs)
	}
	s.waitReady(t)
	return s
}

// waitReady polls /readyz, as an orchestrator would, until it answers 200;
// a server that exits instead fails the test with its log.
func (s *server) waitReady(t *testing.T) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(readyTimeout)
	for {
		if resp, err := http.Get(s.base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-s.done:
			t.Fatalf("server exited before it was ready: %v\n%s", err, s.logs)
		case <-deadline:
			t.Fatalf("server not ready within %v\n%s", readyTimeout, s.logs)
		case <-tick.C:
		}
	}
}

// waitLog waits until the server has logged a line containing substr. A
// line the server wrote before it answered a request may still be in the
// pipe when the answer arrives, so a test waits for the line itself.
func (s *server) waitLog(t *testing.T, substr string) {
	t.Helper()
	if err := s.logs.wait(substr, logTimeout); err != nil {
		t.Fatalf("%v\n%s", err, s.logs)
	}
}

func (s *server) kill(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Kill(); err != nil { // SIGKILL: no shutdown, no flush
		t.Fatalf("kill the server: %v (had it exited?)\n%s", err, s.logs)
	}
	<-s.done
}

func (s *server) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, s.cmd.Process.Signal(os.Interrupt))
	require.NoError(t, <-s.done, "a clean stop exits 0")
}

// exit waits for a server that is expected to stop by itself and returns
// its exit error.
func (s *server) exit(t *testing.T) error {
	t.Helper()
	select {
	case err := <-s.done:
		return err
	case <-time.After(exitTimeout):
		t.Fatalf("server still running after %v\n%s", exitTimeout, s.logs)
		return nil
	}
}

// serverLog collects a server's stderr, line by line, for tests to read
// and to wait on.
type serverLog struct {
	mu    sync.Mutex
	b     strings.Builder
	grew  chan struct{} // closed, and replaced, whenever a line arrives or the log ends
	ended bool
}

func newServerLog() *serverLog { return &serverLog{grew: make(chan struct{})} }

func (l *serverLog) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.WriteString(line)
	l.b.WriteByte('\n')
	close(l.grew)
	l.grew = make(chan struct{})
}

func (l *serverLog) end() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ended = true
	close(l.grew)
	l.grew = make(chan struct{})
}

func (l *serverLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// wait returns once the log holds substr, or an error when the log ends
// without it or timeout passes.
func (l *serverLog) wait(substr string, timeout time.Duration) error {
	deadline := time.After(timeout)
	for {
		l.mu.Lock()
		found, ended, grew := strings.Contains(l.b.String(), substr), l.ended, l.grew
		l.mu.Unlock()
		switch {
		case found:
			return nil
		case ended:
			return fmt.Errorf("the server's log ended without %q", substr)
		}
		select {
		case <-grew:
		case <-deadline:
			return fmt.Errorf("no %q in the server's log within %v", substr, timeout)
		}
	}
}
