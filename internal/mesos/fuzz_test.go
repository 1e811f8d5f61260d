package mesos

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/client"
	"github.com/mesos/mesos-go/api/v1/lib/encoding"
	"github.com/mesos/mesos-go/api/v1/lib/encoding/framing"
	execpb "github.com/mesos/mesos-go/api/v1/lib/executor"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli"
	mrecordio "github.com/mesos/mesos-go/api/v1/lib/recordio"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"

	"github.com/taskkit/taskkit/internal/fuzzcheck"
	"github.com/taskkit/taskkit/internal/recordio"
)

// fuzzFrameMax is the record limit of the fuzzed readers: small, so that
// both sides of it are reached; MaxFrameBytes is tested on its own.
const fuzzFrameMax = 1 << 10

// seedCalls are calls of both APIs as schedulers and executors send them.
func seedCalls() []encoding.Marshaler {
	fid := &mesos.FrameworkID{Value: "fw-1"}
	return []encoding.Marshaler{
		&scheduler.Call{Type: scheduler.Call_SUBSCRIBE, Subscribe: &scheduler.Call_Subscribe{FrameworkInfo: &mesos.FrameworkInfo{User: "root", Name: "svc",
			Roles: []string{"svc-role"}, Capabilities: []mesos.FrameworkInfo_Capability{{Type: mesos.FrameworkInfo_Capability_MULTI_ROLE}}, FailoverTimeout: ptr(60.0)}}},
		&scheduler.Call{FrameworkID: fid, Type: scheduler.Call_ACCEPT, Accept: &scheduler.Call_Accept{OfferIDs: []mesos.OfferID{{Value: "o-1"}},
			Operations: []mesos.Offer_Operation{{Type: mesos.Offer_Operation_LAUNCH, Launch: &mesos.Offer_Operation_Launch{TaskInfos: []mesos.TaskInfo{{
				Name: "t", TaskID: mesos.TaskID{Value: "t-1"}, AgentID: mesos.AgentID{Value: "a-1"},
				Resources: []mesos.Resource{{Name: "cpus", Type: mesos.SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: 0.1}}},
				Command:   &mesos.CommandInfo{Value: ptr("exec sleep 30"), Environment: &mesos.Environment{Variables: []mesos.Environment_Variable{{Name: "A", Value: ptr("b")}}}},
			}}}}}}},
		&scheduler.Call{FrameworkID: fid, Type: scheduler.Call_ACKNOWLEDGE, Acknowledge: &scheduler.Call_Acknowledge{AgentID: mesos.AgentID{Value: "a"}, TaskID: mesos.TaskID{Value: "t"}, UUID: []byte{1, 2, 3}}},
		&scheduler.Call{FrameworkID: fid, Type: scheduler.Call_RECONCILE, Reconcile: &scheduler.Call_Reconcile{Tasks: []scheduler.Call_Reconcile_Task{{TaskID: mesos.TaskID{Value: "t"}}}}},
		&scheduler.Call{FrameworkID: fid, Type: scheduler.Call_KILL, Kill: &scheduler.Call_Kill{TaskID: mesos.TaskID{Value: "t"}}},
		&execpb.Call{FrameworkID: *fid, ExecutorID: mesos.ExecutorID{Value: "e"}, Type: execpb.Call_SUBSCRIBE, Subscribe: &execpb.Call_Subscribe{}},
		&execpb.Call{FrameworkID: *fid, ExecutorID: mesos.ExecutorID{Value: "e"}, Type: execpb.Call_UPDATE, Update: &execpb.Call_Update{Status: mesos.TaskStatus{
			TaskID: mesos.TaskID{Value: "t"}, State: mesos.TASK_RUNNING.Enum(), Source: mesos.SOURCE_EXECUTOR.Enum(), UUID: []byte("0123456789abcdef"), Timestamp: ptr(1712345678.5)}}},
	}
}

