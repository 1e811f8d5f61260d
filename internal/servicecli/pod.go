package servicecli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
)

// The pod API (dcos-commons PodResource; internal/api):
//
//	GET  /v1/pod                       ["web-0",...]
//	GET  /v1/pod/status                serviceStatus
//	GET  /v1/pod/{name}/status         podStatus
//	GET  /v1/pod/{name}/info           [{"info": TaskInfo, "status": TaskStatus}], secrets masked
//	POST /v1/pod/{name}/restart|replace           {"pod":...,"tasks":[...]}
//	POST /v1/pod/{name}/pause|resume  [body ["task",...]]  {"pod":...,"tasks":[...]}

// podStatus is GET /v1/pod/{name}/status.
type podStatus struct {
	Name  string `json:"name"`
	Tasks []struct {
		Name   string `json:"name"`
		Status string `json:"status"`
	} `json:"tasks"`
}

// serviceStatus is GET /v1/pod/status: the pod instances by pod type.
type serviceStatus struct {
	Service string `json:"service"`
	Pods    []struct {
		Name      string      `json:"name"`
		Instances []podStatus `json:"instances"`
	} `json:"pods"`
}

// writePodTree prints one pod instance's tasks and their states:
//
//	web-0
//	└─ web-0-server (RUNNING)
func writePodTree(w io.Writer, p podStatus, indent string) {
	for i, t := range p.Tasks {
		b, _ := treeBranch(i == len(p.Tasks)-1)
		fmt.Fprintf(w, "%s%s%s (%s)\n", indent, b, orUnknown(t.Name), orUnknown(t.Status))
	}
}

// writeServiceTree prints every pod instance by pod type, as the SDK CLI
// does:
//
//	hello-world
//	├─ hello
//	│  ├─ hello-0
//	│  │  └─ hello-0-server (RUNNING)
//	...
func writeServiceTree(w io.Writer, s serviceStatus) {
	fmt.Fprintln(w, orUnknown(s.Service))
	for i, pt := range s.Pods {
		b, indent := treeBranch(i == len(s.Pods)-1)
		fmt.Fprintf(w, "%s%s\n", b, orUnknown(pt.Name))
		for j, in := range pt.Instances {
			b2, indent2 := treeBranch(j == len(pt.Instances)-1)
			fmt.Fprintf(w, "%s%s%s\n", indent, b2, orUnknown(in.Name))
			writePodTree(w, in, indent+indent2)
		}
	}
}

func podGroup() group {
	tasks := func() cli.Flag { // one per command: the shell takes flags over
		return &cli.StringSliceFlag{Name: "task", Aliases: []string{"t"}, Usage: "only this `TASK` (its name in the spec, e.g. server); repeat for several", EnvVars: []string{"SCHEDULER_LITE_POD_TASKS"}}
	}
	return group{
		name: "pod", aliases: []string{"pods"},
		usage:     "show and command the service's pod instances",
		usageText: "scheduler-lite pod list|status|info|restart|replace|pause|resume [flags] [POD]",
		subs: []*cli.Command{
			lister("list", "list the pod instances", "/v1/pod"),
			{
				Name: "status", Usage: "show the tasks of one pod instance, or of all, and their states",
				UsageText: "scheduler-lite pod status [POD] [--json]",
				Action:    action(0, []string{"[POD]"}, podStatusCmd),
			},
			{
				Name: "info", Usage: "show the tasks of a pod instance: IDs, agents, commands, resources, environment (secret values masked by the API)",
				UsageText: "scheduler-lite pod info POD [--json]",
				Action:    action(1, []string{"POD"}, podInfo),
			},
			podCommand("restart", "kill the pod instance's tasks and relaunch them in place, on the same agent", nil),
			podCommand("replace", "kill the pod instance's tasks and launch them anew, anywhere (their data is lost)", nil),
			podCommand("pause", "relaunch the pod's tasks (or --task ones) idle, without checks, to debug in the sandbox", tasks()),
			podCommand("resume", "relaunch paused tasks with their command and checks", tasks()),
		},
	}
}

func podStatusCmd(r *run) error {
	if name := r.args[0]; name != "" {
		return show(r, "/v1/pod/"+url.PathEscape(name)+"/status", func(p podStatus) error {
			fmt.Fprintln(r.out, orUnknown(p.Name))
			writePodTree(r.out, p, "")
			return nil
		})
	}
	return show(r, "/v1/pod/status", func(s serviceStatus) error {
		writeServiceTree(r.out, s)
		return nil
	})
}

