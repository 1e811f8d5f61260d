package testenv

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

// TestMasterJSONRendering: the master's JSON endpoints answer as Mesos
// 1.11's do (libprocess' OK(JSON::Value, jsonp)): compact JSON, no
// indentation and no trailing newline; `?jsonp=NAME` wraps it as
// `NAME(...)`, text/javascript. Mesos has no parameter for indented
// output, so `?pretty=true` changes nothing. Strings are escaped as
// rapidjson's Writer escapes them: a framework named "a&b<c>" stays so,
// and so does a task label (a message in Mesos' JSON mapping inside
// /state); U+2028 is the character, a control character \u00XX with
// upper-case hex.
func TestMasterJSONRendering(t *testing.T) {
	cl := startCluster(t, Config{Agents: 1})
	s := subscribe(t, cl, frameworkInfo("a&b<c>\u2028d\x1f"), protoCodec)
	o := s.offers()[0]
	ti := commandTask("labelled", o, "exec sleep 30")
	ti.Labels = &mesos.Labels{Labels: []mesos.Label{{Key: "k&<>", Value: strPtr("x<y>&z\u2029")}}}
	s.launch(o, ti)
	s.updateAck("labelled", mesos.TASK_STARTING)
	for _, tc := range []struct {
		path, contentType, prefix string
	}{
		{"/state", "application/json", ""},
		{"/master/state.json", "application/json", ""},
		{"/slaves", "application/json", ""},
		{"/master/slaves", "application/json", ""},
		{"/state?pretty=true", "application/json", ""},
		{"/slaves?pretty=true", "application/json", ""},
		{"/state?jsonp=cb", "text/javascript", "cb("},
		{"/slaves?jsonp=angular.callbacks._0", "text/javascript", "angular.callbacks._0("},
		{"/slaves?jsonp=", "text/javascript", "("},
	} {
		t.Run(tc.path, func(t *testing.T) {
			res, err := http.Get(cl.MasterURL() + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != tc.contentType {
				t.Fatalf("%s, Content-Type %q; want 200 OK, %q", res.Status, res.Header.Get("Content-Type"), tc.contentType)
			}
			if tc.prefix != "" {
				if !bytes.HasPrefix(b, []byte(tc.prefix)) || !bytes.HasSuffix(b, []byte(")")) {
					t.Fatalf("body %.80q..., want %s...)", b, tc.prefix)
				}
				b = b[len(tc.prefix) : len(b)-1]
			}
			var compact bytes.Buffer
			if err := json.Compact(&compact, b); err != nil {
				t.Fatalf("not JSON: %v: %.200s", err, b)
			}
			if !bytes.Equal(compact.Bytes(), b) {
				t.Errorf("not compact (%d bytes, %d compacted): %.200s", len(b), compact.Len(), b)
			}
			if strings.Contains(tc.path, "state") {
				if !bytes.Contains(b, []byte(`"name":"a&b<c>`+"\u2028"+`d\u001F"`)) {
					t.Errorf("the framework's name is not as Mesos writes it: %.300s", b)
				}
				if want := `{"key":"k&<>","value":"x<y>&z` + "\u2029" + `"}`; !bytes.Contains(b, []byte(want)) {
					t.Errorf("the task's label is not %s: %s", want, b)
				}
			}
		})
	}
}
