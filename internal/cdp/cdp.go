// Package cdp is a minimal Chrome DevTools Protocol client for browser
// tests: it starts a headless Chromium (Debian's chromium package) in its
// own process group with a fresh profile, opens one page and drives it —
// navigate, evaluate JavaScript, wait for a condition, click an element
// with real mouse events, take a screenshot — over the DevTools websocket.
// It also records the page's uncaught exceptions, console errors and failed
// loads.
//
// Every call takes a context, and every wait ends at its deadline. Close
// kills the browser's whole process group (and any process still naming the
// profile directory) and removes the profile.
//
// It exists instead of chromedp to keep the module's dependencies as they
// are: the websocket comes from golang.org/x/net, already required.
package cdp

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/websocket"
)

// Candidates are the browser commands Find looks for, in order.
var Candidates = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// Find returns the browser to run: $TASKKIT_CHROMIUM if set, else the first
// of Candidates on PATH.
func Find() (string, error) {
	if p := os.Getenv("TASKKIT_CHROMIUM"); p != "" {
		return exec.LookPath(p)
	}
	for _, c := range Candidates {
		if p, err := exec.LookPath(c); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no browser: none of %s is on PATH and TASKKIT_CHROMIUM is unset (apt-get install chromium)", strings.Join(Candidates, ", "))
}

// Options configures Launch.
type Options struct {
	// Path is the browser binary (default: Find).
	Path string
	// Width and Height are the window size (default 1280×900).
	Width, Height int
	// ExtraArgs are appended to the browser's flags.
	ExtraArgs []string
}

// Browser is a running headless browser with one page.
type Browser struct {
	cmd     *exec.Cmd
	profile string
	conn    *websocket.Conn
	stderr  *tail
	waited  chan struct{} // closed when the browser process has exited

	mu      sync.Mutex
	nextID  int64
	pending map[int64]chan reply
	errs    []string
	closed  chan struct{}
	readErr error

	closeOnce sync.Once
}

type reply struct {
	Result json.RawMessage
	Err    error
}

// message is any message on the DevTools websocket.
type message struct {
	ID     int64           `json:"id,omitempty"`
	Method string          `json:"method,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

var listening = regexp.MustCompile(`DevTools listening on (ws://\S+)`)

// Launch starts the browser and connects to its page; the browser is
// killed if ctx ends before it is ready.
func Launch(ctx context.Context, o Options) (_ *Browser, err error) {
	if o.Path == "" {
		if o.Path, err = Find(); err != nil {
			return nil, err
		}
	}
	if o.Width == 0 {
		o.Width, o.Height = 1280, 900
	}
	// Short names: Chromium's SingletonSocket lives below TMPDIR (see
	// below), and a unix socket's path must stay under 108 bytes.
	profile, err := os.MkdirTemp("", "cdp-")
	if err != nil {
		return nil, err
	}
	args := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--no-default-browser-check", "--disable-background-networking", "--disable-component-update",
		"--disable-sync", "--disable-extensions", "--disable-breakpad", "--disable-crash-reporter", "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio",
		"--user-data-dir=" + profile, "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
		"--remote-allow-origins=*", fmt.Sprintf("--window-size=%d,%d", o.Width, o.Height),
	}
	args = append(append(args, o.ExtraArgs...), "about:blank")
	b := &Browser{profile: profile, pending: map[int64]chan reply{}, closed: make(chan struct{}), stderr: &tail{}}
	b.cmd = exec.Command(o.Path, args...)
	// Chromium also makes org.chromium.Chromium.* directories in $TMPDIR
	// and leaves them there: give it one inside the profile, which Close
	// removes.
	tmp := filepath.Join(profile, "t")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		os.RemoveAll(profile)
		return nil, err
	}
	b.cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	b.cmd.Stdout = io.Discard
	pr, pw := io.Pipe()
	b.cmd.Stderr = pw
	if err := b.cmd.Start(); err != nil {
		os.RemoveAll(profile)
		return nil, fmt.Errorf("starting %s: %w", o.Path, err)
	}
	waited := make(chan struct{})
	go func() { // owned by the Browser: ends when the browser exits
		b.cmd.Wait()
		pw.Close()
		close(waited)
	}()
	b.waited = waited
	defer func() {
		if err != nil {
			if b.conn != nil {
				b.conn.Close()
			}
			b.kill(waited)
		}
	}()

	found := make(chan string, 1)
	go func() { // owned by the Browser: drains stderr until the pipe closes
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			b.stderr.add(line)
			if m := listening.FindStringSubmatch(line); m != nil && !sent {
				found <- m[1]
				sent = true
			}
		}
		io.Copy(io.Discard, pr)
	}()
	var browserWS string
	select {
	case browserWS = <-found:
	case <-waited:
		return nil, fmt.Errorf("%s exited before DevTools listened: %s", o.Path, b.stderr.String())
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: DevTools did not listen: %w; stderr: %s", o.Path, ctx.Err(), b.stderr.String())
	}

	// The page opened with about:blank.
	host := strings.TrimPrefix(browserWS, "ws://")
	host = host[:strings.Index(host, "/")]
	pageWS, err := pageTarget(ctx, host)
	if err != nil {
		return nil, err
	}
	cfg, err := websocket.NewConfig(pageWS, "http://127.0.0.1/")
	if err != nil {
		return nil, err
	}
	if b.conn, err = cfg.DialContext(ctx); err != nil {
		return nil, fmt.Errorf("connecting to the page's DevTools %s: %w", pageWS, err)
	}
	b.conn.MaxPayloadBytes = 64 << 20
	go b.read() // owned by the Browser: ends when the connection closes
	for _, m := range []string{"Page.enable", "Runtime.enable", "Log.enable"} {
		if err := b.Call(ctx, m, nil, nil); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// pageTarget returns the websocket URL of the browser's first page.
func pageTarget(ctx context.Context, host string) (string, error) {
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+host+"/json/list", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			var targets []struct{ Type, WebSocketDebuggerURL string }
			err = json.NewDecoder(resp.Body).Decode(&targets)
			resp.Body.Close()
			for _, t := range targets {
				if t.Type == "page" && t.WebSocketDebuggerURL != "" {
					return t.WebSocketDebuggerURL, nil
				}
			}
			if err == nil {
				err = errors.New("no page target yet")
			}
		}
		last = err
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("finding the page target: %v (%w)", last, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (b *Browser) read() {
	var err error
	for {
		var m message
		if err = websocket.JSON.Receive(b.conn, &m); err != nil {
			break
		}
		if m.ID != 0 {
			b.mu.Lock()
			ch := b.pending[m.ID]
			delete(b.pending, m.ID)
			b.mu.Unlock()
			if ch != nil {
				r := reply{Result: m.Result}
				if m.Error != nil {
					r.Err = fmt.Errorf("%d %s", m.Error.Code, m.Error.Message)
				}
				ch <- r
			}
			continue
		}
		b.event(m)
	}
	b.mu.Lock()
	b.readErr = err
	b.mu.Unlock()
	close(b.closed)
}

// event records uncaught exceptions, console errors and the browser's own
// error log entries (a resource that failed to load, a CSP violation).
func (b *Browser) event(m message) {
	switch m.Method {
	case "Log.entryAdded":
		var p struct {
			Entry struct{ Level, Source, Text, URL string }
		}
		json.Unmarshal(m.Params, &p)
		if p.Entry.Level != "error" {
			return
		}
		b.mu.Lock()
		b.errs = append(b.errs, strings.TrimSpace(fmt.Sprintf("%s: %s %s", p.Entry.Source, p.Entry.Text, p.Entry.URL)))
		b.mu.Unlock()
	case "Runtime.exceptionThrown":
		var p struct {
			ExceptionDetails struct {
				Text      string
				URL       string
				Exception struct{ Description string }
			}
		}
		json.Unmarshal(m.Params, &p)
		d := p.ExceptionDetails
		b.mu.Lock()
		b.errs = append(b.errs, strings.TrimSpace(fmt.Sprintf("exception: %s %s %s", d.Text, d.Exception.Description, d.URL)))
		b.mu.Unlock()
	case "Runtime.consoleAPICalled":
		var p struct {
			Type string
			Args []struct {
				Value       any
				Description string
			}
		}
		json.Unmarshal(m.Params, &p)
		if p.Type != "error" {
			return
		}
		var parts []string
		for _, a := range p.Args {
			if a.Value != nil {
				parts = append(parts, fmt.Sprint(a.Value))
			} else {
				parts = append(parts, a.Description)
			}
		}
		b.mu.Lock()
		b.errs = append(b.errs, "console.error: "+strings.Join(parts, " "))
		b.mu.Unlock()
	}
}

// PageErrors returns the page's uncaught exceptions and console errors so far.
func (b *Browser) PageErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errs...)
}

// Call sends one DevTools command and decodes its result into result (if
// not nil).
func (b *Browser) Call(ctx context.Context, method string, params, result any) error {
	b.mu.Lock()
	b.nextID++
	id := b.nextID
	ch := make(chan reply, 1)
	b.pending[id] = ch
	b.mu.Unlock()
	raw, err := json.Marshal(params)
	if err != nil {
		return err
	}
	if params == nil {
		raw = []byte("{}")
	}
	if dl, ok := ctx.Deadline(); ok {
		b.conn.SetWriteDeadline(dl)
	}
	if err := websocket.JSON.Send(b.conn, message{ID: id, Method: method, Params: raw}); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	select {
	case r := <-ch:
		if r.Err != nil {
			return fmt.Errorf("%s: %w", method, r.Err)
		}
		if result != nil {
			return json.Unmarshal(r.Result, result)
		}
		return nil
	case <-b.closed:
		return fmt.Errorf("%s: the DevTools connection closed: %v", method, b.readErr)
	case <-ctx.Done():
		b.mu.Lock()
		delete(b.pending, id)
		b.mu.Unlock()
		return fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// Navigate loads url and waits until the document has loaded.
func (b *Browser) Navigate(ctx context.Context, url string) error {
	var r struct{ ErrorText string }
	if err := b.Call(ctx, "Page.navigate", map[string]any{"url": url}, &r); err != nil {
		return err
	}
	if r.ErrorText != "" {
		return fmt.Errorf("navigating to %s: %s", url, r.ErrorText)
	}
	return b.WaitFor(ctx, `document.readyState === "complete" && location.href === `+strconv.Quote(url))
}

// Evaluate runs a JavaScript expression (promises are awaited) and decodes
// its value into out (if not nil). A thrown exception is an error.
func (b *Browser) Evaluate(ctx context.Context, expr string, out any) error {
	var r struct {
		Result struct {
			Type  string
			Value json.RawMessage
		}
		ExceptionDetails *struct {
			Text      string
			Exception struct{ Description string }
		}
	}
	if err := b.Call(ctx, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true}, &r); err != nil {
		return err
	}
	if e := r.ExceptionDetails; e != nil {
		return fmt.Errorf("evaluating %q: %s %s", expr, e.Text, e.Exception.Description)
	}
	if out != nil && len(r.Result.Value) > 0 {
		return json.Unmarshal(r.Result.Value, out)
	}
	return nil
}

// WaitFor polls a JavaScript expression until it is true; at the deadline
// the error names the expression.
func (b *Browser) WaitFor(ctx context.Context, expr string) error {
	var lastErr error
	for {
		var ok bool
		err := b.Evaluate(ctx, "!!("+expr+")", &ok)
		if err == nil && ok {
			return nil
		}
		if err != nil {
			lastErr = err
		}
		select {
		case <-ctx.Done():
			if lastErr != nil {
				return fmt.Errorf("waiting for %s: %w (last error: %v)", expr, ctx.Err(), lastErr)
			}
			return fmt.Errorf("waiting for %s: %w", expr, ctx.Err())
		case <-b.closed:
			return fmt.Errorf("waiting for %s: the DevTools connection closed", expr)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Click scrolls the first element matching a CSS selector into view and
// clicks its centre with mouse events, as a user would.
func (b *Browser) Click(ctx context.Context, selector string) error {
	var pt struct {
		X, Y  float64
		Found bool
	}
	expr := `(() => { const el = document.querySelector(` + strconv.Quote(selector) + `);
		if (!el) return {found: false};
		el.scrollIntoView({block: "center"});
		const r = el.getBoundingClientRect();
		return {found: true, x: r.left + r.width / 2, y: r.top + r.height / 2}; })()`
	if err := b.Evaluate(ctx, expr, &pt); err != nil {
		return err
	}
	if !pt.Found {
		return fmt.Errorf("click: no element matches %s", selector)
	}
	for _, typ := range []string{"mouseMoved", "mousePressed", "mouseReleased"} {
		p := map[string]any{"type": typ, "x": pt.X, "y": pt.Y}
		if typ != "mouseMoved" {
			p["button"], p["clickCount"] = "left", 1
		}
		if err := b.Call(ctx, "Input.dispatchMouseEvent", p, nil); err != nil {
			return fmt.Errorf("click %s: %w", selector, err)
		}
	}
	return nil
}

// Screenshot returns a PNG of the whole page.
func (b *Browser) Screenshot(ctx context.Context) ([]byte, error) {
	var m struct {
		CSSContentSize struct{ Width, Height float64 }
	}
	if err := b.Call(ctx, "Page.getLayoutMetrics", nil, &m); err != nil {
		return nil, err
	}
	var r struct{ Data string }
	params := map[string]any{"format": "png", "captureBeyondViewport": true}
	if w, h := m.CSSContentSize.Width, m.CSSContentSize.Height; w > 0 && h > 0 {
		params["clip"] = map[string]any{"x": 0, "y": 0, "width": w, "height": h, "scale": 1}
	}
	if err := b.Call(ctx, "Page.captureScreenshot", params, &r); err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(r.Data)
}

// Close kills the browser's process group and any process still using its
// profile, waits for the browser, and removes the profile. It is safe to
// call more than once.
func (b *Browser) Close() error {
	b.closeOnce.Do(func() {
		if b.conn != nil {
			b.conn.Close()
		}
		b.kill(b.waited)
	})
	return nil
}

// kill ends the browser: SIGKILL to its process group, then to any
// straggler whose command line names the profile (a helper that left the
// group), then waits (at most 10 s) and removes the profile.
func (b *Browser) kill(waited <-chan struct{}) {
	if b.cmd.Process != nil {
		syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
	}
	for _, pid := range Stragglers(b.profile) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	if waited != nil {
		select {
		case <-waited:
		case <-time.After(10 * time.Second):
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(Stragglers(b.profile)) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	os.RemoveAll(b.profile)
}

// Profile is the browser's profile directory (removed by Close).
func (b *Browser) Profile() string { return b.profile }

// Stragglers lists the processes whose command line contains dir (zombies
// excluded).
func Stragglers(dir string) []int {
	var pids []int
	entries, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, e := range entries {
		b, err := os.ReadFile(e)
		if err != nil || !strings.Contains(string(b), dir) {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(e)))
		if st, err := os.ReadFile(filepath.Join(filepath.Dir(e), "stat")); err == nil {
			if f := strings.Fields(string(st[strings.LastIndexByte(string(st), ')')+1:])); len(f) > 0 && f[0] == "Z" {
				continue
			}
		}
		if pid > 0 && pid != os.Getpid() {
			pids = append(pids, pid)
		}
	}
	return pids
}

// tail keeps the last lines of the browser's stderr, for error messages.
type tail struct {
	mu    sync.Mutex
	lines []string
}

func (t *tail) add(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, s)
	if len(t.lines) > 20 {
		t.lines = t.lines[len(t.lines)-20:]
	}
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}
