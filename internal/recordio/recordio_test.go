package recordio_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mesos/mesos-go/api/v1/lib/encoding/framing"

	"github.com/taskkit/taskkit/internal/recordio"
)

// TestNewReader reads records, empty ones, a stream ending inside a record
// and both sides of the limit.
func TestNewReader(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		err      error
	}{
		{"", "[]", nil},
		{"5\nhello2\nhi", "[hello hi]", nil},
		{"0\n3\nabc", "[abc]", nil},
		{"3\nab", "[]", framing.ErrorUnderrun},
		{"1025\n", "[]", framing.ErrorOversizedFrame},
		{"1024\n" + strings.Repeat("x", 1024), "[" + strings.Repeat("x", 1024) + "]", nil},
	} {
		frames, err := readFrames(recordio.NewReader(strings.NewReader(tc.in), fuzzFrameMax))
		if got := fmt.Sprintf("%s", frames); got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("%.20q: %s, %v; want %s, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

// TestHugePrefix is the regression test of the fault FuzzRecordIO found:
// a length prefix of 2^63 or more (a garbled or hostile event stream) made
// mesos-go's reader panic, taking the executor or the scheduler down. It
// ends the stream as an oversized record now.
func TestHugePrefix(t *testing.T) {
	for _, s := range []string{"9223372036854775808\nx", "10000000000000000000\n", "3\nabc18446744073709551615\nabc"} {
		r := recordio.NewReader(strings.NewReader(s), fuzzFrameMax)
		frames, err := readFrames(r)
		if !errors.Is(err, framing.ErrorOversizedFrame) {
			t.Errorf("%q: %d records, %v; want %v", s, len(frames), err, framing.ErrorOversizedFrame)
		}
		if _, err := r.ReadFrame(); !errors.Is(err, framing.ErrorOversizedFrame) {
			t.Errorf("%q: a read after the end: %v", s, err)
		}
	}
}
