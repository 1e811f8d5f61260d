package redact

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// TestHandlerMasks logs a secret through every kind of attribute, some of it
// learned after the logger was made, from several goroutines.
func TestHandlerMasks(t *testing.T) {
	s := NewShared(Default())
	var buf bytes.Buffer
	var mu sync.Mutex
	log := slog.New(Handler(slog.NewTextHandler(&lockedWriter{&mu, &buf}, nil), s))
	s.LearnEnv([]string{"DB_PASSWORD=hunter2-pw", "PLAIN=shown"})
	with := log.With("conn", "jdbc:x?password=hunter2-pw")
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.LearnValue("inline-secret")
			with.Info("cmd uses hunter2-pw", "command", "x inline-secret y", "err", errors.New("bad hunter2-pw"),
				slog.Group("g", "v", "hunter2-pw"), "plain", "shown", "url", "http://u:p4ss@h/", "n", 3)
		}()
	}
	wg.Wait()
	out := buf.String()
	for _, secret := range []string{"hunter2", "inline-secret", "p4ss"} {
		if strings.Contains(out, secret) {
			t.Errorf("%s in log:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, "plain=shown") || !strings.Contains(out, "n=3") {
		t.Errorf("plain values lost:\n%s", out)
	}
	s.Set(Default()) // forgets the learned values
	buf.Reset()
	log.Info("x", "v", "hunter2-pw")
	if !strings.Contains(buf.String(), "hunter2-pw") {
		t.Errorf("Set did not replace the rules: %s", buf.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}
