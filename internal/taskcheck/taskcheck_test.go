package taskcheck

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"syscall"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/taskkit/taskkit/internal/health"
	"github.com/taskkit/taskkit/internal/probe"
)

// TestHealthReport follows HealthChecker::success and failure
// (src/checks/health_checker.cpp, Mesos 1.11): healthy on the first
// success and the first after failures, unhealthy on every counted
// failure, a kill once consecutive_failures is reached, nothing for a
// success after a success or a failure ignored in the grace period.
func TestHealthReport(t *testing.T) {
	pass := health.Check{Result: probe.Result{Status: probe.Healthy}, Counted: true}
	fail := health.Check{Result: probe.Result{Status: probe.Unhealthy}, Counted: true}
	ignored := health.Check{Result: probe.Result{Status: probe.Unhealthy}}
	for _, tc := range []struct {
		name                  string
		ev                    health.Event
		report, healthy, kill bool
	}{
		{"first success", health.Event{Check: pass, From: health.Unknown, To: health.Healthy}, true, true, false},
		{"success after a success", health.Event{Check: pass, From: health.Healthy, To: health.Healthy}, false, false, false},
		{"success after failures", health.Event{Check: pass, From: health.Unhealthy, To: health.Healthy}, true, true, false},
		{"failure in the grace period", health.Event{Check: ignored, From: health.Unknown, To: health.Unknown}, false, false, false},
		{"counted failure", health.Event{Check: fail, From: health.Healthy, To: health.Unhealthy}, true, false, false},
		{"another counted failure", health.Event{Check: fail, From: health.Unhealthy, To: health.Unhealthy}, true, false, false},
		{"failure reaching the threshold", health.Event{Check: fail, From: health.Unhealthy, To: health.Failed}, true, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			report, healthy, kill := HealthReport(tc.ev)
			if report != tc.report || healthy != tc.healthy || kill != tc.kill {
				t.Errorf("got report=%v healthy=%v kill=%v, want %v %v %v", report, healthy, kill, tc.report, tc.healthy, tc.kill)
			}
		})
	}
}

// firstStatus runs ci's checker until its first result.
func firstStatus(t *testing.T, ci *mesos.CheckInfo, tg Target) *mesos.CheckStatusInfo {
	t.Helper()
	zero, timeout := 0.0, 2.0
	ci.DelaySeconds, ci.TimeoutSeconds = &zero, &timeout
	got := make(chan *mesos.CheckStatusInfo, 1)
	c, err := Check(ci, tg, func(st *mesos.CheckStatusInfo) {
		select {
		case got <- st:
		default:
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Run(ctx) }()
	defer func() { cancel(); <-done }()
	select {
	case st := <-got:
		return st
	case <-time.After(30 * time.Second):
		t.Fatal("no result within 30s")
		return nil
	}
}

// TestCheckStatus follows CheckerProcess' results
// (src/checks/checker_process.cpp, Mesos 1.11) and Checker's empty status
// for a run that failed (src/checks/checker.cpp), against real loopback
// servers.
func TestCheckStatus(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			w.WriteHeader(http.StatusTeapot)
		case "/moved":
			http.Redirect(w, r, "/down", http.StatusFound)
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	host, portStr, _ := net.SplitHostPort(srv.Listener.Addr().String())
	port, _ := strconv.Atoi(portStr)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	exit := func(code int) probe.Prober {
		return probe.Func(func(context.Context) probe.Result {
			st := probe.Unhealthy
			if code == 0 {
				st = probe.Healthy
			}
			return probe.Result{Status: st, ExitCode: code}
		})
	}
	hang := probe.Func(func(ctx context.Context) probe.Result {
		<-ctx.Done()
		return probe.TimedOut(ctx)
	})
	i32 := func(v int32) *int32 { return &v }
	u32 := func(v uint32) *uint32 { return &v }
	yes, no := true, false
	cmdType, httpType, tcpType := mesos.CheckInfo_COMMAND, mesos.CheckInfo_HTTP, mesos.CheckInfo_TCP
	command := &mesos.CheckInfo_Command{Command: mesos.CommandInfo{Value: strPtr("x")}}
	for _, tc := range []struct {
		name string
		ci   *mesos.CheckInfo
		cmd  probe.Prober
		host string
		want *mesos.CheckStatusInfo
	}{
		{"COMMAND exit 3", &mesos.CheckInfo{Type: cmdType, Command: command}, exit(3), "",
			&mesos.CheckStatusInfo{Type: &cmdType, Command: &mesos.CheckStatusInfo_Command{ExitCode: i32(3)}}},
		{"COMMAND exit 0", &mesos.CheckInfo{Type: cmdType, Command: command}, exit(0), "",
			&mesos.CheckStatusInfo{Type: &cmdType, Command: &mesos.CheckStatusInfo_Command{ExitCode: i32(0)}}},
		{"COMMAND killed by a signal: empty", &mesos.CheckInfo{Type: cmdType, Command: command},
			probe.Func(func(context.Context) probe.Result {
				return probe.Result{Status: probe.Unhealthy, ExitCode: 137, Signal: syscall.SIGKILL}
			}), "",
			&mesos.CheckStatusInfo{Type: &cmdType, Command: &mesos.CheckStatusInfo_Command{}}},
		{"COMMAND timed out: empty", &mesos.CheckInfo{Type: cmdType, Command: command}, hang, "",
			&mesos.CheckStatusInfo{Type: &cmdType, Command: &mesos.CheckStatusInfo_Command{}}},
		{"HTTP without path asks for /", &mesos.CheckInfo{Type: httpType, HTTP: &mesos.CheckInfo_Http{Port: uint32(port)}}, nil, host,
			&mesos.CheckStatusInfo{Type: &httpType, HTTP: &mesos.CheckStatusInfo_Http{StatusCode: u32(http.StatusTeapot)}}},
		{"HTTP redirect followed", &mesos.CheckInfo{Type: httpType, HTTP: &mesos.CheckInfo_Http{Port: uint32(port), Path: strPtr("/moved")}}, nil, host,
			&mesos.CheckStatusInfo{Type: &httpType, HTTP: &mesos.CheckStatusInfo_Http{StatusCode: u32(http.StatusServiceUnavailable)}}},
		{"HTTP refused: empty", &mesos.CheckInfo{Type: httpType, HTTP: &mesos.CheckInfo_Http{Port: uint32(closedPort)}}, nil, "",
			&mesos.CheckStatusInfo{Type: &httpType, HTTP: &mesos.CheckStatusInfo_Http{}}},
		{"TCP accepted", &mesos.CheckInfo{Type: tcpType, TCP: &mesos.CheckInfo_Tcp{Port: uint32(port)}}, nil, host,
			&mesos.CheckStatusInfo{Type: &tcpType, TCP: &mesos.CheckStatusInfo_Tcp{Succeeded: &yes}}},
		{"TCP refused", &mesos.CheckInfo{Type: tcpType, TCP: &mesos.CheckInfo_Tcp{Port: uint32(closedPort)}}, nil, "",
			&mesos.CheckStatusInfo{Type: &tcpType, TCP: &mesos.CheckStatusInfo_Tcp{Succeeded: &no}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tg := Target{Host: tc.host, Command: func(*mesos.CommandInfo) probe.Prober { return tc.cmd }}
			ci := *tc.ci
			got := firstStatus(t, &ci, tg)
			if !got.Equal(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func strPtr(s string) *string { return &s }
