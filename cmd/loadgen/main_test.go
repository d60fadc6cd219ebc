package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
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
