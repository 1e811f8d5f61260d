package schedulerlite

// The SDK's uninstall mode. `dcos package uninstall` of a service whose
// Marathon app carries the DCOS_COMMONS_UNINSTALL label restarts the scheduler
// with SDK_UNINSTALL=true, then Cosmos polls GET /v1/plans/deploy on the
// scheduler every 10 s and deletes the Marathon app once it answers 200. In
// this mode scheduler-lite deploys nothing: it runs the uninstall plan
// (internal/sdk/uninstall: kill every task, release resources, tear the
// framework down, delete the state; the same work as "scheduler-lite
// uninstall") and serves it as the deploy plan (api.UninstallHandler) — 202
// while it works, 417 with the error between retries, 200 when done — and
// keeps serving until Marathon stops it.

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/taskkit/taskkit/internal/api"
	"github.com/taskkit/taskkit/internal/cliapp"
	"github.com/taskkit/taskkit/internal/exitcode"
	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/sdk/uninstall"
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

// uninstallPlans serves the plan of the current uninstall attempt, with the
// error of the last failed attempt until the next one starts.
type uninstallPlans struct {
	mu  sync.Mutex
	u   *uninstall.Uninstaller
	err error
}

// PlanView implements api.Plans.
func (p *uninstallPlans) PlanView(name string) (plan.View, error) {
	p.mu.Lock()
	u, err := p.u, p.err
	p.mu.Unlock()
	var v plan.View
	if u != nil {
		var verr error
		if v, verr = u.PlanView(name); verr != nil {
			return v, verr
		}
	} else {
		if name != plan.Deploy {
			return v, fmt.Errorf("plan %q: not found (uninstalling: only deploy)", name)
		}
		v = uninstall.NewPlan().View()
	}
	if err != nil && len(v.Errors) == 0 {
		v.Errors, v.Status = []string{err.Error()}, plan.Error
	}
	return v, nil
}

func (p *uninstallPlans) set(u *uninstall.Uninstaller, err error) {
	p.mu.Lock()
	if u != nil {
		p.u = u
	}
	p.err = err
	p.mu.Unlock()
}

// sdkUninstall runs the uninstall mode until ctx ends, with the shell's
// environment (MESOS_SANDBOX, PORT_API, svc.yml's render context) and
// stdout.
func sdkUninstall(ctx context.Context, c *cli.Context, log *slog.Logger, sh *cliapp.Shell) error {
	stdout := sh.Stdout
	if c.NArg() != 1 {
		return cliapp.UsageError(c, "SDK_UNINSTALL: want exactly one argument: the svc.yml")
	}
	master := c.String("master")
	if master == "" || master == "local" {
		return cliapp.BadValue(fmt.Errorf("SDK_UNINSTALL: %s must be the cluster's master URL, not local", sh.Source("master")))
	}
	state := c.String("state")
	if state == "" {
		if sb := sh.Getenv("MESOS_SANDBOX"); sb != "" {
			state = "file:" + sb + "/state.db"
		} else {
			return cliapp.UsageError(c, "SDK_UNINSTALL: --state is needed to find the service's state (or MESOS_SANDBOX for its default)")
		}
	}
	listen := apiListen(c.String("api-listen"), sh.Getenv)
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return usage(fmt.Errorf("--api-listen %s: %w", listen, err))
	}
	plans := &uninstallPlans{}
	srv := &http.Server{Handler: api.UninstallHandler(plans), ReadHeaderTimeout: 10 * time.Second}
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
		name, res, err := uninstallService(ctx, c, log, sh.Environ, master, state, 0, 0, func(u *uninstall.Uninstaller) { plans.set(u, nil) })
		if err == nil {
			log.Info("uninstall complete; waiting to be removed", "service", name, "framework", res.FrameworkID, "killed", res.Killed)
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		if exitcode.Code(err, ExitRuntime) == ExitUsage {
			return err // retrying cannot fix a usage error
		}
		plans.set(nil, err)
		log.Error("uninstall attempt failed; retrying", "attempt", attempt, "error", err.Error(), "retry_in", uninstallRetry.String())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(uninstallRetry):
		}
		plans.set(nil, nil)
	}
	<-ctx.Done()
	log.Info("scheduler-lite stopping", "reason", context.Cause(ctx).Error())
	return nil
}
