package executor

import (
	"context"
	"log/slog"
	"sync"

	"github.com/taskkit/taskkit/internal/redact"
)

// Secrets is the set of secret values the executor has seen in task
// environments (keys matching redact.DefaultKeyPattern, and SECRET
// variables). Its Handler masks them in every log record. It is safe for
// concurrent use; the zero value is not, use NewSecrets.
type Secrets struct {
	mu sync.RWMutex
	r  *redact.Redactor
}

// NewSecrets returns an empty Secrets using redact's default key pattern.
func NewSecrets() *Secrets { return &Secrets{r: redact.Default()} }

// LearnEnv records the values of the secret keys in env (KEY=VALUE).
func (s *Secrets) LearnEnv(env []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.r.LearnEnv(env)
}

// LearnValue records one secret value.
func (s *Secrets) LearnValue(v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.r.LearnValue(v)
}

// Mask returns text with every known secret value replaced by redact.Mask.
func (s *Secrets) Mask(text string) string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.r.String(text)
}

// Handler wraps h so that the message and every string attribute of a
// record are masked before h sees them.
func (s *Secrets) Handler(h slog.Handler) slog.Handler { return &maskHandler{s: s, h: h} }

type maskHandler struct {
	s *Secrets
	h slog.Handler
}

func (m *maskHandler) Enabled(ctx context.Context, l slog.Level) bool { return m.h.Enabled(ctx, l) }

func (m *maskHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, m.s.Mask(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(m.attr(a))
		return true
	})
	return m.h.Handle(ctx, out)
}

func (m *maskHandler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, m.s.Mask(v.String()))
	case slog.KindGroup:
		g := v.Group()
		out := make([]any, len(g))
		for i, x := range g {
			out[i] = m.attr(x)
		}
		return slog.Group(a.Key, out...)
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return slog.String(a.Key, m.s.Mask(err.Error()))
		}
		return slog.String(a.Key, m.s.Mask(v.String()))
	}
	return slog.Attr{Key: a.Key, Value: v}
}

func (m *maskHandler) WithAttrs(as []slog.Attr) slog.Handler {
	masked := make([]slog.Attr, len(as))
	for i, a := range as {
		masked[i] = m.attr(a)
	}
	return &maskHandler{s: m.s, h: m.h.WithAttrs(masked)}
}

func (m *maskHandler) WithGroup(name string) slog.Handler {
	return &maskHandler{s: m.s, h: m.h.WithGroup(name)}
}
