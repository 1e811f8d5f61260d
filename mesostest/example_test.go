package mesostest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/taskkit/taskkit/mesostest"
)

// A cluster of two agents: the master's state, then an agent's host dying
// and coming back with a new agent ID, as a framework would see it.
func Example() {
	cl, err := mesostest.Start(context.Background(), mesostest.Options{Agents: 2, CPUs: 2, Mem: 4096})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cl.Close()

	res, err := http.Get(cl.MasterURL() + "/state")
	if err != nil {
		fmt.Println(err)
		return
	}
	var state struct {
		Slaves []struct {
			Resources struct {
				CPUs float64 `json:"cpus"`
			} `json:"resources"`
		} `json:"slaves"`
	}
	err = json.NewDecoder(res.Body).Decode(&state)
	res.Body.Close()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("agents in /state:", len(state.Slaves), "cpus each:", state.Slaves[0].Resources.CPUs)

	first := cl.Agents()[0]
	if err := cl.KillAgent(first.ID); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("killed, active:", cl.Agents()[0].Active)
	again, err := cl.RestartAgent(first.ID)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("restarted, active:", again.Active, "same host:", again.Hostname == first.Hostname, "new ID:", again.ID != first.ID)
	// Output:
	// agents in /state: 2 cpus each: 2
	// killed, active: false
	// restarted, active: true same host: true new ID: true
}

// An agent with a MOUNT disk and resources statically reserved for a role,
// as the master's /state lists them; a framework of role slave_public (or
// slave_public/NAME) is offered both.
func Example_diskMountsAndReserved() {
	workDir, err := os.MkdirTemp("", "mesostest-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(workDir)
	cl, err := mesostest.Start(context.Background(), mesostest.Options{
		WorkDir:    workDir,
		DiskMounts: []float64{2048},
		Reserved:   "cpus(slave_public):2;mem(slave_public):1024;ports(slave_public):[80-80]",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cl.Close()

	res, err := http.Get(cl.MasterURL() + "/state")
	if err != nil {
		fmt.Println(err)
		return
	}
	var state struct {
		Slaves []struct {
			Reserved   map[string]map[string]any `json:"reserved_resources"`
			Unreserved []struct {
				Name   string `json:"name"`
				Scalar struct {
					Value float64 `json:"value"`
				} `json:"scalar"`
				Disk *struct {
					Source struct {
						Type  string `json:"type"`
						Mount struct {
							Root string `json:"root"`
						} `json:"mount"`
					} `json:"source"`
				} `json:"disk"`
			} `json:"unreserved_resources_full"`
		} `json:"slaves"`
	}
	err = json.NewDecoder(res.Body).Decode(&state)
	res.Body.Close()
	if err != nil {
		fmt.Println(err)
		return
	}
	agent := state.Slaves[0]
	r := agent.Reserved["slave_public"]
	fmt.Println("reserved for slave_public: cpus", r["cpus"], "mem", r["mem"], "ports", r["ports"])
	for _, u := range agent.Unreserved {
		if u.Disk != nil && u.Disk.Source.Type == "MOUNT" {
			fmt.Println("MOUNT disk:", u.Scalar.Value, "MB, root under the work dir:", strings.HasPrefix(u.Disk.Source.Mount.Root, workDir+"/"))
		}
	}
	// Output:
	// reserved for slave_public: cpus 2 mem 1024 ports [80-80]
	// MOUNT disk: 2048 MB, root under the work dir: true
}
