package actors

import (
	"log/slog"
	"os"
)

func init() {
	if os.Getenv("BACONATOR_TEST_LOG") != "" {
		debugLogger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
}
