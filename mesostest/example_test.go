package mesostest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

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
