package cdp

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/taskkit/taskkit/internal/testtools"
)

// TestBrowser drives a real headless Chromium against a local page:
// navigate, evaluate, click, screenshot, page errors; then checks that Close
// leaves no browser process behind.
func TestBrowser(t *testing.T) {
	if _, err := Find(); err != nil {
		testtools.Skip(t, "chromium", err.Error())
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(`<!doctype html><title>t</title><button id="b" style="margin:600px 0 0 40px" onclick="this.textContent='clicked'">click me</button>
<script>setTimeout(() => { console.error("boom", 42); }, 10)</script>`))
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Everything the browser writes to the temporary directory (its
	// profile, Chromium's own org.chromium.Chromium.* directory) must be
	// gone after Close.
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	b, err := Launch(ctx, Options{Width: 800, Height: 400})
	if err != nil {
		t.Fatal(err)
	}
	profile := b.Profile()
	defer func() {
		b.Close()
		b.Close()
		if left := Stragglers(profile); len(left) > 0 {
			t.Errorf("browser processes left after Close: %v", left)
		}
		if left, _ := os.ReadDir(tmp); len(left) > 0 {
			var names []string
			for _, e := range left {
				names = append(names, e.Name())
			}
			t.Errorf("left in the temporary directory after Close: %v", names)
		}
	}()
	if err := b.Navigate(ctx, srv.URL+"/"); err != nil {
		t.Fatal(err)
	}
	var title string
	if err := b.Evaluate(ctx, "document.title", &title); err != nil || title != "t" {
		t.Errorf("title %q %v", title, err)
	}
	if err := b.Evaluate(ctx, "nope.nope", nil); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("an exception is an error: %v", err)
	}
	if err := b.Click(ctx, "#b"); err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := b.WaitFor(wctx, `document.getElementById("b").textContent === "clicked"`); err != nil {
		t.Fatal(err)
	}
	if err := b.Click(ctx, "#missing"); err == nil || !strings.Contains(err.Error(), "#missing") {
		t.Errorf("click on nothing: %v", err)
	}
	short, scancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer scancel()
	if err := b.WaitFor(short, "false"); err == nil || !strings.Contains(err.Error(), "waiting for false") {
		t.Errorf("a wait ends at its deadline: %v", err)
	}
	png, err := b.Screenshot(ctx)
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Fatalf("screenshot: %v", err)
	}
	if err := b.WaitFor(wctx, "true"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(strings.Join(b.PageErrors(), "\n"), "console.error: boom 42") {
		if time.Now().After(deadline) {
			t.Fatalf("page errors %v", b.PageErrors())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
