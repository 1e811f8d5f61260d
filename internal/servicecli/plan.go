package servicecli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/taskkit/taskkit/internal/exitcode"
)

// The plan API (dcos-commons PlansResource; internal/api):
//
//	GET  /v1/plans                 ["deploy","recovery",...]
//	GET  /v1/plans/{p}             planView; 200 COMPLETE, 202 in progress, 417 errors
//	POST /v1/plans/{p}/start       body {"KEY":"VAL"} (optional)
//	POST /v1/plans/{p}/stop
//	POST /v1/plans/{p}/interrupt|continue[?phase=]
//	POST /v1/plans/{p}/restart[?phase=[&step=]]
//	POST /v1/plans/{p}/forceComplete?phase=&step=
//
// Commands answer 200 {"message":...}, or 208 when they changed nothing.

// planView is GET /v1/plans/{plan}.
type planView struct {
	Phases []struct {
		Name     string `json:"name"`
		Strategy string `json:"strategy"`
		Status   string `json:"status"`
		Steps    []struct {
			Name    string `json:"name"`
			Status  string `json:"status"`
			Message string `json:"message"`
		} `json:"steps"`
	} `json:"phases"`
	Errors   []string `json:"errors"`
	Strategy string   `json:"strategy"`
	Status   string   `json:"status"`
}

// planStatuses are the statuses of plans, phases and steps
// (dcos-commons scheduler/plan/Status.java).
var planStatuses = []string{"ERROR", "WAITING", "PENDING", "PREPARED", "STARTING", "STARTED", "COMPLETE", "IN_PROGRESS", "DELAYED"}

// writePlanTree prints a plan as the SDK CLI does, a tree of phases and
// steps with their strategies and statuses, plus each step's message
// and the plan's errors:
//
//	deploy (serial strategy) (IN_PROGRESS)
//	├─ web (parallel strategy) (COMPLETE)
//	│  ├─ web-0:[server] (COMPLETE)
//	│  └─ web-1:[server] (COMPLETE)
//	└─ gate (serial strategy) (DELAYED)
//	   └─ gate-0:[wait] (DELAYED): exited with status 1
func writePlanTree(w io.Writer, name string, p planView) {
	fmt.Fprintf(w, "%s (%s strategy) (%s)\n", name, orUnknown(p.Strategy), orUnknown(p.Status))
	for i, ph := range p.Phases {
		branch, indent := treeBranch(i == len(p.Phases)-1)
		fmt.Fprintf(w, "%s%s (%s strategy) (%s)\n", branch, orUnknown(ph.Name), orUnknown(ph.Strategy), orUnknown(ph.Status))
		for j, st := range ph.Steps {
			b, _ := treeBranch(j == len(ph.Steps)-1)
			fmt.Fprintf(w, "%s%s%s (%s)%s\n", indent, b, orUnknown(st.Name), orUnknown(st.Status), messageSuffix(st.Message))
		}
	}
	if len(p.Errors) > 0 {
		fmt.Fprintln(w, "errors:")
		for _, e := range p.Errors {
			fmt.Fprintf(w, "- %s\n", oneLine(e))
		}
	}
}

// treeBranch returns the prefix of an entry and the indentation of its
// children.
func treeBranch(last bool) (string, string) {
	if last {
		return "└─ ", "   "
	}
	return "├─ ", "│  "
}

func orUnknown(s string) string {
	if s == "" {
		return "<UNKNOWN>"
	}
	return s
}

func messageSuffix(msg string) string {
	if msg = oneLine(msg); msg == "" {
		return ""
	}
	return ": " + msg
}

// oneLine joins a message's lines so that each tree entry stays one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

