// Package logging builds the log/slog loggers every taskkit binary uses, in the
// format chosen by its --log-format flag.
package logging

import (
	"fmt"
	"io"
	"log/slog"
)

// Formats lists the accepted values of --log-format.
var Formats = []string{"text", "json"}

// New returns a logger writing to w in format ("text" or "json"); verbose
// enables debug records. An unknown format is an error naming flagName.
func New(w io.Writer, format string, verbose bool, flagName string) (*slog.Logger, error) {
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level}
	switch format {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("%s: unknown log format %q (want text or json)", flagName, format)
	}
}

// Discard returns a logger that drops every record; tests use it.
func Discard() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError + 100}))
}
