package testenv

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/encoding/codecs"
	execpb "github.com/mesos/mesos-go/api/v1/lib/executor"
	"github.com/mesos/mesos-go/api/v1/lib/executor/calls"
	"github.com/mesos/mesos-go/api/v1/lib/executor/config"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli/httpexec"

	mesosx "github.com/taskkit/taskkit/internal/mesos"
)

// helperEnv makes the test binary run as the test executor.
const helperEnv = "TESTENV_TEST_EXECUTOR"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		os.Exit(runTestExecutor())
	}
	if os.Getenv(upHelperEnv) == "1" {
		os.Exit(runUpHelper())
	}
	if addr := os.Getenv(listenerEnv); addr != "" {
		os.Exit(runTestListener(addr, os.Getenv(listenerNameEnv)))
	}
	os.Exit(m.Run())
}

// resubscribeEnv makes the test executor drop its first subscription, as
// an executor whose SUBSCRIBE timed out does, and subscribe again; its
// value says what the executor had received of the first stream.
const resubscribeEnv = "TESTENV_TEST_EXECUTOR_RESUBSCRIBE"

// resubscribe subscribes, drops the stream once the response has begun and
// subscribes again, as mode says:
//
//	"forget"    nothing read: the new SUBSCRIBE knows no task
//	"remember"  the launch read: the new SUBSCRIBE lists its task in
//	            unacknowledged_tasks
//	"update"    the launch read and TASK_STARTING sent, unacknowledged: the
//	            new SUBSCRIBE carries the update, not the task
//
// After "remember" and "update" it sends TASK_RUNNING, counts the LAUNCH
// and LAUNCH_GROUP events the new stream carries before that update's
// acknowledgement (the agent sends the queued launches before it), and
// ends the task TASK_FINISHED "launches after re-subscribe: N". It returns
// the new stream.
func resubscribe(ctx context.Context, mode string, subscriber, sender calls.Sender, executorID string) (mesos.Response, error) {
	first, err := subscriber.Send(ctx, calls.NonStreaming(calls.Subscribe(nil, nil)))
	if err != nil {
		return nil, err
	}
	var task *mesos.TaskInfo
	for mode != "forget" && task == nil {
		var ev execpb.Event
		if err := first.Decode(&ev); err != nil {
			first.Close()
			return nil, fmt.Errorf("first stream: %w", err)
		}
		switch ev.Type {
		case execpb.Event_LAUNCH:
			task = &ev.Launch.Task
		case execpb.Event_LAUNCH_GROUP:
			task = &ev.LaunchGroup.TaskGroup.Tasks[0]
		}
	}
	first.Close()
	status := func(state mesos.TaskState, msg string) mesos.TaskStatus {
		src := mesos.SOURCE_EXECUTOR
		eid := mesos.ExecutorID{Value: executorID}
		return mesos.TaskStatus{TaskID: task.TaskID, State: &state, Source: &src, UUID: mesosx.NewUUID(), ExecutorID: &eid, Message: &msg}
	}
	var tasks []mesos.TaskInfo
	var updates []execpb.Call_Update
	switch mode {
	case "remember":
		tasks = []mesos.TaskInfo{*task}
	case "update":
		updates = []execpb.Call_Update{{Status: status(mesos.TASK_STARTING, "")}}
	}
	resp, err := subscriber.Send(ctx, calls.NonStreaming(calls.Subscribe(tasks, updates)))
	if err != nil || mode == "forget" {
		return resp, err
	}
	running := status(mesos.TASK_RUNNING, "")
	launches := 0
	for {
		var ev execpb.Event
		if err := resp.Decode(&ev); err != nil {
			resp.Close()
			return nil, fmt.Errorf("second stream: %w", err)
		}
		switch ev.Type {
		case execpb.Event_SUBSCRIBED:
			if _, err := sender.Send(ctx, calls.NonStreaming(calls.Update(running))); err != nil {
				resp.Close()
				return nil, fmt.Errorf("update: %w", err)
			}
		case execpb.Event_LAUNCH, execpb.Event_LAUNCH_GROUP:
			launches++
		case execpb.Event_ACKNOWLEDGED:
			if string(ev.Acknowledged.UUID) != string(running.UUID) {
				continue
			}
			finished := status(mesos.TASK_FINISHED, fmt.Sprintf("launches after re-subscribe: %d", launches))
			if _, err := sender.Send(ctx, calls.NonStreaming(calls.Update(finished))); err != nil {
				resp.Close()
				return nil, fmt.Errorf("update: %w", err)
			}
			return resp, nil
		}
	}
}

