// Package deploy holds what runs Baconator in production, and the tests
// that keep it true to the server; it has no code of its own.
//
//   - Dockerfile: the container image (a static binary and
//     ../cmd/healthprobe on distroless, nonroot, a volume at /data);
//     build-image.sh builds and smoke-tests it where a container tool works.
//   - baconator.service: a hardened systemd unit.
//   - grafana/baconator.json: a Grafana dashboard over the server's
//     Prometheus metrics.
//
// The tests fail if the dashboard asks for a metric or label the server
// does not export (read from a real server's /metrics), if a BACONATOR_*
// setting named here or in ../docs/operations.md is not one of the
// server's flags, or if the builder's Go or the unit's stop timeout drift
// from what the server needs. ../docs/operations.md is the guide.
package deploy
