package httpapi

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
)

// A build names itself by what the linker was told first (a container
// build has no .git), then by what Go recorded.
func TestBuildInfoPrefersWhatTheLinkerWasTold(t *testing.T) {
	bi := &debug.BuildInfo{Main: debug.Module{Version: "v0.3.0"}, Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}}}
	v, rev := buildOf(bi, true)
	assert.Equal(t, []string{"v0.3.0", "abc"}, []string{v, rev})
	v, rev = buildOf(nil, false)
	assert.Equal(t, []string{"(devel)", "unknown"}, []string{v, rev})

	version, revision = "v1.2.0", "def"
	t.Cleanup(func() { version, revision = "", "" })
	v, rev = buildOf(bi, true)
	assert.Equal(t, []string{"v1.2.0", "def"}, []string{v, rev})
}