// runTestExecutor is a tiny custom executor written with mesos-go's
// executor packages. A task's data says what it does:
//
//	"finish"  RUNNING then FINISHED
//	"run"     RUNNING until killed (KILLED)
//	"exit"    RUNNING, then the executor exits with status 7
//
// RUNNING's message lists the sandbox's files. MESSAGE events are echoed
// back with an "echo:" prefix. SHUTDOWN kills every task and exits.
func runTestExecutor() int {
	cfg, err := config.FromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, "config:", err)
		return 2
	}
	u := url.URL{Scheme: "http", Host: cfg.AgentEndpoint, Path: "/api/v1/executor"}
	cli := httpcli.New(httpcli.Endpoint(u.String()), httpcli.Codec(codecs.ByMediaType[codecs.MediaTypeProtobuf]),
		httpcli.Do(httpcli.With(httpcli.Timeout(10*time.Second))))
	opts := execpb.CallOptions{calls.Framework(cfg.FrameworkID), calls.Executor(cfg.ExecutorID)}
	sender := calls.SenderWith(httpexec.NewSender(cli.Send), opts...)
	subscriber := calls.SenderWith(httpexec.NewSender(cli.Send, httpcli.Close(true)), opts...)
	ctx := context.Background()

	var mu sync.Mutex
	live := map[string]bool{}
	send := func(id mesos.TaskID, state mesos.TaskState, msg string) {
		src := mesos.SOURCE_EXECUTOR
		eid := mesos.ExecutorID{Value: cfg.ExecutorID}
		st := mesos.TaskStatus{TaskID: id, State: &state, Source: &src, UUID: mesosx.NewUUID(), ExecutorID: &eid}
		if msg != "" {
			st.Message = &msg
		}
		if _, err := sender.Send(ctx, calls.NonStreaming(calls.Update(st))); err != nil {
			fmt.Fprintln(os.Stderr, "update:", err)
		}
	}
	start := func(ti mesos.TaskInfo) (exit bool) {
		entries, _ := os.ReadDir(cfg.Sandbox)
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		sort.Strings(names)
		send(ti.TaskID, mesos.TASK_RUNNING, "sandbox: "+strings.Join(names, ","))
		switch string(ti.Data) {
		case "finish":
			send(ti.TaskID, mesos.TASK_FINISHED, "")
		case "env":
			// The agent-given environment, for TestExecutorEnvironment.
			var vars []string
			for _, kv := range os.Environ() {
				if strings.HasPrefix(kv, "MESOS_") || strings.HasPrefix(kv, "LIBPROCESS_") || strings.HasPrefix(kv, "EXECUTOR_") {
					vars = append(vars, kv)
				}
			}
			sort.Strings(vars)
			wd, _ := os.Getwd()
			send(ti.TaskID, mesos.TASK_FINISHED, strings.Join(append(vars, "PWD="+wd), "\n"))
		case "exit":
			return true
		default:
			mu.Lock()
			live[ti.TaskID.Value] = true
			mu.Unlock()
		}
		return false
	}
	var resp mesos.Response
	if mode := os.Getenv(resubscribeEnv); mode != "" {
		resp, err = resubscribe(ctx, mode, subscriber, sender, cfg.ExecutorID)
	} else {
		resp, err = subscriber.Send(ctx, calls.NonStreaming(calls.Subscribe(nil, nil)))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "subscribe:", err)
		return 3
	}
	defer resp.Close()
	for {
		var ev execpb.Event
		if err := resp.Decode(&ev); err != nil {
			return 0
		}
		switch ev.Type {
		case execpb.Event_LAUNCH:
			if start(ev.Launch.Task) {
				return 7
			}
		case execpb.Event_LAUNCH_GROUP:
			for _, ti := range ev.LaunchGroup.TaskGroup.Tasks {
				if start(ti) {
					return 7
				}
			}
		case execpb.Event_KILL:
			mu.Lock()
			ok := live[ev.Kill.TaskID.Value]
			delete(live, ev.Kill.TaskID.Value)
			mu.Unlock()
			if ok {
				send(ev.Kill.TaskID, mesos.TASK_KILLED, "")
			}
		case execpb.Event_MESSAGE:
			_, _ = sender.Send(ctx, calls.NonStreaming(calls.Message(append([]byte("echo:"), ev.Message.Data...))))
		case execpb.Event_SHUTDOWN:
			mu.Lock()
			var ids []string
			for id := range live {
				ids = append(ids, id)
			}
			live = map[string]bool{}
			mu.Unlock()
			for _, id := range ids {
				send(mesos.TaskID{Value: id}, mesos.TASK_KILLED, "shutdown")
			}
			return 0
		}
	}
}
