package servicecli

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
)

// offersDebug is GET /v1/debug/offers: why steps are not launching. Two
// shapes are read: scheduler-lite's (the waiting steps with their messages,
// then the latest offer evaluations, newest first) and the DC/OS SDK's
// (dcos-commons debug/OfferOutcomeTrackerV2: counts, the refusal reasons
// and the latest evaluations, oldest first).
type offersDebug struct {
	// scheduler-lite
	Waiting []struct {
		Plan    string `json:"plan"`
		Step    string `json:"step"`
		Status  string `json:"status"`
		Message string `json:"message"`
	} `json:"waiting"`
	Outcomes []offerOutcome `json:"outcomes"`
	// the SDK
	Accepted       *int           `json:"acceptedCount"`
	Rejected       *int           `json:"rejectedCount"`
	FailureReasons map[string]int `json:"failureReasons"`
	RejectedAgents map[string]int `json:"rejectedAgents"`
	Offers         []offerOutcome `json:"offers"`
}

// offerOutcome is one evaluation of an offer for a pod instance.
type offerOutcome struct {
	// Timestamp is milliseconds since the epoch (the SDK) or RFC 3339.
	Timestamp   json.RawMessage `json:"timestamp"`
	Pod         string          `json:"pod-instance-name"`
	Step        string          `json:"step"`
	Host        string          `json:"hostname"`
	Outcome     string          `json:"outcome"` // pass or fail
	Explanation []string        `json:"explanation"`
}

