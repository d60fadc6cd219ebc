package deploy

import (
	"os"
	"path"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func read(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	return string(b)
}

// serverFlags are the server's flag names, read from its source (package
// main cannot be imported).
func serverFlags(t *testing.T) []string {
	t.Helper()
	var flags []string
	for _, m := range regexp.MustCompile(`fs\.\w+Var\(&o\.\w+,\s*"([a-z0-9-]+)"`).FindAllStringSubmatch(read(t, "../cmd/baconator/run.go"), -1) {
		flags = append(flags, m[1])
	}
	require.Contains(t, flags, "data-dir", "cannot read the flags from cmd/baconator/run.go")
	return flags
}

// TestSettingsAreServerFlags fails if a BACONATOR_* variable or a flag the
// deployment files set is not one the server reads: a renamed flag would
// otherwise be ignored in silence (an unknown variable is not an error).
func TestSettingsAreServerFlags(t *testing.T) {
	flags := serverFlags(t)
	env := regexp.MustCompile(`BACONATOR_[A-Z0-9_]+`)
	for _, file := range []string{"Dockerfile", "baconator.service", "build-image.sh", operationsDoc} {
		names := env.FindAllString(read(t, file), -1)
		require.NotEmpty(t, names, file)
		for _, name := range names {
			flag := strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(name, "BACONATOR_")), "_", "-")
			assert.Contains(t, flags, flag, "%s sets %s: the server has no -%s", file, name, flag)
		}
	}
	execStarts := regexp.MustCompile(`(?m)^ExecStart=\S+((?:\s+-[a-z-]+\s+\S+)*)\s*$`).FindAllStringSubmatch(read(t, "baconator.service"), -1)
	require.NotEmpty(t, execStarts, "baconator.service: an ExecStart of -flag value pairs this test can read")
	for _, m := range execStarts {
		for _, f := range regexp.MustCompile(`-([a-z-]+)\s`).FindAllStringSubmatch(m[1]+" ", -1) {
			assert.Contains(t, flags, f[1], "baconator.service ExecStart: the server has no -%s", f[1])
		}
	}
}

// directive is the value of a Dockerfile instruction or unit setting.
func directive(t *testing.T, text, pattern string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)` + pattern).FindStringSubmatch(text)
	require.NotNil(t, m, "no %s", pattern)
	return m[1]
}

func TestDockerfile(t *testing.T) {
	df := read(t, "Dockerfile")
	// The builder's Go is go.mod's, to the minor version; the image's
	// patch release is the newest, so never older than go.mod's.
	goMod := directive(t, read(t, "../go.mod"), `^go (\d+\.\d+)(?:\.\d+)?\s*$`)
	assert.Equal(t, goMod, directive(t, df, `^ARG GO_VERSION=(\S+)\s*$`), "deploy/Dockerfile's GO_VERSION against go.mod's go line")
	assert.Contains(t, df, "FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build")

	assert.Contains(t, df, "CGO_ENABLED=0")
	assert.Equal(t, 2, strings.Count(df, `go build -trimpath`), "both binaries trimmed")
	assert.Equal(t, 2, strings.Count(df, `-ldflags "-s -w`), "both binaries stripped")
	assert.Contains(t, df, "httpapi.version=${VERSION} -X github.com/baconator/baconator/httpapi.revision=${REVISION}", "the build's name reaches baconator_build_info")
	user := directive(t, df, `^USER (\S+)\s*$`)
	assert.Regexp(t, `^[1-9][0-9]*:[1-9][0-9]*$`, user, "a numeric, non-root USER (Kubernetes' runAsNonRoot checks numbers)")

	// The journal lives in a directory inside the volume, never its root
	// (a filesystem's lost+found would make the journal refuse it).
	dataDir := directive(t, df, `BACONATOR_DATA_DIR=(\S+)`)
	volume := directive(t, df, `^VOLUME \["([^"]+)"\]\s*$`)
	assert.Equal(t, volume, path.Dir(dataDir), "BACONATOR_DATA_DIR %s directly inside VOLUME %s", dataDir, volume)
	assert.Equal(t, "0.0.0.0:8080", directive(t, df, `BACONATOR_ADDR=(\S+)`))
	assert.Contains(t, df, "EXPOSE 8080")
	assert.Regexp(t, `HEALTHCHECK .*\\\n\s+CMD \["/usr/local/bin/healthprobe"`, df)
	assert.Contains(t, read(t, "../.dockerignore"), "\n.git\n")
}

func TestSystemdUnit(t *testing.T) {
	unit := read(t, "baconator.service")
	duration := func(setting string) time.Duration {
		t.Helper()
		d, err := time.ParseDuration(directive(t, unit, `^`+setting+`=(\S+)\s*$`))
		require.NoError(t, err, "%s: write it as a Go duration (90s) for this test", setting)
		return d
	}
	// Shutdown is two stages of -shutdown-timeout at worst (the HTTP
	// drain, then the engine's); systemd must not SIGKILL before that.
	assert.Greater(t, duration("TimeoutStopSec"), 2*duration("Environment=BACONATOR_SHUTDOWN_TIMEOUT"))

	state := directive(t, unit, `^StateDirectory=(\S+)\s*$`)
	dataDir := directive(t, unit, `^ExecStart=.*\s-data-dir\s+(\S+)`)
	assert.Equal(t, "/var/lib/"+state, path.Dir(dataDir), "-data-dir directly inside the StateDirectory")
	for _, want := range []string{"Restart=on-failure", "RestartPreventExitStatus=2", "DynamicUser=yes", "ProtectSystem=strict",
		"NoNewPrivileges=yes", "SystemCallFilter=@system-service", "MemoryDenyWriteExecute=yes", "LimitNOFILE="} {
		assert.Regexp(t, `(?m)^`+regexp.QuoteMeta(want), unit)
	}
}
