package mesos

import (
	"bytes"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

// TestFormatDuration: FormatDuration prints what stout's Duration
// operator<< prints (3rdparty/stout/include/stout/duration.hpp, Mesos
// 1.11), every want below taken from that code compiled and run: each
// unit's bucket, integral and not, one unit down when that is whole, 15
// significant digits otherwise, the boundaries, the sign.
func TestFormatDuration(t *testing.T) {
	for _, tc := range []struct {
		ns   int64
		want string
	}{
		{0, "0ns"}, // zero
		{1, "1ns"}, // ns
		{999, "999ns"},
		{1000, "1us"},    // us: whole
		{1001, "1001ns"}, // us bucket, not whole us: ns
		{1500, "1500ns"},
		{999000, "999us"},
		{999999, "999999ns"},
		{1000000, "1ms"},
		{1000001, "1.000001ms"}, // ms bucket, not whole us: fractional ms
		{1500000, "1500us"},     // ms bucket, whole us: us
		{1500001, "1.500001ms"},
		{999999999, "999.999999ms"},
		{1000000000, "1secs"},
		{1000001000, "1.000001secs"},
		{1500000000, "1500ms"}, // secs bucket, whole ms: ms
		{1000000001, "1.000000001secs"},
		{1234567891, "1.234567891secs"},
		{59999999999, "59.999999999secs"},
		{60000000000, "1mins"},
		{90000000000, "90secs"},
		{90500000000, "1.50833333333333mins"}, // mins bucket, whole secs? no: 90.5 s is whole ms only: fractional mins
		{61000000001, "1.01666666668333mins"},
		{3599999999999, "59.9999999999833mins"},
		{3600000000000, "1hrs"},
		{3660000000000, "61mins"},
		{5400000000000, "90mins"},
		{3600000000001, "1.00000000000028hrs"},
		{3630000000000, "1.00833333333333hrs"},
		{3601000000000, "1.00027777777778hrs"},
		{86399999999999, "23.9999999999997hrs"},
		{86400000000000, "1days"},
		{90000000000000, "25hrs"},
		{91800000000000, "1.0625days"}, // days bucket, whole mins only: fractional days
		{86400000000001, "1.00000000000001days"},
		{129600000000000, "36hrs"},
		{604799999999999, "6.99999999999999days"},
		{604800000000000, "1weeks"},
		{864000000000000, "10days"},
		{1209600000000000, "2weeks"},
		{907200000000000, "1.5weeks"},
		{604800000000001, "1weeks"}, // weeks bucket: 1 ns past a week rounds to 15 digits
		{604800001000000, "1.00000000165344weeks"},
		{640800000000000, "1.05952380952381weeks"},
		{-1, "-1ns"},
		{-1500000000, "-1500ms"},
		{-90000000000, "-90secs"},
		{-9223372036854775808, "-15250.2844524715weeks"}, // math.MinInt64: printed as MaxInt64, as stout does
		{9223372036854775807, "15250.2844524715weeks"},   // the largest
		{100000000, "100ms"},
		{1100000, "1100us"},
	} {
		d := time.Duration(tc.ns)
		got := FormatDuration(d)
		if got != tc.want {
			t.Errorf("FormatDuration(%d ns) = %q, want %q", tc.ns, got, tc.want)
		}
		back, err := ParseDuration(got)
		if tc.ns < 0 {
			// stout prints a sign its parser does not read
			if err == nil {
				t.Errorf("ParseDuration(%q) = %v, want an error", got, back)
			}
			continue
		}
		// Read back: d, or d rounded to 15 significant digits (and
		// truncated to the nanosecond).
		if diff := math.Abs(float64(back) - float64(d)); err != nil || diff > float64(d)*1e-14+1 {
			t.Errorf("ParseDuration(%q) = %v, %v, want %v", got, back, err, d)
		}
	}
}

// TestParseDuration: ParseDuration answers what stout's Duration::parse
// (3rdparty/stout/include/stout/duration.hpp, Mesos 1.11) answers, every
// row taken from that code compiled (with its numify and boost's
// lexical_cast) and run on the input: the nanoseconds, or an error. No
// sign is read, "-" or "+"; the number is digits and one dot, truncated to
// the nanosecond after the unit's product; the units are stout's only; out
// of range is an error. The one divergence: 2^63 ns exactly, which stout's
// range check lets through into an overflow (-9223372036854775808), is an
// error here.
func TestParseDuration(t *testing.T) {
	const outOfRange = "out of range"
	for _, tc := range []struct {
		in  string
		ns  int64
		err string // in the error; "" for none
	}{
		{"5secs", 5e9, ""},
		{"1.5mins", 90e9, ""},
		{"1.secs", 1e9, ""},
		{".5secs", 5e8, ""},
		{"05secs", 5e9, ""},
		{"0ns", 0, ""},
		{"1.5ns", 1, ""}, // truncated
		{"1.9ns", 1, ""},
		{"0.5ns", 0, ""},
		{"1us", 1000, ""},
		{"2.5ms", 2500000, ""},
		{"10mins", 600e9, ""},
		{"3hrs", 10800e9, ""},
		{"1.5days", 129600e9, ""},
		{"2weeks", 1209600e9, ""},
		{"0.1secs", 1e8, ""},
		{"0.3secs", 3e8, ""},
		{"1.0000000001secs", 1e9, ""}, // below a nanosecond: truncated
		{"0.0000000000000000000000000000001secs", 0, ""},
		{"15250.2844524715weeks", 9223372036854763520, ""}, // FormatDuration(math.MaxInt64), read back
		{"106751.99116730063days", 9223372036854774784, ""},
		{"9223372036854775295ns", 9223372036854774784, ""}, // the largest below 2^63 as a float64
		// the sign: stout's numify gets "" before "-" or "+"
		{"-5secs", 0, `"" is not a number`},
		{"+5secs", 0, `"" is not a number`},
		{"-0secs", 0, `"" is not a number`},
		{"- 5secs", 0, `"" is not a number`},
		{"-1ns", 0, `"" is not a number`},
		// not numbers, or no unit
		{"", 0, "want a number and a unit"},
		{"5", 0, "want a number and a unit"},
		{".", 0, "want a number and a unit"},
		{"secs", 0, `"" is not a number`},
		{".secs", 0, `"." is not a number`},
		{"1.2.3secs", 0, `"1.2.3" is not a number`},
		{" 5secs", 0, `"" is not a number`},
		{"٥secs", 0, `"" is not a number`}, // a digit, but not ASCII
		{"inf", 0, `"" is not a number`},
		{"nansecs", 0, `"" is not a number`},
		{"1" + strings.Repeat("0", 400) + "ns", 0, "is not a number"}, // beyond a double
		// units: stout's exactly
		{"5s", 0, `unknown unit "s"`},
		{"5sec", 0, `unknown unit "sec"`},
		{"5SECS", 0, `unknown unit "SECS"`},
		{"5secs ", 0, `unknown unit "secs "`},
		{"5 secs", 0, `unknown unit " secs"`},
		{"5secs5", 0, `unknown unit "secs5"`},
		{"1e3secs", 0, `unknown unit "e3secs"`},
		{"0x10secs", 0, `unknown unit "x10secs"`},
		{"1_0secs", 0, `unknown unit "_0secs"`},
		{"5٥secs", 0, `unknown unit "٥secs"`},
		// out of range
		{"15250.2844524716weeks", 0, outOfRange},
		{"106752days", 0, outOfRange},
		{"100000weeks", 0, outOfRange},
		{"9223372036854775807000ns", 0, outOfRange},
		{"9223372036854775808ns", 0, outOfRange}, // 2^63: stout overflows to -2^63
		{"9223372036854775807ns", 0, outOfRange}, // 2^63 as a float64 too
		{"9223372036854775296ns", 0, outOfRange},
	} {
		d, err := ParseDuration(tc.in)
		switch {
		case tc.err == "" && (err != nil || int64(d) != tc.ns):
			t.Errorf("ParseDuration(%q) = %d, %v; want %d", tc.in, int64(d), err, tc.ns)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), strconv.Quote(tc.in))):
			t.Errorf("ParseDuration(%q) = %d, %v; want an error naming the input and saying %q", tc.in, int64(d), err, tc.err)
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
	if s := NewID(); len(s) != 36 || s[14] != '4' || !strings.ContainsAny(s[19:20], "89ab") {
		t.Errorf("NewID = %q, want a version 4 UUID", s)
	}
	for _, tc := range []struct {
		in   []byte
		want string
	}{
		{[]byte("\x01\x23\x45\x67\x89\xab\xcd\xef\xfe\xdc\xba\x98\x76\x54\x32\x10"), "01234567-89ab-cdef-fedc-ba9876543210"},
		{[]byte{1, 2, 3}, "010203"},
	} {
		if got := UUIDString(tc.in); got != tc.want {
			t.Errorf("UUIDString(%x) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// headerRequest is a POST whose header key has values (none: absent).
func headerRequest(key string, values []string) *http.Request {
	r := httptest.NewRequest("POST", "/", nil)
	for _, v := range values {
		r.Header.Add(key, v)
	}
	return r
}

// TestRequestCodec: the Content-Type a master's or agent's v1 API takes
// (Master::Http::scheduler, Http::executor): exactly application/json or
// application/x-protobuf, compared as strings (no parameter, no other
// case), the last header of several (libprocess keeps the last); else 415,
// or 400 without one.
func TestRequestCodec(t *testing.T) {
	const unsupported = "Expecting 'Content-Type' of application/json or application/x-protobuf"
	for _, tc := range []struct {
		values []string
		want   string // the codec's media type, or the error's body
		code   int
	}{
		{nil, "Expecting 'Content-Type' to be present", 400},
		{[]string{"application/json"}, MediaTypeJSON, 0},
		{[]string{"application/x-protobuf"}, MediaTypeProtobuf, 0},
		{[]string{"application/json; charset=utf-8"}, unsupported, 415},
		{[]string{"application/json;charset=utf-8"}, unsupported, 415},
		{[]string{"application/x-protobuf; proto=mesos.v1.scheduler.Call"}, unsupported, 415},
		{[]string{"Application/JSON"}, unsupported, 415},
		{[]string{"APPLICATION/X-PROTOBUF"}, unsupported, 415},
		{[]string{"application/*"}, unsupported, 415},
		{[]string{"*/*"}, unsupported, 415},
		{[]string{"application/recordio"}, unsupported, 415},
		{[]string{"text/plain"}, unsupported, 415},
		{[]string{"application/json-seq"}, unsupported, 415},
		{[]string{""}, unsupported, 415},
		{[]string{"text/plain", "application/json"}, MediaTypeJSON, 0},
		{[]string{"application/json", "text/plain"}, unsupported, 415},
	} {
		c, err := RequestCodec(headerRequest("Content-Type", tc.values))
		got := string(c.Type)
		var he *HTTPError
		if errors.As(err, &he) {
			got = he.Message
		}
		if code := httpCode(err); code != tc.code || got != tc.want {
			t.Errorf("Content-Type %q: %d %q, want %d %q", tc.values, code, got, tc.code, tc.want)
		}
	}
}

// TestResponseCodec: the codec of a stream from the Accept header, as
// libprocess' Request::acceptsMediaType decides for JSON, then protobuf:
// spaces, tabs and newlines ignored, media types compared without case,
// each candidate (the type, type/*, */*) looked for in turn and decided by
// its first match's q (absent, repeated or malformed: yes; a number: > 0;
// not a number: no); the last header of several; none accepts everything.
// Every row's want is what that code (compiled with stout) decides.
func TestResponseCodec(t *testing.T) {
	const notAcceptable = "Expecting 'Accept' to allow 'application/x-protobuf' or 'application/json'"
	for _, tc := range []struct {
		values []string
		want   string // the codec's media type, or the 406's body
	}{
		{nil, MediaTypeJSON},
		{[]string{"application/json"}, MediaTypeJSON},
		{[]string{"application/x-protobuf"}, MediaTypeProtobuf},
		{[]string{"application/x-protobuf, application/json"}, MediaTypeJSON},
		{[]string{"*/*"}, MediaTypeJSON},
		{[]string{"application/*"}, MediaTypeJSON},
		{[]string{"APPLICATION/X-PROTOBUF"}, MediaTypeProtobuf},
		{[]string{"application/jſon"}, notAcceptable}, // no Unicode folding
		{[]string{"application/json; charset=utf-8"}, MediaTypeJSON},
		{[]string{"application/json;foo"}, MediaTypeJSON},
		{[]string{"application/json;q=0.5"}, MediaTypeJSON},
		{[]string{"application/json;q=1e-3"}, MediaTypeJSON},
		{[]string{"application/json;Q=0"}, MediaTypeJSON},
		{[]string{"application/json;q=1;q=0"}, MediaTypeJSON},
		{[]string{"application/json;q=0=1"}, MediaTypeJSON},
		{[]string{"application/json;q=0"}, notAcceptable},
		{[]string{"application/json;q=0.0000"}, notAcceptable},
		{[]string{"application/json ; q = 0"}, notAcceptable},
		{[]string{"application/json;\tq=0"}, notAcceptable},
		{[]string{"application/json;q=-1"}, notAcceptable},
		{[]string{"application/json;q=abc"}, notAcceptable},
		{[]string{"application/json;q=0x1"}, notAcceptable},
		{[]string{"application/json;q=0x1p0"}, notAcceptable},
		{[]string{"application/json;q=inf"}, MediaTypeJSON},
		{[]string{"application/json;q=.5"}, MediaTypeJSON},
		{[]string{"application/json;q="}, MediaTypeJSON},
		{[]string{"application/json;q=nan"}, notAcceptable},
		{[]string{"application/json;q=1e-400"}, notAcceptable},
		{[]string{"application/json;q=0x10"}, notAcceptable},
		{[]string{"application/json;q=1_0"}, notAcceptable},
		{[]string{"application/json;q=0, application/x-protobuf"}, MediaTypeProtobuf},
		{[]string{"application/json;q=0, */*"}, MediaTypeProtobuf},
		{[]string{"application/*;q=0, application/json"}, MediaTypeJSON},
		{[]string{"application/x-protobuf;q=0, application/*"}, MediaTypeJSON},
		{[]string{"*/*;q=0"}, notAcceptable},
		{[]string{"text/html"}, notAcceptable},
		{[]string{"text/*"}, notAcceptable},
		{[]string{""}, notAcceptable},
		{[]string{",;,"}, notAcceptable},
		{[]string{"application/json", "text/html"}, notAcceptable},
		{[]string{"text/html", "application/x-protobuf"}, MediaTypeProtobuf},
	} {
		c, err := ResponseCodec(headerRequest("Accept", tc.values))
		got, code := string(c.Type), httpCode(err)
		var he *HTTPError
		if errors.As(err, &he) {
			got = he.Message
		}
		wantCode := 0
		if tc.want == notAcceptable {
			wantCode = 406
		}
		if code != wantCode || got != tc.want {
			t.Errorf("Accept %q: %d %q, want %d %q", tc.values, code, got, wantCode, tc.want)
		}
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

// TestMaxCompletionTime: only a positive max_completion_time limits a
// task, as Mesos' executors arm their timer only then.
func TestMaxCompletionTime(t *testing.T) {
	for _, tc := range []struct {
		name string
		d    *mesos.DurationInfo
		want time.Duration
	}{
		{"unset", nil, 0},
		{"zero", &mesos.DurationInfo{}, 0},
		{"negative", &mesos.DurationInfo{Nanoseconds: -1}, 0},
		{"positive", &mesos.DurationInfo{Nanoseconds: int64(1500 * time.Millisecond)}, 1500 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := MaxCompletionTime(&mesos.TaskInfo{MaxCompletionTime: tc.d}); got != tc.want {
				t.Errorf("MaxCompletionTime = %v, want %v", got, tc.want)
			}
		})
	}
}
