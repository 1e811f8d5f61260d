package servicecli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"

	"github.com/urfave/cli/v2"

	"github.com/taskkit/taskkit/internal/exitcode"
)

// The service-wide commands: endpoints, config, state, debug and health.
//
//	GET /v1/endpoints                   ["http",...]
//	GET /v1/endpoints/{name}            {"dns":[...],"address":[...],"vip":"..."} (or any JSON or text)
//	GET /v1/configurations              ["id",...]     (dcos-commons ConfigResource)
//	GET /v1/configurations/targetId     ["id"]
//	GET /v1/configurations/target       the target configuration (JSON)
//	GET /v1/configurations/{id}         a configuration (JSON)
//	GET /v1/state/frameworkId           ["id"], [] before the registration
//	GET /v1/state/properties            ["key",...] (dcos-commons StateResource)
//	GET /v1/state/properties/{key}      the value as stored (any bytes); 404 unknown
//	PUT /v1/state/refresh               200 {"message"} (the SDK, cached); 409 not cached
//	GET /v1/debug/offers                offersDebug (debug.go)
//	GET /v1/health?verbose=true         {"value":code,...}, HTTP status = code

func endpointsGroup() group {
	return group{
		name: "endpoints", aliases: []string{"endpoint"},
		usage:     "list the service's advertised endpoints, or show where one is served",
		usageText: "scheduler-lite endpoints [NAME] [--json]",
		action: action(0, []string{"[NAME]"}, func(r *run) error {
			name := r.args[0]
			if name == "" {
				return r.eachOfList("/v1/endpoints", "no advertised endpoints: a task's port is listed here when svc.yml gives it advertise: true")
			}
			a, err := r.cl.get(r.ctx(), "/v1/endpoints/"+url.PathEscape(name), nil)
			if err != nil || r.json {
				return r.printRaw(a, err)
			}
			var ep struct {
				DNS     []string `json:"dns"`
				Address []string `json:"address"`
				VIP     string   `json:"vip"`
				VIPs    []string `json:"vips"`
			}
			if json.Unmarshal(a.Body, &ep) != nil || (ep.DNS == nil && ep.Address == nil) {
				return printJSON(r.out, a.Body) // a custom endpoint: any content
			}
			vips := ep.VIPs
			if len(vips) == 0 && ep.VIP != "" {
				vips = []string{ep.VIP}
			}
			writeList(r.out, "dns", ep.DNS)
			writeList(r.out, "address", ep.Address)
			writeList(r.out, "vip", vips)
			return nil
		}),
	}
}

// writeList prints "label: first" and the others aligned under it;
// "label: (none)" for an empty list.
func writeList(w io.Writer, label string, list []string) {
	if len(list) == 0 {
		list = []string{"(none)"}
	}
	for i, s := range list {
		if i > 0 {
			label = ""
		} else {
			label += ":"
		}
		fmt.Fprintf(w, "%-9s %s\n", label, s)
	}
}

func configGroup() group {
	return group{
		name: "config", aliases: []string{"configs"},
		usage:     "show the stored configurations (rendered service specs) and the target one",
		usageText: "scheduler-lite config list|show|target|target-id [flags] [ID]",
		subs: []*cli.Command{
			lister("list", "list the IDs of the stored configurations", "/v1/configurations"),
			{
				Name: "show", Usage: "show one configuration", UsageText: "scheduler-lite config show ID",
				Action: action(1, []string{"ID"}, func(r *run) error {
					a, err := r.cl.get(r.ctx(), "/v1/configurations/"+url.PathEscape(r.args[0]), nil)
					return r.printRaw(a, err)
				}),
			},
			{
				Name: "target", Usage: "show the target configuration: the one the service runs or rolls to",
				Action: action(0, nil, func(r *run) error {
					a, err := r.cl.get(r.ctx(), "/v1/configurations/target", nil)
					return r.printRaw(a, err)
				}),
			},
			{
				Name: "target-id", Aliases: []string{"target_id"}, Usage: "show the target configuration's ID",
				Action: action(0, nil, func(r *run) error { return r.firstOfList("/v1/configurations/targetId", "no target configuration") }),
			},
		},
	}
}

// firstOfList prints the single value of a JSON list answer (the SDK
// answers IDs as ["id"]); an empty list is an error saying none.
func (r *run) firstOfList(path, none string) error {
	return show(r, path, func(list []string) error {
		if len(list) == 0 {
			return exitcode.Wrap(ExitAPI, errors.New(none))
		}
		fmt.Fprintln(r.out, list[0])
		return nil
	})
}

// eachOfList prints the JSON list of strings at path, one per line; an
// empty list prints nothing on stdout and none on stderr (exit 0).
func (r *run) eachOfList(path, none string) error {
	return show(r, path, func(list []string) error {
		if len(list) == 0 {
			fmt.Fprintln(r.sh.Stderr, none)
		}
		for _, v := range list {
			fmt.Fprintln(r.out, v)
		}
		return nil
	})
}