// podCommand is POST /v1/pod/{name}/{cmd}, with the --task filter as a
// JSON list body when given.
func podCommand(cmd, help string, tasks cli.Flag) *cli.Command {
	c := &cli.Command{
		Name: cmd, Usage: help, UsageText: "scheduler-lite pod " + cmd + " POD",
		Action: action(1, []string{"POD"}, func(r *run) error {
			var body any
			if tasks != nil {
				if t := r.c.StringSlice("task"); len(t) > 0 {
					body = t
				}
			}
			name := r.args[0]
			a, err := r.cl.call(r.ctx(), http.MethodPost, "/v1/pod/"+url.PathEscape(name)+"/"+cmd, nil, body)
			if err == nil {
				err = a.check(http.StatusOK, http.StatusAlreadyReported)
			}
			if err != nil || r.json {
				return r.printRaw(a, err)
			}
			var res struct {
				Pod     string   `json:"pod"`
				Tasks   []string `json:"tasks"`
				Message string   `json:"message"`
			}
			if err := a.decode(&res); err != nil {
				return err
			}
			if a.Code == http.StatusAlreadyReported {
				// A pause of a paused pod, a resume of one not paused.
				why := ""
				if res.Message != "" {
					why = " (" + strings.TrimPrefix(res.Message, "nothing changed: ") + ")"
				}
				fmt.Fprintf(r.out, "pod %s: nothing changed%s\n", name, why)
				return nil
			}
			fmt.Fprintf(r.out, "pod %s: %s %s\n", name, map[string]string{"restart": "restarting", "replace": "replacing", "pause": "pausing", "resume": "resuming"}[cmd], strings.Join(res.Tasks, ", "))
			return nil
		}),
	}
	if tasks != nil {
		c.Flags = []cli.Flag{tasks}
		c.UsageText += " [--task TASK]..."
	}
	return c
}

// taskInfo is the part of a Mesos TaskInfo (JSON, as mesos-go encodes it)
// that pod info shows.
type taskInfo struct {
	Name   string `json:"name"`
	TaskID struct {
		Value string `json:"value"`
	} `json:"task_id"`
	AgentID struct {
		Value string `json:"value"`
	} `json:"agent_id"`
	Resources []struct {
		Name   string `json:"name"`
		Scalar *struct {
			Value float64 `json:"value"`
		} `json:"scalar"`
		Ranges *struct {
			Range []struct {
				Begin uint64 `json:"begin"`
				End   uint64 `json:"end"`
			} `json:"range"`
		} `json:"ranges"`
	} `json:"resources"`
	Command *struct {
		Value       string `json:"value"`
		Environment struct {
			Variables []struct {
				Name  string `json:"name"`
				Value string `json:"value"`
			} `json:"variables"`
		} `json:"environment"`
	} `json:"command"`
	Labels struct {
		Labels []struct {
			Key   string `json:"key"`
			Value string `json:"value"`
		} `json:"labels"`
	} `json:"labels"`
}

// taskStatus is the part of a Mesos TaskStatus pod info shows.
type taskStatus struct {
	State   string `json:"state"`
	Message string `json:"message"`
}

// podInfo prints each task of the instance (writePodInfo).
func podInfo(r *run) error {
	return show(r, "/v1/pod/"+url.PathEscape(r.args[0])+"/info", func(infos []taskInfoAndStatus) error {
		writePodInfo(r.out, infos)
		return nil
	})
}

// taskInfoAndStatus is one element of GET /v1/pod/{name}/info.
type taskInfoAndStatus struct {
	Info   taskInfo        `json:"info"`
	Status json.RawMessage `json:"status"`
}

// writePodInfo prints each task of the instance (an instance with no
// launched task is 404, as in the SDK, and exits 1 before this):
//
//	web-0-server (TASK_RUNNING)
//	  id:        cli-test__web-0-server__...
//	  agent:     ...-S0 (127.0.1.1)
//	  command:   exec sleep 3600
//	  resources: cpus 0.1, mem 32, ports 31000
//	  env:       PASSWORD=********
//	             ...
func writePodInfo(w io.Writer, infos []taskInfoAndStatus) {
	for _, t := range infos {
		var st taskStatus
		json.Unmarshal(t.Status, &st) // absent before the first status
		fmt.Fprintf(w, "%s (%s)\n", orUnknown(t.Info.Name), orUnknown(st.State))
		field := func(label, v string) {
			if v != "" {
				fmt.Fprintf(w, "  %-10s %s\n", label+":", v)
			}
		}
		field("id", t.Info.TaskID.Value)
		agent := t.Info.AgentID.Value
		for _, l := range t.Info.Labels.Labels {
			if l.Key == "offer_hostname" {
				agent += " (" + l.Value + ")"
			}
		}
		field("agent", agent)
		field("message", oneLine(st.Message))
		if t.Info.Command != nil {
			field("command", t.Info.Command.Value)
		}
		field("resources", resourcesText(t.Info))
		if t.Info.Command != nil {
			label := "env:"
			for _, v := range t.Info.Command.Environment.Variables {
				fmt.Fprintf(w, "  %-10s %s=%s\n", label, v.Name, v.Value)
				label = ""
			}
		}
	}
}

// resourcesText is "cpus 0.1, mem 32, ports 31000-31001".
func resourcesText(t taskInfo) string {
	var parts []string
	for _, res := range t.Resources {
		switch {
		case res.Scalar != nil:
			parts = append(parts, res.Name+" "+strconv.FormatFloat(res.Scalar.Value, 'f', -1, 64))
		case res.Ranges != nil:
			var rs []string
			for _, rg := range res.Ranges.Range {
				if rg.Begin == rg.End {
					rs = append(rs, strconv.FormatUint(rg.Begin, 10))
				} else {
					rs = append(rs, fmt.Sprintf("%d-%d", rg.Begin, rg.End))
				}
			}
			sort.Strings(rs)
			parts = append(parts, res.Name+" "+strings.Join(rs, ","))
		}
	}
	return strings.Join(parts, ", ")
}
