// Package logging builds the log/slog loggers every taskkit binary uses, in the
// format chosen by its --log-format flag. Every logger it builds masks
// secrets through internal/redact's Handler and writes error lists
// (go-multierror, errors.Join) as one readable line (see ErrorText).
package logging

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/taskkit/taskkit/internal/redact"
)

// Formats lists the accepted values of --log-format.
var Formats = []string{"text", "json"}

// Masked returns a logger writing to w in format ("text", "" or "json");
// verbose enables debug records. Every record is masked through secrets
// (nil: redact.Default(), which knows no values but masks URL passwords and
// secret parameters) and error attributes are written with ErrorText.
// An unknown format is an error naming the format, not the flag: the caller
// knows which flag or variable set it.
func Masked(w io.Writer, format string, verbose bool, secrets *redact.Shared) (*slog.Logger, error) {
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch format {
	case "", "text":
		h = slog.NewTextHandler(w, opts)
	case "json":
		h = slog.NewJSONHandler(w, opts)
	default:
		return nil, fmt.Errorf("unknown log format %q (want text or json)", format)
	}
	if secrets == nil {
		secrets = redact.NewShared(redact.Default())
	}
	return slog.New(errorLists{redact.Handler(h, secrets)}), nil
}

// Discard returns a logger that drops every record; tests use it.
func Discard() *slog.Logger {
	return slog.New(slog.DiscardHandler)
}

// errorLists writes every error attribute with ErrorText, before masking.
type errorLists struct{ next slog.Handler }

func (h errorLists) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h errorLists) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(errorAttr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h errorLists) WithAttrs(as []slog.Attr) slog.Handler {
	out := make([]slog.Attr, len(as))
	for i, a := range as {
		out[i] = errorAttr(a)
	}
	return errorLists{h.next.WithAttrs(out)}
}

func (h errorLists) WithGroup(name string) slog.Handler { return errorLists{h.next.WithGroup(name)} }

func errorAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			// Still an error, so the masking handler knows it for one.
			return slog.Any(a.Key, errors.New(ErrorText(err)))
		}
	case slog.KindGroup:
		g := v.Group()
		out := make([]any, len(g))
		for i, x := range g {
			out[i] = errorAttr(x)
		}
		return slog.Group(a.Key, out...)
	}
	return a
}