// seedEvents are events of both APIs as masters and agents send them.
func seedEvents() []encoding.Marshaler {
	return []encoding.Marshaler{
		&scheduler.Event{Type: scheduler.Event_SUBSCRIBED, Subscribed: &scheduler.Event_Subscribed{FrameworkID: &mesos.FrameworkID{Value: "fw"}, HeartbeatIntervalSeconds: ptr(15.0)}},
		&scheduler.Event{Type: scheduler.Event_OFFERS, Offers: &scheduler.Event_Offers{Offers: []mesos.Offer{{ID: mesos.OfferID{Value: "o"}, FrameworkID: mesos.FrameworkID{Value: "f"},
			AgentID: mesos.AgentID{Value: "a"}, Hostname: "h", Resources: []mesos.Resource{{Name: "mem", Type: mesos.SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: 1024}}}}}}},
		&scheduler.Event{Type: scheduler.Event_UPDATE, Update: &scheduler.Event_Update{Status: mesos.TaskStatus{TaskID: mesos.TaskID{Value: "t"}, State: mesos.TASK_FAILED.Enum(), Message: ptr("exit 1")}}},
		&scheduler.Event{Type: scheduler.Event_HEARTBEAT},
		&execpb.Event{Type: execpb.Event_SUBSCRIBED, Subscribed: &execpb.Event_Subscribed{ExecutorInfo: mesos.ExecutorInfo{ExecutorID: mesos.ExecutorID{Value: "e"}},
			FrameworkInfo: mesos.FrameworkInfo{User: "u", Name: "n"}, AgentInfo: mesos.AgentInfo{Hostname: "h"}}},
		&execpb.Event{Type: execpb.Event_LAUNCH, Launch: &execpb.Event_Launch{Task: mesos.TaskInfo{Name: "t", TaskID: mesos.TaskID{Value: "t"}, AgentID: mesos.AgentID{Value: "a"},
			Command: &mesos.CommandInfo{Value: ptr("true"), URIs: []mesos.CommandInfo_URI{{Value: "http://h/x.tgz", Extract: ptr(true)}}}}}},
		&execpb.Event{Type: execpb.Event_ACKNOWLEDGED, Acknowledged: &execpb.Event_Acknowledged{TaskID: mesos.TaskID{Value: "t"}, UUID: []byte{9}}},
		&execpb.Event{Type: execpb.Event_KILL, Kill: &execpb.Event_Kill{TaskID: mesos.TaskID{Value: "t"}}},
	}
}

// stream writes ms as one RecordIO stream with codec c.
func stream(tb testing.TB, c encoding.Codec, ms []encoding.Marshaler) []byte {
	tb.Helper()
	var buf bytes.Buffer
	w := mrecordio.NewWriter(&buf)
	for _, m := range ms {
		b, err := Marshal(c, m)
		if err != nil {
			tb.Fatal(err)
		}
		if err := w.WriteFrame(b); err != nil {
			tb.Fatal(err)
		}
	}
	return buf.Bytes()
}

// FuzzEvents decodes fuzzed event streams (records of protobuf or JSON)
// into scheduler and executor events, as the scheduler and the executor
// do. Property: every event decoded encodes (Marshal) and decodes again
// to an equal event, in both codecs.
func FuzzEvents(f *testing.F) {
	for _, c := range []encoding.Codec{ProtobufCodec, JSONCodec} {
		f.Add(stream(f, c, seedEvents()), c.Type == JSONCodec.Type)
	}
	f.Fuzz(func(t *testing.T, data []byte, json bool) {
		c := ProtobufCodec
		if json {
			c = JSONCodec
		}
		for _, newEvent := range []func() encoding.Unmarshaler{
			func() encoding.Unmarshaler { return new(scheduler.Event) },
			func() encoding.Unmarshaler { return new(execpb.Event) },
		} {
			dec := c.NewDecoder(func() framing.Reader { return recordio.NewReader(bytes.NewReader(data), fuzzFrameMax) })
			for i := 0; i < 64; i++ {
				ev := newEvent()
				if dec.Decode(ev) != nil {
					break
				}
				roundTrip(t, ev)
			}
		}
	})
}

// equaler is a gogo message with its generated Equal.
type equaler interface {
	encoding.Marshaler
	encoding.Unmarshaler
	Equal(any) bool
}

