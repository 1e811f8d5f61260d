package mesos

import (
	"bytes"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

func TestFormatDuration(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{5 * time.Second, "5secs"},
		{15 * time.Minute, "15mins"},
		{1500 * time.Millisecond, "1500ms"},
		{2 * time.Hour, "2hrs"},
		{0, "0secs"},
		{3 * 24 * time.Hour, "3days"},
		{7 * time.Nanosecond, "7ns"},
	} {
		got := FormatDuration(tc.d)
		if got != tc.want {
			t.Errorf("FormatDuration(%v) = %q, want %q", tc.d, got, tc.want)
		}
		back, err := ParseDuration(got)
		if err != nil || back != tc.d {
			t.Errorf("ParseDuration(%q) = %v, %v", got, back, err)
		}
	}
}

func TestUUID(t *testing.T) {
	a, b := NewUUID(), NewUUID()
	if len(a) != 16 || bytes.Equal(a, b) {
		t.Fatalf("uuids %x %x", a, b)
	}
	if s := UUIDString(a); len(s) != 36 || s[14] != '4' {
		t.Errorf("UUIDString = %q", s)
	}
}

func TestCodecNegotiation(t *testing.T) {
	for _, tc := range []struct {
		name        string
		contentType string
		accept      []string
		wantReq     int
		wantResp    string
		wantRespErr int
	}{
		{"protobuf", "application/x-protobuf", []string{"application/x-protobuf"}, 0, MediaTypeProtobuf, 0},
		{"json", "application/json", []string{"application/json"}, 0, MediaTypeJSON, 0},
		{"json with charset", "application/json; charset=utf-8", nil, 0, MediaTypeJSON, 0},
		{"both acceptable prefers json", "application/json", []string{"application/x-protobuf, application/json"}, 0, MediaTypeJSON, 0},
		{"wildcard", "application/json", []string{"*/*"}, 0, MediaTypeJSON, 0},
		{"missing content type", "", nil, 400, MediaTypeJSON, 0},
		{"unsupported", "text/plain", []string{"text/html"}, 415, "", 406},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", nil)
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			for _, a := range tc.accept {
				r.Header.Add("Accept", a)
			}
			_, err := RequestCodec(r)
			if code := httpCode(err); code != tc.wantReq {
				t.Errorf("RequestCodec: %v, want code %d", err, tc.wantReq)
			}
			c, err := ResponseCodec(r)
			if code := httpCode(err); code != tc.wantRespErr {
				t.Errorf("ResponseCodec: %v, want code %d", err, tc.wantRespErr)
			}
			if err == nil && string(c.Type) != tc.wantResp {
				t.Errorf("ResponseCodec = %s, want %s", c.Type, tc.wantResp)
			}
		})
	}
}

func httpCode(err error) int {
	var he *HTTPError
	if errors.As(err, &he) {
		return he.Code
	}
	if err != nil {
		return -1
	}
	return 0
}

func TestIsTerminal(t *testing.T) {
	for s, want := range map[mesos.TaskState]bool{
		mesos.TASK_RUNNING: false, mesos.TASK_STAGING: false, mesos.TASK_UNREACHABLE: false,
		mesos.TASK_FINISHED: true, mesos.TASK_LOST: true, mesos.TASK_GONE_BY_OPERATOR: true,
	} {
		if IsTerminal(s) != want {
			t.Errorf("IsTerminal(%s) != %v", s, want)
		}
	}
}
