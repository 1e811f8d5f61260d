package redact

import (
	"context"
	"log/slog"
	"sync"
)

// Shared is a Redactor that several goroutines use at once: loggers mask
// through it (see Handler) while the program learns more secret values (the
// executor learns each task's environment as it launches it) or replaces the
// rules (bootstrap once -redact-keys and -insecure are known). It is safe for
// concurrent use. Without a Redactor (the zero value, NewShared(nil),
// Set(nil)) it masks nothing: that is bootstrap's -insecure.
type Shared struct {
	mu sync.RWMutex
	r  *Redactor
}

// NewShared returns a Shared masking with r; nil masks nothing.
func NewShared(r *Redactor) *Shared {
	return &Shared{r: r}
}

// Set replaces the Redactor everything masks with from now on; nil masks
// nothing.
func (s *Shared) Set(r *Redactor) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.r = r
}

// LearnEnv records the values of the secret keys in env (KEY=VALUE entries).
func (s *Shared) LearnEnv(env []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.r == nil {
		s.r = Default()
	}
	s.r.LearnEnv(env)
}

// LearnValue records one secret value.
func (s *Shared) LearnValue(v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.r == nil {
		s.r = Default()
	}
	s.r.LearnValue(v)
}

// String returns text masked by the Redactor's every rule (see
// Redactor.String).
func (s *Shared) String(text string) string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.r == nil {
		return text
	}
	return s.r.String(text)
}

// Handler returns a slog.Handler that masks every record through s before
// next sees it: the message, every string attribute, each string of a
// []string, every other value by its printed form (String), every error by
// its Error text, inside groups too,
// and the attributes given to WithAttrs. Numbers, booleans, durations and
// times pass unchanged. Every taskkit binary's logger goes through one, so no log
// call has to remember to mask.
func Handler(next slog.Handler, s *Shared) slog.Handler {
	return &maskHandler{s: s, next: next}
}

type maskHandler struct {
	s    *Shared
	next slog.Handler
}

func (m *maskHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return m.next.Enabled(ctx, l)
}

func (m *maskHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, m.s.String(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(m.attr(a))
		return true
	})
	return m.next.Handle(ctx, out)
}

func (m *maskHandler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, m.s.String(v.String()))
	case slog.KindGroup:
		g := v.Group()
		out := make([]any, len(g))
		for i, x := range g {
			out[i] = m.attr(x)
		}
		return slog.Group(a.Key, out...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, m.s.String(x.Error()))
		case []string: // stays a list (a JSON array)
			out := make([]string, len(x))
			for i, e := range x {
				out[i] = m.s.String(e)
			}
			return slog.Any(a.Key, out)
		}
		return slog.String(a.Key, m.s.String(v.String()))
	}
	return slog.Attr{Key: a.Key, Value: v}
}

func (m *maskHandler) WithAttrs(as []slog.Attr) slog.Handler {
	masked := make([]slog.Attr, len(as))
	for i, a := range as {
		masked[i] = m.attr(a)
	}
	return &maskHandler{s: m.s, next: m.next.WithAttrs(masked)}
}

func (m *maskHandler) WithGroup(name string) slog.Handler {
	return &maskHandler{s: m.s, next: m.next.WithGroup(name)}
}
