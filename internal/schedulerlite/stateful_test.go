package schedulerlite

// Stateful services end to end: a pod whose task appends to a file in its
// persistent volume, on testenv's reservations and volumes.

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/testenv"
)

// statefulSpec is a svc.yml of count pods "p" whose task appends a line to
// data/out in its volume and records its PID there. Its name is rendered
// from SVC_NAME, so that the scheduler and the uninstall must both be
// given the environment.
func statefulSpec(t *testing.T, count int, strategy string) string {
	t.Helper()
	spec := fmt.Sprintf(`name: "{{SVC_NAME}}"
pods:
  p:
    count: %d
    tasks:
      t:
        goal: RUNNING
        cmd: "echo run >> data/out && echo $$ > data/pid && exec sleep 600"
        cpus: 0.01
        memory: 1
        volume: {path: data, type: ROOT, size: 10}
plans:
  deploy:
    phases:
      p: {pod: p, strategy: %s}
`, count, strategy)
	p := filepath.Join(t.TempDir(), "svc.yml")
	if err := os.WriteFile(p, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// reserved is what the agents hold reserved for a role, from the master's
// GET /slaves: the resource IDs of the reservations and the persistence
// IDs of the volumes (one entry per resource; a duplicate is a leak).
type reserved struct{ resourceIDs, volumeIDs []string }

func reservedFor(t *testing.T, cl *testenv.Cluster, role string) reserved {
	t.Helper()
	resp, err := http.Get(cl.MasterURL() + "/slaves")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v struct {
		Slaves []struct {
			Reserved map[string][]json.RawMessage `json:"reserved_resources_full"`
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatalf("GET /slaves: %v", err)
	}
	var out reserved
	for _, s := range v.Slaves {
		for _, raw := range s.Reserved[role] {
			var r mesos.Resource
			if err := json.Unmarshal(raw, &r); err != nil {
				t.Fatalf("GET /slaves: a resource %s: %v", raw, err)
			}
			if r.IsPersistentVolume() {
				out.volumeIDs = append(out.volumeIDs, r.GetDisk().GetPersistence().GetID())
			}
			labels := r.GetReservation().GetLabels().GetLabels()
			if rs := r.GetReservations(); len(rs) > 0 {
				labels = rs[len(rs)-1].GetLabels().GetLabels()
			}
			for _, l := range labels {
				if l.Key == "resource_id" {
					out.resourceIDs = append(out.resourceIDs, l.GetValue())
				}
			}
		}
	}
	slices.Sort(out.resourceIDs)
	slices.Sort(out.volumeIDs)
	return out
}

// schedulerReservations returns the resource IDs the scheduler records
// (GET /v1/debug/reservations), sorted, and whether any is being released
// or not confirmed yet.
func schedulerReservations(t *testing.T, api string) (ids []string, settled bool) {
	t.Helper()
	var v []struct {
		Releasing bool
		Resources []struct {
			ResourceID string `json:"resource_id"`
			Pending    string `json:"pending_operation"`
		}
	}
	if code := getJSON(t, api+"/v1/debug/reservations", &v); code != http.StatusOK {
		t.Fatalf("GET /v1/debug/reservations: %d", code)
	}
	settled = true
	for _, r := range v {
		settled = settled && !r.Releasing
		for _, res := range r.Resources {
			ids = append(ids, res.ResourceID)
			settled = settled && res.Pending == ""
		}
	}
	slices.Sort(ids)
	return ids, settled
}

// volumeFiles returns the data/out files of the volumes on the agents'
// disks (path → content).
func volumeFiles(t *testing.T, cl *testenv.Cluster) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(cl.WorkDir(), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() == "out" && strings.Contains(p, string(filepath.Separator)+"volumes"+string(filepath.Separator)) {
			b, _ := os.ReadFile(p)
			out[p] = string(b)
		}
		return nil
	})
	return out
}

// TestStatefulPod: a pod with a persistent volume deploys on reserved
// resources; a killed task relaunches in place and finds its data; a pod
// replace places it anew with an empty volume, the old reservation and
// volume released; the uninstall (given the shell's environment) releases
// everything.
func TestStatefulPod(t *testing.T) {
	t.Parallel() // a cluster of its own: see TestMain
	cl := cluster(t, testenv.Config{Agents: 2})
	env := []string{"SVC_NAME=stateful"}
	svc := statefulSpec(t, 1, "serial")
	stateFile := filepath.Join(t.TempDir(), "s.db")
	p := startSchedEnv(t, "sched.log", env, "--master", cl.MasterURL(), "--state", "file:"+stateFile, "--artifacts-dir", fastArtifacts(t), svc)
	api := p.waitAPI(t, 30*time.Second)
	defer func() {
		if t.Failed() {
			b, _ := os.ReadFile(p.logPath)
			t.Logf("scheduler log: %s", tailStr(b))
		}
	}()
	poll(t, "deploy COMPLETE", 60*time.Second, func() bool { return planStatus(api, "deploy") == plan.Complete })
	fid := fetchFrameworkID(t, api)
	const role = "stateful-role"
	var first reserved
	poll(t, "the reservation confirmed", 30*time.Second, func() bool {
		ids, settled := schedulerReservations(t, api)
		first = reservedFor(t, cl, role)
		return settled && len(ids) > 0 && slices.Equal(ids, first.resourceIDs)
	})
	if len(first.volumeIDs) != 1 {
		t.Fatalf("volumes %v, want 1", first.volumeIDs)
	}
	var vol string
	poll(t, "the task's line in its volume", 10*time.Second, func() bool {
		for p, c := range volumeFiles(t, cl) {
			vol = p
			return c == "run\n"
		}
		return false
	})

	// Kill the task: relaunched in place, on its volume.
	id, agent, _ := podTask(cl, fid, "p-0-t")
	// The task writes data/out, then data/pid: wait for the second too.
	var pid int
	poll(t, "the task's PID in its volume", 10*time.Second, func() bool {
		b, err := os.ReadFile(filepath.Join(filepath.Dir(vol), "pid"))
		if err != nil {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil && pid > 0
	})
	killed := time.Now()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	poll(t, "p-0-t RUNNING again", 60*time.Second, func() bool {
		nid, nagent, st := podTask(cl, fid, "p-0-t")
		return nid != "" && nid != id && nagent == agent && st == mesos.TASK_RUNNING
	})
	t.Logf("task killed → RUNNING again in place after %s", time.Since(killed).Round(time.Millisecond))
	poll(t, "the second line", 10*time.Second, func() bool {
		b, _ := os.ReadFile(vol)
		return string(b) == "run\nrun\n"
	})
	if now := reservedFor(t, cl, role); !slices.Equal(now.resourceIDs, first.resourceIDs) || !slices.Equal(now.volumeIDs, first.volumeIDs) {
		t.Errorf("a relaunch in place changed the reservation: %v → %v", first, now)
	}

	// Replace the pod: new reservation, new empty volume; the old ones go.
	id, _, _ = podTask(cl, fid, "p-0-t")
	if code, body := post(t, api+"/v1/pod/p-0/replace", ""); code != http.StatusOK {
		t.Fatalf("replace: %d %s", code, body)
	}
	poll(t, "p-0-t RUNNING after the replace", 60*time.Second, func() bool {
		nid, _, st := podTask(cl, fid, "p-0-t")
		return nid != "" && nid != id && st == mesos.TASK_RUNNING
	})
	var second reserved
	poll(t, "the old reservation released", 60*time.Second, func() bool {
		ids, settled := schedulerReservations(t, api)
		second = reservedFor(t, cl, role)
		return settled && slices.Equal(ids, second.resourceIDs)
	})
	if len(second.volumeIDs) != 1 || second.volumeIDs[0] == first.volumeIDs[0] {
		t.Errorf("volumes after the replace %v (before %v)", second.volumeIDs, first.volumeIDs)
	}
	for _, rid := range second.resourceIDs {
		if slices.Contains(first.resourceIDs, rid) {
			t.Errorf("resource ID %s kept across a replace", rid)
		}
	}
	poll(t, "one volume, with one line", 10*time.Second, func() bool {
		files := volumeFiles(t, cl)
		for _, c := range files {
			return len(files) == 1 && c == "run\n"
		}
		return false
	})

	// Uninstall: every reservation and volume released.
	p.kill(syscall.SIGTERM)
	var out, errb strings.Builder
	code := Run(context.Background(), []string{"scheduler-lite", "uninstall", "--master", cl.MasterURL(), "--state", "file:" + stateFile, "--kill-timeout", "20s", "--release-timeout", "30s", svc}, env, nil, &out, &errb)
	if code != 0 {
		t.Fatalf("uninstall exit %d: %s %s", code, out.String(), errb.String())
	}
	if want := fmt.Sprintf("%d reserved resources released, state deleted", len(second.resourceIDs)); !strings.Contains(out.String(), want) {
		t.Errorf("output %q, want %q", out.String(), want)
	}
	if left := reservedFor(t, cl, role); len(left.resourceIDs)+len(left.volumeIDs) != 0 {
		t.Errorf("left reserved after the uninstall: %+v", left)
	}
	if files := volumeFiles(t, cl); len(files) != 0 {
		t.Errorf("volumes left on disk: %v", files)
	}
}

// TestFaultSchedulerKill9Volumes kills the scheduler with SIGKILL 20 times
// at random points of a serial deploy of pods with volumes (between their
// RESERVE, CREATE and LAUNCH) and restarts it on the same state: the
// deploy completes, every pod runs once, and what the agents hold
// reserved is exactly what the scheduler records: nothing leaked or
// duplicated.
func TestFaultSchedulerKill9Volumes(t *testing.T) {
	t.Parallel() // a cluster of its own: see TestMain
	const pods, kills = 30, 20
	cl := cluster(t, testenv.Config{Agents: 3})
	env := []string{"SVC_NAME=kill9vol"}
	svc := statefulSpec(t, pods, "serial")
	args := []string{"--master", cl.MasterURL(), "--state", "file:" + filepath.Join(t.TempDir(), "state.db"),
		"--api-listen", "127.0.0.1:" + strconv.Itoa(freePort(t)), "--artifacts-dir", fastArtifacts(t), svc}
	p := startSchedEnv(t, "sched-0.log", env, args...)
	api := p.waitAPI(t, 30*time.Second)
	poll(t, "a framework ID", 30*time.Second, func() bool {
		var ids []string
		getJSON(t, api+"/v1/state/frameworkId", &ids)
		return len(ids) == 1
	})
	fid := fetchFrameworkID(t, api)
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	var points []string
	for i := 1; i <= kills; i++ {
		time.Sleep(time.Duration(100+rng.Intn(900)) * time.Millisecond)
		points = append(points, fmt.Sprintf("%d:%d", i, runningCount(cl, fid)))
		p.kill(syscall.SIGKILL)
		p = startSchedEnv(t, fmt.Sprintf("sched-%d.log", i), env, args...)
		p.waitAPI(t, 30*time.Second)
	}
	t.Logf("kills at (kill:running tasks) %s", strings.Join(points, " "))
	poll(t, "deploy COMPLETE", 180*time.Second, func() bool { return planStatus(api, "deploy") == plan.Complete })
	checkExactlyOnce(t, cl, fid, pods)
	var ids []string
	var held reserved
	poll(t, "the agents' reservations matching the scheduler's", 60*time.Second, func() bool {
		var settled bool
		ids, settled = schedulerReservations(t, api)
		held = reservedFor(t, cl, "kill9vol-role")
		return settled && slices.Equal(ids, held.resourceIDs)
	})
	if len(slices.Compact(slices.Clone(held.resourceIDs))) != len(held.resourceIDs) {
		t.Errorf("a resource ID reserved twice: %v", held.resourceIDs)
	}
	if len(held.volumeIDs) != pods || len(slices.Compact(slices.Clone(held.volumeIDs))) != pods {
		t.Errorf("%d volumes (%v), want %d", len(held.volumeIDs), held.volumeIDs, pods)
	}
	if files := volumeFiles(t, cl); len(files) != pods {
		t.Errorf("%d volumes with data, want %d", len(files), pods)
	}
}