func planGroup() group {
	// Each command gets its own flags: the shell takes them over.
	phase := func() cli.Flag {
		return &cli.StringFlag{Name: "phase", Usage: "only `PHASE` (name or ID)", EnvVars: []string{"SCHEDULER_LITE_PHASE"}}
	}
	step := func() cli.Flag {
		return &cli.StringFlag{Name: "step", Usage: "only `STEP` of --phase (name or ID)", EnvVars: []string{"SCHEDULER_LITE_STEP"}}
	}
	return group{
		name: "plan", aliases: []string{"plans"},
		usage:      "show and command the service's plans",
		usageText:  "scheduler-lite plan list|show|start|stop|interrupt|continue|force-restart|force-complete [flags] [PLAN]",
		keepCommas: true,
		subs: []*cli.Command{
			lister("list", "list the plans", "/v1/plans"),
			{
				Name: "show", Aliases: []string{"status"},
				Usage:     "show a plan as a tree of phases and steps with their statuses and messages",
				UsageText: "scheduler-lite plan show PLAN [--json] [--wait STATUS [--timeout 5m]]",
				Description: "With --wait, ask every 0.5 s until the plan reaches STATUS (exit 0), shows ERROR or errors\n" +
					"(exit 1) or --timeout passes (exit 4), then print the last plan. A scheduler that does not answer\n" +
					"meanwhile (a restart) is asked again; one that never answered exits 3. Meanwhile stderr says how\n" +
					"the plan goes each time that changes: its status and how many steps are COMPLETE.",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "wait", Usage: "wait until the plan's status is `STATUS` (" + strings.Join(planStatuses, ", ") + ")", EnvVars: []string{"SCHEDULER_LITE_WAIT"}},
					&cli.DurationFlag{Name: "timeout", Value: 5 * time.Minute, Usage: "with --wait: give up after `D` (exit 4)", EnvVars: []string{"SCHEDULER_LITE_WAIT_TIMEOUT"}},
				},
				Action: action(1, []string{"PLAN"}, planShow),
			},
			{
				Name: "start", Usage: "start a plan (restarting it if complete; a phase interrupted with --phase stays held), optionally with parameters its tasks get as environment variables",
				UsageText: "scheduler-lite plan start PLAN [-p KEY=VAL]...",
				Flags: []cli.Flag{
					&cli.StringSliceFlag{Name: "params", Aliases: []string{"p"}, Usage: "a parameter `KEY=VAL` (VAL may hold commas and =); repeat for several; the variable takes KEY=VAL,KEY=VAL", EnvVars: []string{envPlanParams}},
				},
				Action: action(1, []string{"PLAN"}, planStart),
			},
			planCommand("stop", nil, "stop", "interrupt a plan and reset its progress", nil),
			planCommand("interrupt", []string{"pause"}, "interrupt", "interrupt a plan, or one phase: nothing new is launched until continue; a canary phase ignores it while its canary holds it (the next continue --phase releases the next canary step)", []cli.Flag{phase()}),
			planCommand("continue", []string{"resume"}, "continue", "continue an interrupted plan, or phase; a phase interrupted with --phase, or a canary phase (its next canary step), goes on only when named with --phase", []cli.Flag{phase()}),
			planCommand("force-restart", []string{"restart"}, "restart", "restart a plan, a phase or one step from the beginning", []cli.Flag{phase(), step()}),
			planCommand("force-complete", []string{"force"}, "forceComplete", "mark one step complete without running it (e.g. to abandon a sidecar operation)", []cli.Flag{phase(), step()}),
		},
	}
}

// planCommand is a plan command without a body: POST
// /v1/plans/{plan}/{call} with the --phase and --step it has.
func planCommand(name string, aliases []string, call, help string, flags []cli.Flag) *cli.Command {
	usageText := "scheduler-lite plan " + name + " PLAN"
	for _, f := range flags {
		usageText += fmt.Sprintf(" [--%s %s]", f.Names()[0], strings.ToUpper(f.Names()[0]))
	}
	if call == "forceComplete" {
		usageText = "scheduler-lite plan force-complete PLAN --phase PHASE --step STEP"
	}
	return &cli.Command{
		Name: name, Aliases: aliases, Usage: help, UsageText: usageText, Flags: flags,
		Action: action(1, []string{"PLAN"}, func(r *run) error {
			q := url.Values{}
			phase, step := r.c.String("phase"), r.c.String("step")
			switch {
			case call == "forceComplete" && (phase == "" || step == ""):
				return r.usagef("--phase and --step: force-complete acts on one step; give both")
			case step != "" && phase == "":
				return r.usagef("--step: give its --phase too")
			}
			if phase != "" {
				q.Set("phase", phase)
			}
			if step != "" {
				q.Set("step", step)
			}
			return r.planPost(call, q, nil)
		}),
	}
}