// at is the evaluation's time in UTC, RFC 3339; "" when unknown.
func (o offerOutcome) at() string {
	var t time.Time
	if ms, err := strconv.ParseInt(string(o.Timestamp), 10, 64); err == nil {
		t = time.UnixMilli(ms)
	} else if json.Unmarshal(o.Timestamp, &t) != nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func debugGroup() group {
	return group{
		name:      "debug",
		usage:     "look into the scheduler's decisions",
		usageText: "scheduler-lite debug offers|reservations [--json]",
		subs: []*cli.Command{{
			Name: "offers", Usage: "show why steps are not launching: the waiting steps, and each pod instance's latest offer evaluation",
			Action: action(0, nil, func(r *run) error {
				return show(r, "/v1/debug/offers", func(d offersDebug) error {
					writeOffers(r.out, d)
					return nil
				})
			}),
		}, {
			Name: "reservations", Usage: "show what each pod instance has reserved (resource IDs, agents, volumes), and what is being released",
			Action: action(0, nil, func(r *run) error {
				return show(r, "/v1/debug/reservations", func(d json.RawMessage) error {
					return writeReservations(r.out, d)
				})
			}),
		}},
	}
}

// podReservation is one pod instance's reservation as scheduler-lite's
// GET /v1/debug/reservations lists them (service.PodReservationView).
type podReservation struct {
	Instance  string `json:"pod_instance"`
	AgentID   string `json:"agent_id"`
	Hostname  string `json:"hostname"`
	Role      string `json:"role"`
	Releasing bool   `json:"releasing"`
	Resources []struct {
		Key        string `json:"key"`
		ResourceID string `json:"resource_id"`
		Resource   string `json:"resource"`
		Operation  string `json:"pending_operation"`
		Kind       string `json:"pending_operation_kind"`
		Intact     bool   `json:"intact"`
	} `json:"resources"`
}

// writeReservations prints GET /v1/debug/reservations in either shape:
// scheduler-lite's list of pod instances, each with its resources
//
//	web-0 on h1 (agent a1-S0), role hello-world-role: 2 resources
//	  executor/cpus  3f1c...  0.1 cpus
//	  server/volume  9a2e...  100 MB disk (volume data)  RESERVE pending
//	web-2 on h2 (agent a2-S0), role hello-world-role, being released: 3 resources
//	  server/cpus  77d0...  0.5 cpus  UNRESERVE pending
//	  server/mem  81b4...  256 MB mem  intact (nothing sent yet)
//	  server/port/http  c2e9...  ports [31000-31000]  RESERVE pending, intact (nothing sent yet)
//
// or the DC/OS SDK's (TaskReservationsTracker: the resource IDs the
// service's tasks hold, by agent hostname):
//
//	h1: 2 resource IDs
//	  3f1c...
//
// and "no reservations" when there are none.
func writeReservations(w io.Writer, raw json.RawMessage) error {
	var list []podReservation
	if err := json.Unmarshal(raw, &list); err == nil {
		if len(list) == 0 {
			fmt.Fprintln(w, "no reservations")
		}
		for _, p := range list {
			line := orUnknown(p.Instance) + " on " + orUnknown(p.Hostname)
			if p.AgentID != "" {
				line += " (agent " + p.AgentID + ")"
			}
			if p.Role != "" {
				line += ", role " + p.Role
			}
			if p.Releasing {
				line += ", being released"
			}
			fmt.Fprintf(w, "%s: %s\n", line, count(len(p.Resources), "resource"))
			for _, res := range p.Resources {
				line := fmt.Sprintf("  %s  %s  %s", orUnknown(res.Key), orUnknown(res.ResourceID), oneLine(res.Resource))
				var says []string
				switch {
				case res.Kind != "":
					says = append(says, res.Kind+" pending")
				case res.Operation != "": // a scheduler that does not say which
					says = append(says, "operation "+res.Operation+" pending")
				}
				if res.Intact { // released, nothing sent: its RESERVE may still be pending
					says = append(says, "intact (nothing sent yet)")
				}
				if len(says) > 0 {
					line += "  " + strings.Join(says, ", ")
				}
				fmt.Fprintln(w, line)
			}
		}
		return nil
	}
	var byHost map[string][]string
	if err := json.Unmarshal(raw, &byHost); err != nil {
		return fmt.Errorf("GET /v1/debug/reservations: want a list of pod instances or resource IDs by host: %w", err)
	}
	if len(byHost) == 0 {
		fmt.Fprintln(w, "no reservations")
	}
	hosts := make([]string, 0, len(byHost))
	for h := range byHost {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	for _, h := range hosts {
		ids := slices.Sorted(slices.Values(byHost[h]))
		fmt.Fprintf(w, "%s: %s\n", h, count(len(ids), "resource ID"))
		for _, id := range ids {
			fmt.Fprintf(w, "  %s\n", id)
		}
	}
	return nil
}

// count is "1 thing" or "n things".
func count(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// writeOffers prints the waiting steps, the SDK's totals when it has them,
// each pod instance's latest evaluation with its explanation (counted on
// the line before them; the earlier evaluations only in --json), and the
// refusal reasons:
//
//	waiting to launch:
//	  deploy: web-1:[server] (PENDING): no offer fits
//	offers: 3 accepted, 12 rejected
//	latest offer evaluation of 1 pod instances: 0 passed, 1 failed (and 14 earlier, in --json)
//	web-1 (web-1:[server]): fail at 2026-01-02T12:00:01Z on 127.0.1.2
//	  - FAIL(ResourceEvaluationStage): insufficient cpus: need 0.1, offered 0.0
//	refused because:
//	    12  insufficient cpus
func writeOffers(w io.Writer, d offersDebug) {
	if d.Waiting != nil {
		if len(d.Waiting) == 0 {
			fmt.Fprintln(w, "no step is waiting to launch")
		} else {
			fmt.Fprintln(w, "waiting to launch:")
		}
		for _, s := range d.Waiting {
			fmt.Fprintf(w, "  %s: %s (%s)%s\n", orUnknown(s.Plan), orUnknown(s.Step), orUnknown(s.Status), messageSuffix(s.Message))
		}
	}
	// Oldest first, whichever shape.
	outcomes := d.Offers
	if d.Outcomes != nil {
		for i := len(d.Outcomes) - 1; i >= 0; i-- {
			outcomes = append(outcomes, d.Outcomes[i])
		}
	}
	if d.Accepted != nil && d.Rejected != nil {
		fmt.Fprintf(w, "offers: %d accepted, %d rejected\n", *d.Accepted, *d.Rejected)
	}
	latest := map[string]offerOutcome{}
	for _, o := range outcomes {
		latest[o.Pod] = o
	}
	// The summary counts what is listed below: one evaluation per pod
	// instance, its latest; the earlier ones are only in --json.
	passed := 0
	for _, o := range latest {
		if o.Outcome == "pass" {
			passed++
		}
	}
	fmt.Fprintf(w, "latest offer evaluation of %d pod instances: %d passed, %d failed", len(latest), passed, len(latest)-passed)
	if earlier := len(outcomes) - len(latest); earlier > 0 {
		fmt.Fprintf(w, " (and %d earlier, in --json)", earlier)
	}
	fmt.Fprintln(w)
	pods := make([]string, 0, len(latest))
	for p := range latest {
		pods = append(pods, p)
	}
	sort.Strings(pods)
	for _, p := range pods {
		o := latest[p]
		line := orUnknown(p)
		if o.Step != "" {
			line += " (" + o.Step + ")"
		}
		line += ": " + orUnknown(o.Outcome)
		if at := o.at(); at != "" {
			line += " at " + at
		}
		if o.Host != "" {
			line += " on " + o.Host
		}
		fmt.Fprintln(w, line)
		for _, e := range o.Explanation {
			fmt.Fprintf(w, "  - %s\n", oneLine(e))
		}
	}
	writeCounts(w, "refused because:", d.FailureReasons)
	writeCounts(w, "refused on agents:", d.RejectedAgents)
}

// writeCounts prints a title and the counts, highest first.
func writeCounts(w io.Writer, title string, counts map[string]int) {
	if len(counts) == 0 {
		return
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if counts[keys[i]] != counts[keys[j]] {
			return counts[keys[i]] > counts[keys[j]]
		}
		return keys[i] < keys[j]
	})
	fmt.Fprintln(w, title)
	for _, k := range keys {
		fmt.Fprintf(w, "  %4d  %s\n", counts[k], oneLine(k))
	}
}
