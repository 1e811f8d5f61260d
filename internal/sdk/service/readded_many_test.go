package service

import (
	"fmt"
	"strings"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/sdk/reservation"
	"github.com/taskkit/taskkit/internal/sdk/sdktest"
	"github.com/taskkit/taskkit/internal/store"
)

// zkLimit is ZooKeeper's default jute.maxbuffer: a request (a multi
// transaction included) larger than that closes the session's connection.
const zkLimit = 0xfffff

// zkLimited refuses, as ZooKeeper does, a multi-key write whose request
// would exceed zkLimit; it counts the bytes of reservations written.
type zkLimited struct {
	store.Store
	reserved int
}

func requestSize(kv map[string][]byte) int {
	n := 0
	for k, v := range kv {
		n += len(k) + len(v) + 64 // the op's path prefix and header
	}
	return n
}

func (z *zkLimited) PutReservations(kv map[string][]byte) error {
	if n := requestSize(kv); n > zkLimit {
		return fmt.Errorf("ZooKeeper write: a request of %d bytes exceeds jute.maxbuffer (%d): connection closed", n, zkLimit)
	}
	z.reserved += requestSize(kv)
	return z.Store.PutReservations(kv)
}

func (z *zkLimited) PutTasks(kv map[string][]byte) error {
	if n := requestSize(kv); n > zkLimit {
		return fmt.Errorf("ZooKeeper write: a request of %d bytes exceeds jute.maxbuffer (%d): connection closed", n, zkLimit)
	}
	return z.Store.PutTasks(kv)
}

func (z *zkLimited) PutStatuses(kv map[string][]byte) error {
	if n := requestSize(kv); n > zkLimit {
		return fmt.Errorf("ZooKeeper write: a request of %d bytes exceeds jute.maxbuffer (%d): connection closed", n, zkLimit)
	}
	return z.Store.PutStatuses(kv)
}

// manyInstances is yaml (swappedSets, reusedSet) with count pods,
// deployed in parallel.
func manyInstances(yaml string, count int) string {
	return strings.Replace(yaml, "count: 1", fmt.Sprintf("count: %d", count), 1) + `plans:
  deploy:
    phases:
      p: {pod: p, strategy: parallel}
`
}