// roundTrip checks that m, when it is a valid protobuf message (mesos-go's
// JSON decoder does not check required fields; DecodeRequest does, with
// MissingRequired), encodes and decodes to itself in protobuf, and that
// its JSON encoding is a fixed point: decoded and encoded again, the same
// text. (JSON cannot compare as messages: Mesos writes the defaults of
// unset fields, "shell":true, and they decode as set.) JSON cannot hold
// NaN or the infinities: MarshalJSON refuses them; nor, for mesos-go,
// enum values it does not know (found by FuzzEvents: testdata/fuzz).
func roundTrip(t *testing.T, m encoding.Unmarshaler) {
	t.Helper()
	msg := m.(equaler)
	b, err := Marshal(ProtobufCodec, msg)
	if err != nil {
		if strings.Contains(err.Error(), "required field") {
			return
		}
		t.Fatalf("protobuf: encoding a decoded %T: %v", msg, err)
	}
	back := newLike(msg)
	if err := Unmarshal(ProtobufCodec, b, back); err != nil {
		t.Fatalf("protobuf: %T does not decode from its own encoding: %v", msg, err)
	}
	// Equal compares doubles with ==, and a NaN (a heartbeat interval of
	// fuzzed bits) is unequal to itself: the same encoding again is then
	// the round trip's proof.
	if b2, err := Marshal(ProtobufCodec, back); !msg.Equal(back) && (err != nil || !bytes.Equal(b, b2)) {
		t.Fatalf("protobuf: %T changed in the round trip (%v)", msg, err)
	}
	j, err := Marshal(JSONCodec, msg)
	if err != nil {
		if errors.Is(err, errNotFinite) { // JSON has no NaN or infinity (RFC 8259 §6)
			return
		}
		t.Fatalf("JSON: encoding a decoded %T: %v", msg, err)
	}
	back = newLike(msg)
	if err := Unmarshal(JSONCodec, j, back); err != nil {
		if strings.Contains(err.Error(), "unrecognized enum") {
			// An enum value this mesos-go does not know (a newer Mesos's,
			// or noise), kept by protobuf as a number: its JSON encoder
			// writes it as "48", which its decoder refuses. Neither the
			// scheduler nor the executor writes a decoded event as JSON.
			return
		}
		t.Fatalf("JSON: %T encoded as %s does not decode: %v", msg, j, err)
	}
	j2, err := Marshal(JSONCodec, back)
	if err != nil {
		t.Fatalf("JSON: encoding %T decoded from %s: %v", msg, j, err)
	}
	if !bytes.Contains(j, []byte(`\ufffd`)) {
		if !bytes.Equal(j, j2) {
			t.Fatalf("JSON: %T is not a fixed point:\n%s\n%s", msg, j, j2)
		}
		return
	}
	// A protobuf string holding invalid UTF-8, which JSON cannot carry
	// (RFC 8259 §8.1), is written with each bad byte as the escape \ufffd;
	// decoded, that is U+FFFD, which the encoder writes raw. The second
	// encoding is then the fixed point.
	back2 := newLike(msg)
	if err := Unmarshal(JSONCodec, j2, back2); err != nil || !back.Equal(back2) {
		t.Fatalf("JSON: %T changed in its second round trip:\n%s (%v)", msg, j2, err)
	}
	if j3, err := Marshal(JSONCodec, back2); err != nil || !bytes.Equal(j2, j3) {
		t.Fatalf("JSON: %T is not a fixed point from its second encoding:\n%s\n%s (%v)", msg, j2, j3, err)
	}
}

func newLike(m equaler) equaler {
	switch m.(type) {
	case *scheduler.Event:
		return new(scheduler.Event)
	case *execpb.Event:
		return new(execpb.Event)
	case *scheduler.Call:
		return new(scheduler.Call)
	case *execpb.Call:
		return new(execpb.Call)
	}
	panic(fmt.Sprintf("newLike: %T", m))
}

// FuzzDecodeRequest posts fuzzed bodies as scheduler and executor calls
// to DecodeRequest, as testenv's master and agents do. Properties: a
// refusal is an *HTTPError of 400, 413 or 415; an accepted call encodes
// and decodes to itself in both codecs; for protobuf, typeSet says
// whether the body holds field 2 (type).
func FuzzDecodeRequest(f *testing.F) {
	for _, m := range seedCalls() {
		_, exec := m.(*execpb.Call)
		for _, c := range []encoding.Codec{ProtobufCodec, JSONCodec} {
			b, err := Marshal(c, m)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b, c.Type == JSONCodec.Type, exec)
		}
	}
	f.Add([]byte(`{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":null}}}`), true, false)
	f.Add([]byte(`{"type":"SUBSCRIBE","subscribe":{"framework_info":{}}}`), true, false)
	f.Add([]byte(`{"type":"ACCEPT","accept":{"operations":[{"type":"LAUNCH","launch":{"task_infos":[{}]}}]}}`), true, false)
	f.Fuzz(func(t *testing.T, body []byte, json, exec bool) {
		checkDecodeRequest(t, body, json, exec)
	})
}

func checkDecodeRequest(t *testing.T, body []byte, json, exec bool) {
	ct := MediaTypeProtobuf
	if json {
		ct = MediaTypeJSON
	}
	r := httptest.NewRequest(http.MethodPost, "/api/v1/scheduler", bytes.NewReader(body))
	r.Header.Set("Content-Type", ct)
	var call equaler = new(scheduler.Call)
	if exec {
		call = new(execpb.Call)
	}
	_, typeSet, err := DecodeRequest(r, call, "type", 2)
	if err != nil {
		var he *HTTPError
		if !errors.As(err, &he) || (he.Code != 400 && he.Code != 413 && he.Code != 415) {
			t.Fatalf("refusal is not a 400, 413 or 415: %v", err)
		}
		return
	}
	if !json && typeSet != hasProtobufField(body, 2) {
		t.Fatalf("typeSet %v for a body whose field 2 is %v", typeSet, hasProtobufField(body, 2))
	}
	roundTrip(t, call)
}

