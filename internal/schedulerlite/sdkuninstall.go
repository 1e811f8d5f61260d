package schedulerlite

// The SDK's uninstall mode. `dcos package uninstall` of a service whose
// Marathon app carries the DCOS_COMMONS_UNINSTALL label restarts the scheduler
// with SDK_UNINSTALL=true, then Cosmos polls GET /v1/plans/deploy on the
// scheduler every 10 s and deletes the Marathon app once it answers 200. In
// this mode scheduler-lite deploys nothing: it kills every task of the
// service, tears its framework down and deletes its state (the same work as
// "scheduler-lite uninstall"), reporting the progress as the deploy plan —
// 202 while it works, 417 with the error between retries, 200 when done — and
// keeps serving until Marathon stops it.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/taskkit/taskkit/internal/exitcode"
)

// uninstallRetry is the pause between two uninstall attempts.
const uninstallRetry = 10 * time.Second

// sdkUninstallRequested reports whether Cosmos asked for the uninstall mode.
func sdkUninstallRequested(getenv func(string) string) bool {
	switch strings.ToLower(strings.TrimSpace(getenv("SDK_UNINSTALL"))) {
	case "true", "1", "yes":
		return true
	}
	return false
}

// uninstallProgress is what the uninstall plan reports.
type uninstallProgress struct {
	mu      sync.Mutex
	status  string // IN_PROGRESS, ERROR, COMPLETE
	message string
}

func (p *uninstallProgress) set(status, message string) {
	p.mu.Lock()
	p.status, p.message = status, message
	p.mu.Unlock()
}

func (p *uninstallProgress) get() (string, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.status, p.message
}

// handler serves the plan API of the uninstall mode.
func (p *uninstallProgress) handler() http.Handler {
	code := func(status string) int {
		switch status {
		case "COMPLETE":
			return http.StatusOK
		case "ERROR":
			return http.StatusExpectationFailed
		}
		return http.StatusAccepted
	}
	writeJSON := func(w http.ResponseWriter, c int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(c)
		json.NewEncoder(w).Encode(v)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/plans", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, []string{"deploy"})
	})
	mux.HandleFunc("GET /v1/plans/deploy", func(w http.ResponseWriter, r *http.Request) {
		status, msg := p.get()
		var errs []string
		if status == "ERROR" {
			errs = []string{msg}
		}
		step := map[string]any{"id": "uninstall-0-0", "name": "kill-tasks-teardown-delete-state", "status": status, "message": msg}
		phase := map[string]any{"id": "uninstall-0", "name": "uninstall", "strategy": "serial", "status": status, "steps": []any{step}}
		writeJSON(w, code(status), map[string]any{"phases": []any{phase}, "errors": append([]string{}, errs...), "strategy": "serial", "status": status})
	})
	mux.HandleFunc("GET /v1/health", func(w http.ResponseWriter, r *http.Request) {
		status, _ := p.get()
		w.WriteHeader(code(status))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"message": "the service is being uninstalled (SDK_UNINSTALL)"})
	})
	return mux
}

// sdkUninstall runs the uninstall mode until ctx ends.
func sdkUninstall(ctx context.Context, c *cli.Context, log *slog.Logger, stdout io.Writer) error {
	if c.NArg() != 1 {
		return usage(errors.New("want exactly one argument: the svc.yml"))
	}
	master := c.String("master")
	if master == "" || master == "local" {
		return usage(errors.New("SDK_UNINSTALL: --master must be the cluster's master URL, not local"))
	}
	state := c.String("state")
	if state == "" {
		if sb := os.Getenv("MESOS_SANDBOX"); sb != "" {
			state = "file:" + sb + "/state.db"
		} else {
			return usage(errors.New("SDK_UNINSTALL: --state is needed to find the service's state"))
		}
	}
	listen := apiListen(c.String("api-listen"), os.Getenv)
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return usage(fmt.Errorf("--api-listen %s: %w", listen, err))
	}
	progress := &uninstallProgress{status: "IN_PROGRESS"}
	srv := &http.Server{Handler: progress.handler(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan struct{})
	go func() { // owned by sdkUninstall: ends when srv is shut down below
		defer close(served)
		srv.Serve(ln)
	}()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		srv.Shutdown(sctx)
		cancel()
		<-served
	}()
	fmt.Fprintf(stdout, "SCHEDULER_API=http://%s\n", ln.Addr())
	log.Info("SDK_UNINSTALL: uninstalling the service instead of deploying it", "api", ln.Addr().String(), "state", state)

	for attempt := 1; ; attempt++ {
		name, res, err := uninstallService(ctx, c, log, master, state, 0)
		if err == nil {
			progress.set("COMPLETE", fmt.Sprintf("framework %s torn down, %d tasks killed, state deleted", res.FrameworkID, res.Killed))
			log.Info("uninstall complete; waiting to be removed", "service", name, "framework", res.FrameworkID, "killed", res.Killed)
			break
		}
		if exitcode.Code(err, ExitRuntime) == ExitUsage {
			return err // retrying cannot fix a usage error
		}
		progress.set("ERROR", err.Error())
		log.Error("uninstall attempt failed; retrying", "attempt", attempt, "error", err.Error(), "retry_in", uninstallRetry.String())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(uninstallRetry):
		}
		progress.set("IN_PROGRESS", "")
	}
	<-ctx.Done()
	return nil
}