// TestRemovedTaskAddedBackOnManyInstances: TestRemovedTaskAddedBackToItsReusedSet
// on 700 pod instances with a ZooKeeper state store: b (on y, with a
// volume) removed from every instance while a new task c takes y, so at
// start what b held leaves each instance's reservation for a released
// record (releaseRemoved), then b added back on y (keepAddedBack takes it
// back). The scheduler stored each of those start-time changes as one
// write of every instance's reservation and record: over ZooKeeper's
// request limit (jute.maxbuffer, 1 MiB), so the scheduler could not start
// at all, where every write on the event loop is chunked (outbox,
// putChunked; followRenames at start too). The SDK writes its state store
// a task at a time. Each is now chunked, an instance's reservation and
// its records together (a crash between chunks leaves each instance
// whole), and b keeps its volume on every instance.
func TestRemovedTaskAddedBackOnManyInstances(t *testing.T) {
	const count, agents = 700, 60
	bolt, err := store.OpenBolt(t.TempDir() + "/state.db")
	if err != nil {
		t.Fatal(err)
	}
	defer bolt.Close()
	zk := &zkLimited{Store: bolt}
	st := &countingStore{Store: zk}

	h := newHarness(t, manyInstances(fmt.Sprintf(swappedSets, "x", "y"), count), st, nil)
	h.ready()
	// Agents of room for 13 pods each (an agent's launches are one
	// write: a few pods each, as on a cluster).
	var offers []mesos.Offer
	for i := range agents {
		offers = append(offers, sdktest.Offer(fmt.Sprint("o", i), fmt.Sprint("a", i), fmt.Sprint("h", i), sdktest.CPUs(4), sdktest.Mem(4096), sdktest.Disk(16384)))
	}
	h.master.Send(t, sdktest.Offers(offers...))
	volumes := map[string]string{} // task → persistence ID
	h.eventually("every pod launched", func() bool {
		for _, c := range h.master.Calls() {
			if c.Type != tACCEPT {
				continue
			}
			for _, ti := range launched(c) {
				if _, ok := volumes[ti.Name]; !ok {
					volumes[ti.Name] = volumesOf(c)[ti.Name]
					h.master.Send(t, sdktest.Status(ti.TaskID.Value, ti.AgentID.Value, mesos.TASK_RUNNING))
				}
			}
		}
		return len(volumes) == 2*count
	})
	h.eventually("deployed", func() bool { return h.s.PlanStatus(plan.Deploy) == plan.Complete })
	h.skip() // (the RESERVEs' confirmations may wait for the next start)
	h.stop()

	// b removed while c takes y: released at start, then a crash.
	zk.reserved = 0
	if _, err := New(testConfig(t, manyInstances(reusedSet, count), st, sdktest.NewMaster(), sdktest.NewClock(epoch))); err != nil {
		t.Fatalf("the scheduler does not start on the configuration without b: %v", err)
	}
	if zk.reserved <= zkLimit {
		t.Fatalf("the start wrote %d bytes of reservations: the fixture is too small to exceed ZooKeeper's limit", zk.reserved)
	}
	// b added back on y.
	if _, err := New(testConfig(t, manyInstances(fmt.Sprintf(swappedSets, "x", "y"), count), st, sdktest.NewMaster(), sdktest.NewClock(epoch))); err != nil {
		t.Fatalf("the scheduler does not start on the configuration with b back: %v", err)
	}
	all, err := st.Reservations()
	if err != nil {
		t.Fatal(err)
	}
	for i := range count {
		inst := fmt.Sprintf("p-%d", i)
		b, ok := all[inst]
		if !ok {
			t.Fatalf("%s holds no reservation", inst)
		}
		r, err := reservation.Unmarshal(b)
		if err != nil {
			t.Fatal(err)
		}
		kept := false
		for _, it := range r.Items {
			kept = kept || it.Resource.GetDisk().GetPersistence().GetID() == volumes[inst+"-b"]
		}
		if !kept {
			t.Errorf("%s does not hold b's volume %s again: %s", inst, volumes[inst+"-b"], reservation.Describe(itemResources(r)))
		}
	}
}

// TestPutReservationsKeepsInstancesWhole: putReservations splits a write
// into transactions of at most maxChunk bytes, each pod instance's
// reservation and its released records ("<instance>@<ID>") in the same
// one; an instance larger than maxChunk goes alone.
func TestPutReservationsKeepsInstancesWhole(t *testing.T) {
	for _, tc := range []struct {
		name       string
		insts      int
		own, rec   int // bytes of an instance's reservation, of each of its records
		records    int
		wantWrites int // at least
	}{
		{"Small", 3, 100, 50, 1, 1},
		{"Many", 400, 3000, 1000, 2, 3},
		{"InstanceOverChunk", 2, maxChunk, 100, 1, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kv := map[string][]byte{}
			for i := range tc.insts {
				kv[fmt.Sprintf("p-%d", i)] = make([]byte, tc.own)
				for r := range tc.records {
					kv[fmt.Sprintf("p-%d@id-%d", i, r)] = make([]byte, tc.rec)
				}
			}
			written := map[string]int{} // key → the write that held it
			writes := 0
			err := putReservations(func(chunk map[string][]byte) error {
				size := 0
				for k, v := range chunk {
					if _, dup := written[k]; dup {
						t.Errorf("%s written twice", k)
					}
					written[k] = writes
					size += len(v)
				}
				if size > maxChunk && len(chunk) > 1+tc.records {
					t.Errorf("write %d: %d bytes over %d, with more than one instance", writes, size, maxChunk)
				}
				writes++
				return nil
			}, kv)
			if err != nil {
				t.Fatal(err)
			}
			if len(written) != len(kv) || writes < tc.wantWrites {
				t.Errorf("%d of %d keys written in %d writes, want at least %d", len(written), len(kv), writes, tc.wantWrites)
			}
			for k, w := range written {
				inst, _, _ := strings.Cut(k, "@")
				if written[inst] != w {
					t.Errorf("%s in write %d, %s in write %d", k, w, inst, written[inst])
				}
			}
		})
	}
}
