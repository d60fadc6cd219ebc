package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/baconator/baconator/loadtest"
)

func TestExitCodes(t *testing.T) {
	for _, args := range [][]string{{"-rate", "-1"}, {"-lbs", "1.234"}, {"-concurrency", "0"}, {"-orders", "0"}, {"-url", "ftp://x"}, {"-bogus"}, {"stray"}} {
		var out, errOut bytes.Buffer
		assert.Equal(t, 2, run(context.Background(), args, &out, &errOut), "%v: bad flags exit 2", args)
		assert.NotEmpty(t, errOut.String(), "%v: says why", args)
	}
	var help bytes.Buffer
	assert.Equal(t, 0, run(context.Background(), []string{"-h"}, &help, &help), "-h prints the usage and exits 0")
	assert.Contains(t, help.String(), "-rate")
	var out, errOut bytes.Buffer
	assert.Equal(t, 1, run(context.Background(), []string{"-url", "http://127.0.0.1:1"}, &out, &errOut))
	assert.Contains(t, errOut.String(), "cannot reach the server")
	assert.NotContains(t, errOut.String(), "goroutine", "no stack trace")
}

func TestAFinishedRunExitsWithItsVerdicts(t *testing.T) {
	passed := loadtest.AuditResult{OK: true}
	for _, c := range []struct {
		name  string
		r     loadtest.Report
		allow bool
		want  int
	}{
		{"kept up", loadtest.Report{Audit: passed}, false, 0},
		{"saturated", loadtest.Report{Audit: passed, Saturated: true}, false, 3},
		{"saturated, allowed", loadtest.Report{Audit: passed, Saturated: true}, true, 0},
		{"audit failed and saturated", loadtest.Report{Saturated: true}, true, 1},
		{"an order never ended", loadtest.Report{Audit: passed, Unfinished: 1}, false, 1},
	} {
		assert.Equal(t, c.want, exitCode(&c.r, c.allow), c.name)
	}
}