// planDone says what a command did (200), and what nothing changed (208)
// means (dcos-commons PlansQueries: the command was given already, or the
// plan or phase is complete; a canary phase ignores an interrupt while its
// canary holds it, as CanaryStrategy.interrupt). "interrupt --phase" is
// interrupt naming a phase.
var planDone = map[string][2]string{
	"start":             {"started", ""},
	"stop":              {"stopped", "already stopped"},
	"interrupt":         {"interrupted", "already interrupted, or complete"},
	"interrupt --phase": {"interrupted", "already interrupted, held by its canary, or complete"},
	"continue":          {"continued", "not interrupted"},
	"restart":           {"restarted", ""},
	"forceComplete":     {"forced complete", "already complete"},
}

// planPost sends a plan command and says what it did.
func (r *run) planPost(call string, q url.Values, body any) error {
	plan := r.args[0]
	a, err := r.cl.call(r.ctx(), http.MethodPost, "/v1/plans/"+url.PathEscape(plan)+"/"+call, q, body)
	if err == nil {
		err = a.check(http.StatusOK, http.StatusAlreadyReported)
	}
	if err != nil || r.json {
		return r.printRaw(a, err)
	}
	what := "plan " + plan
	if p := q.Get("phase"); p != "" {
		what += ", phase " + p
	}
	if s := q.Get("step"); s != "" {
		what += ", step " + s
	}
	done := planDone[call]
	if d, ok := planDone[call+" --phase"]; ok && q.Get("phase") != "" {
		done = d
	}
	if a.Code == http.StatusAlreadyReported {
		why := ""
		if done[1] != "" {
			why = " (" + done[1] + ")"
		}
		fmt.Fprintf(r.out, "%s: nothing changed%s\n", what, why)
		return nil
	}
	fmt.Fprintf(r.out, "%s: %s\n", what, done[0])
	return nil
}

// envPlanParams is plan start's --params variable: KEY=VAL pairs split at
// commas, as urfave/cli splits a list variable.
const envPlanParams = "SCHEDULER_LITE_PLAN_PARAMS"

// planStart is plan start PLAN [-p KEY=VAL]...: each -p is one parameter,
// its value everything after the first "=" (commas and "=" included), as
// the SDK CLI's getPlanParameterPayload reads it; KEY may not be empty.
func planStart(r *run) error {
	var params map[string]string
	var keys []string
	given := r.c.StringSlice("params")
	if r.source("params") == envPlanParams {
		// The plan group keeps commas (keepCommas): the variable's
		// list is split here.
		given = strings.Split(strings.Join(given, ","), ",")
	}
	for _, kv := range given {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return r.usagef("%s %q: want KEY=VAL", r.source("params"), kv)
		}
		if params == nil {
			params = map[string]string{}
		}
		if _, dup := params[k]; !dup {
			keys = append(keys, k)
		}
		params[k] = v
	}
	var body any
	if params != nil {
		body = params // without -p no body: the plan keeps its parameters
	}
	if err := r.planPost("start", nil, body); err != nil || r.json || len(keys) == 0 {
		return err
	}
	sort.Strings(keys) // names only: values may be secret
	fmt.Fprintf(r.out, "parameters set: %s\n", strings.Join(keys, ", "))
	return nil
}

// getPlan asks for a plan: 200, 202 and 417 all carry one.
func (r *run) getPlan(ctx context.Context, name string) (*answer, planView, error) {
	var p planView
	a, err := r.cl.get(ctx, "/v1/plans/"+url.PathEscape(name), nil, http.StatusOK, http.StatusAccepted, http.StatusExpectationFailed)
	if err != nil {
		return nil, p, err
	}
	return a, p, a.decode(&p)
}

