package main

import (
	"log/slog"

	"github.com/taskkit/taskkit/internal/executor"
)

// slogWith returns log with task secrets masked in every record.
func slogWith(s *executor.Secrets, log *slog.Logger) *slog.Logger {
	return slog.New(s.Handler(log.Handler()))
}