func stateGroup() group {
	return group{
		name:      "state",
		usage:     "show the scheduler's persisted state: the framework ID, the properties",
		usageText: "scheduler-lite state framework-id|properties|property KEY|refresh-cache [flags]",
		description: "The SDK CLI's debug state commands. The service CA's private key (property ca.key) and any\n" +
			"value holding a PEM private key are never listed nor shown: the API withholds them.",
		subs: []*cli.Command{
			{
				Name: "framework-id", Aliases: []string{"framework_id"}, Usage: "show the Mesos framework ID",
				Action: action(0, nil, func(r *run) error {
					return r.firstOfList("/v1/state/frameworkId", "no framework ID yet: the scheduler has not registered with Mesos")
				}),
			},
			{
				Name: "properties", Usage: "list the keys of the properties in the state store, one per line",
				Action: action(0, nil, func(r *run) error {
					return r.eachOfList("/v1/state/properties", "no properties")
				}),
			},
			{
				Name: "property", Usage: "show one property's value as stored (exit 1 for an unknown key)",
				UsageText: "scheduler-lite state property KEY",
				Action: action(1, []string{"KEY"}, func(r *run) error {
					a, err := r.cl.get(r.ctx(), "/v1/state/properties/"+url.PathEscape(r.args[0]), nil)
					if err != nil || r.json {
						return r.printRaw(a, err)
					}
					// Any bytes: a JSON value, a PEM certificate, a state
					// file; a line of its own.
					if _, err := r.out.Write(a.Body); err != nil {
						return err
					}
					if len(a.Body) > 0 && a.Body[len(a.Body)-1] != '\n' {
						fmt.Fprintln(r.out)
					}
					return nil
				}),
			},
			{
				Name: "refresh-cache", Aliases: []string{"refresh_cache"}, Usage: "refresh the scheduler's state store cache (scheduler-lite keeps none: exit 1 with the API's 409)",
				Description: "PUT /v1/state/refresh, as the SDK's refresh_cache. The SDK reloads its state store\n" +
					"cache from ZooKeeper and answers 409 when it has none; scheduler-lite reads its state\n" +
					"store directly, so the answer is that 409 (exit 1), which says so.",
				Action: action(0, nil, func(r *run) error {
					a, err := r.cl.call(r.ctx(), http.MethodPut, "/v1/state/refresh", nil, nil)
					if err == nil {
						err = a.check()
					}
					if err != nil || r.json {
						return r.printRaw(a, err)
					}
					fmt.Fprintln(r.out, orUnknown(apiMessage(a.Body)))
					return nil
				}),
			},
		},
	}
}

// healthMeaning is each health code's name and meaning, as the SDK's
// HealthResource defines them (its ServiceStatusCode), first match wins.
var healthMeaning = map[int][2]string{
	200: {"RUNNING", "the deploy plan is complete and nothing is recovering"},
	202: {"DEPLOYING_STARTING", "the deploy plan is launching tasks"},
	203: {"RECOVERING_PENDING", "the recovery plan has failed tasks to relaunch (waiting for offers, or for their agent: see plan show recovery)"},
	204: {"DEPLOYING_PENDING", "the deploy plan has steps to launch (waiting for offers, or for the steps before them: a readiness check, a serial phase; see plan show deploy)"},
	205: {"RECOVERING_STARTING", "the recovery plan is relaunching failed tasks"},
	206: {"DEGRADED", "the service runs degraded"},
	207: {"DEPLOYING_WAITING_USER", "the deploy plan is interrupted: it waits for plan continue"},
	208: {"DELAYED", "a task keeps failing: its relaunch is delayed (crash-loop backoff)"},
	318: {"INITIALIZING", "the scheduler is not yet registered with Mesos, or is reconciling its tasks"},
	320: {"BACKING_UP", "a backup plan runs"},
	321: {"RESTORING", "a restore plan runs"},
	326: {"UPGRADE_ROLLBACK_DOWNGRADE", "the service is being upgraded, rolled back or downgraded"},
	500: {"ERROR_CREATING_SERVICE", "a plan has errors (an invalid configuration?): see plan show deploy"},
	503: {"SERVICE_UNAVAILABLE", "the scheduler has lost its Mesos master"},
}

func healthGroup() group {
	return group{
		name:      "health",
		usage:     "show the service's health code and what it means (exit 0 healthy: 200-399; 1 unhealthy)",
		usageText: "scheduler-lite health [--json]",
		description: "The code is the SDK's: the HTTP status of GET /v1/health, which Marathon's health check\n" +
			"reads (200-399 healthy). Exit 0 when healthy, 1 when not (500 ERROR, 503 UNAVAILABLE).",
		action: action(0, nil, func(r *run) error {
			a, err := r.cl.call(r.ctx(), http.MethodGet, "/v1/health", url.Values{"verbose": {"true"}}, nil)
			if err != nil {
				return err
			}
			var h struct {
				Value  *int              `json:"value"`
				Status string            `json:"status"`
				Plans  map[string]string `json:"plans"`
			}
			json.Unmarshal(a.Body, &h) // 204 carries no body: the status is the value
			code := a.Code
			if h.Value != nil {
				code = *h.Value
			}
			meaning, known := healthMeaning[code]
			if h.Value == nil && !known {
				return a.check() // not a health answer (404 from a proxy, ...)
			}
			if r.json {
				if len(a.Body) == 0 {
					a.Body = []byte(`{"value":` + strconv.Itoa(code) + `}`)
				}
				if err := printJSON(r.out, a.Body); err != nil {
					return err
				}
			} else {
				word := h.Status
				if word == "" {
					word = meaning[0]
				}
				fmt.Fprintf(r.out, "%d %s: %s\n", code, orUnknown(word), orUnknown(meaning[1]))
				if len(h.Plans) > 0 {
					var names []string
					for n := range h.Plans {
						names = append(names, n)
					}
					sort.Strings(names)
					for _, n := range names {
						fmt.Fprintf(r.out, "  %s: %s\n", n, h.Plans[n])
					}
				}
			}
			if code < 200 || code > 399 {
				return exitcode.Wrap(ExitAPI, fmt.Errorf("the service is unhealthy (%d)", code))
			}
			return nil
		}),
	}
}
