package store

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"
)

// TestBolt exercises every call, then reopens the file to check that
// everything survived.
func TestBolt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "state.db")
	s, err := Open("file:" + path)
	if err != nil {
		t.Fatal(err)
	}
	if id, err := s.FrameworkID(); err != nil || id != "" {
		t.Fatalf("empty store: %q %v", id, err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.SetFrameworkID("fw-1"))
	must(s.SetTarget("cfg1", []byte("yaml")))
	must(s.PutTasks(map[string][]byte{"hello-0-server": []byte("info0"), "hello-1-server": []byte("info1")}))
	must(s.PutStatus("hello-0-server", []byte("running")))
	must(s.PutPlan("deploy", []byte(`{}`)))
	must(s.SetProperties(map[string][]byte{"ca.crt": []byte("c"), "ca.key": []byte("k")}))
	if err := s.PutStatus("big", make([]byte, MaxValue+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("large value: %v", err)
	}
	if _, err := OpenBolt(path); err == nil {
		t.Fatal("a second open of a locked store succeeded")
	}
	must(s.Close())

	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if id, _ := s.FrameworkID(); id != "fw-1" {
		t.Errorf("framework ID %q", id)
	}
	if id, cfg, _ := s.Target(); id != "cfg1" || string(cfg) != "yaml" {
		t.Errorf("target %q %q", id, cfg)
	}
	tasks, _ := s.Tasks()
	if len(tasks) != 2 || string(tasks["hello-0-server"].Status) != "running" || tasks["hello-1-server"].Status != nil {
		t.Errorf("tasks %q", tasks)
	}
	// A relaunch replaces the info and keeps the last status until a new one.
	must(s.PutTasks(map[string][]byte{"hello-0-server": []byte("info0b")}))
	tasks, _ = s.Tasks()
	if string(tasks["hello-0-server"].Info) != "info0b" || string(tasks["hello-0-server"].Status) != "running" {
		t.Errorf("relaunch %q", tasks["hello-0-server"])
	}
	must(s.DeleteTasks("hello-1-server"))
	if tasks, _ = s.Tasks(); len(tasks) != 1 {
		t.Errorf("after delete %q", tasks)
	}
	if v, _ := s.Property("ca.key"); !bytes.Equal(v, []byte("k")) {
		t.Errorf("property %q", v)
	}
	if p, _ := s.Plans(); string(p["deploy"]) != "{}" {
		t.Errorf("plans %q", p)
	}
	must(s.SetFrameworkID(""))
	must(s.Clear())
	if tasks, _ = s.Tasks(); len(tasks) != 0 {
		t.Error("clear")
	}
	if _, err := Open("zk://127.0.0.1:2181/x"); err == nil {
		t.Error("zk accepted")
	}
}