// printPlan prints a plan as text or JSON.
func (r *run) printPlan(name string, a *answer, p planView) error {
	if r.json {
		return printJSON(r.out, a.Body)
	}
	writePlanTree(r.out, name, p)
	return nil
}

func planShow(r *run) error {
	name := r.args[0]
	want := r.c.String("wait")
	if want == "" {
		if r.c.IsSet("timeout") {
			return r.usagef("%s: only with --wait", r.source("timeout"))
		}
		a, p, err := r.getPlan(r.ctx(), name)
		if err != nil {
			return err
		}
		return r.printPlan(name, a, p)
	}
	want = strings.ToUpper(want)
	if !slices.Contains(planStatuses, want) {
		return r.usagef("%s %q: want one of %s", r.source("wait"), r.c.String("wait"), strings.Join(planStatuses, ", "))
	}
	timeout := r.c.Duration("timeout")
	if timeout <= 0 {
		return r.usagef("%s must be positive", r.source("timeout"))
	}
	return r.waitPlan(name, want, timeout)
}

// planProgress is a plan's status and how many of its steps are COMPLETE:
// "IN_PROGRESS, 3 of 5 steps COMPLETE".
func planProgress(p planView) string {
	done, all := 0, 0
	for _, ph := range p.Phases {
		for _, st := range ph.Steps {
			all++
			if st.Status == "COMPLETE" {
				done++
			}
		}
	}
	return fmt.Sprintf("%s, %d of %d steps COMPLETE", p.Status, done, all)
}

// waitPlan asks for the plan every pollInterval until it shows want
// (exit 0), fails (ERROR or errors, exit 1) or timeout passes (exit 4). It
// prints the last plan it got, and, on stderr meanwhile, the plan's
// progress each time it changes. An unknown plan ends it at once; no answer,
// a --name not registered yet, or a 5xx (a scheduler restarting, a proxy
// without it) is asked again.
func (r *run) waitPlan(name, want string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(r.ctx(), timeout)
	defer cancel()
	var last *answer
	var lastPlan planView
	var lastErr error
	var progress string
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		a, p, err := r.getPlan(ctx, name)
		var ae *apiError
		var ue *unreachableError
		switch {
		case errors.As(err, &ue) || (errors.As(err, &ae) && ae.a.Code >= 500):
			if ctx.Err() == nil {
				lastErr = err // asked again
			}
		case err != nil:
			return err
		default:
			last, lastPlan, lastErr = a, p, nil
			failed := p.Status == "ERROR" || len(p.Errors) > 0
			if p.Status == want && (want == "ERROR" || len(p.Errors) == 0) {
				return r.printPlan(name, a, p)
			}
			if failed && want != "ERROR" {
				if err := r.printPlan(name, a, p); err != nil {
					return err
				}
				return exitcode.Wrap(ExitAPI, fmt.Errorf("plan %s failed (%s) while waiting for %s", name, p.Status, want))
			}
			// A wait of minutes says how it goes, on stderr, as it changes
			// (kubectl rollout status's "2 of 3 updated replicas").
			if pr := planProgress(p); pr != progress {
				fmt.Fprintf(r.sh.Stderr, "scheduler-lite: waiting for plan %s to be %s: %s\n", name, want, pr)
				progress = pr
			}
		}
		select {
		case <-ctx.Done():
			if r.ctx().Err() != nil {
				return r.ctx().Err()
			}
			if last == nil {
				if lastErr != nil {
					return lastErr
				}
				return exitcode.Wrap(ExitTimeout, fmt.Errorf("no answer about plan %s within %s", name, timeout))
			}
			if err := r.printPlan(name, last, lastPlan); err != nil {
				return err
			}
			status := lastPlan.Status
			if lastErr != nil {
				status += "; then the scheduler stopped answering: " + lastErr.Error()
			}
			return exitcode.Wrap(ExitTimeout, fmt.Errorf("plan %s did not reach %s within %s (last status %s)", name, want, timeout, status))
		case <-tick.C:
		}
	}
}