// TestFrameLimitBeforeReading is the regression test of the unbounded
// RecordIO reads: mesos-go's reader, as httpcli builds it, answers a
// length prefix of 10^12 by buffering what follows until 4 MiB have
// arrived; recordio.NewReader refuses it as soon as the prefix is read, and
// an httpcli client with BoundedStreams reads its event stream that way.
func TestFrameLimitBeforeReading(t *testing.T) {
	huge := append([]byte("1000000000000\n"), make([]byte, 3<<20)...)
	var frameErr error
	c := fuzzcheck.Budget{Alloc: MaxFrameBytes/2 + 64<<10}.Check(t, "recordio.NewReader", func() {
		_, frameErr = recordio.NewReader(bytes.NewReader(huge), MaxFrameBytes).ReadFrame()
	})
	if !errors.Is(frameErr, framing.ErrorOversizedFrame) {
		t.Fatalf("recordio.NewReader: %v (%v)", frameErr, c)
	}
	unbounded := fuzzcheck.Measure(func() { mrecordio.NewReader(bytes.NewReader(huge)).ReadFrame() })
	t.Logf("a 10^12 prefix and 3 MiB behind it: recordio.NewReader %v, mesos-go's default reader %v", c, unbounded)

	// An event stream with the prefix, through an httpcli client.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/recordio")
		w.Header().Set("Message-Content-Type", MediaTypeProtobuf)
		w.WriteHeader(http.StatusOK)
		w.Write([]byte("1000000000000\n"))
		w.(http.Flusher).Flush()
		<-r.Context().Done() // the rest never comes
	}))
	defer srv.Close()
	cli := httpcli.New(httpcli.Endpoint(srv.URL), httpcli.Codec(ProtobufCodec), BoundedStreams(ProtobufCodec))
	resp, err := cli.Send(client.RequestSingleton(&scheduler.Call{Type: scheduler.Call_SUBSCRIBE}), client.ResponseClassStreaming)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Close()
	done := make(chan error, 1)
	go func() { done <- resp.Decode(new(scheduler.Event)) }()
	select {
	case err := <-done:
		if !errors.Is(err, framing.ErrorOversizedFrame) {
			t.Fatalf("decoding the stream: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the client waits for a record it should refuse")
	}

	// A call that gets no response at all is an error, as without
	// BoundedStreams.
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	cli = httpcli.New(httpcli.Endpoint(closed.URL), httpcli.Codec(ProtobufCodec), BoundedStreams(ProtobufCodec))
	if _, err := cli.Send(client.RequestSingleton(&scheduler.Call{Type: scheduler.Call_SUBSCRIBE}), client.ResponseClassStreaming); err == nil {
		t.Fatal("a call to a closed server succeeded")
	}
}

// TestDecodeBudget decodes 1 MiB request bodies of many repeated fields
// within 64 MiB allocated, in each codec (JSON is decoded twice: into a
// generic document for the required fields, and into the call; about 45
// bytes per byte of small objects; protobuf about 18).
func TestDecodeBudget(t *testing.T) {
	b := fuzzcheck.Budget{Alloc: 64 * fuzzcheck.MiB}
	tasks := strings.Repeat(`{"task_id":{"value":"t"}},`, fuzzcheck.MiB/26)
	jsonBody := []byte(`{"type":"RECONCILE","framework_id":{"value":"f"},"reconcile":{"tasks":[` + tasks + `{"task_id":{"value":"t"}}]}}`)
	one, _ := Marshal(ProtobufCodec, &scheduler.Call{Type: scheduler.Call_RECONCILE, Reconcile: &scheduler.Call_Reconcile{Tasks: []scheduler.Call_Reconcile_Task{{TaskID: mesos.TaskID{Value: "t"}}}}})
	for name, in := range map[string]struct {
		body []byte
		ct   string
	}{
		"JSON":     {jsonBody, MediaTypeJSON},
		"protobuf": {fuzzcheck.Sized(one, fuzzcheck.MiB), MediaTypeProtobuf},
	} {
		r := httptest.NewRequest(http.MethodPost, "/api/v1/scheduler", bytes.NewReader(in.body))
		r.Header.Set("Content-Type", in.ct)
		var err error
		c := b.Check(t, name, func() { _, _, err = DecodeRequest(r, new(scheduler.Call), "type", 2) })
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
		t.Logf("%s: %v", name, c)
	}
}
