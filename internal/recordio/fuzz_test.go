package recordio_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/mesos/mesos-go/api/v1/lib/encoding/framing"
	mrecordio "github.com/mesos/mesos-go/api/v1/lib/recordio"

	"github.com/taskkit/taskkit/internal/recordio"
)

// fuzzFrameMax is the record limit of the fuzzed readers: small, so that
// both sides of it are reached.
const fuzzFrameMax = 1 << 10

// FuzzRecordIO reads fuzzed RecordIO streams with NewReader, as
// mesos.BoundedStreams makes the executor and the scheduler read event
// streams. Properties: no record exceeds the limit, together they are no
// longer than the stream, an oversized length prefix ends the stream with
// framing.ErrorOversizedFrame, and the records written again (mesos-go's
// recordio.Writer) read back the same. The streams of scheduler and
// executor events (protobuf and JSON) that internal/mesos encodes are
// committed seeds (testdata/fuzz/FuzzRecordIO/events-*): encoding them
// here would link the protobuf code back in.
func FuzzRecordIO(f *testing.F) {
	f.Add([]byte("1000000000000\n"))
	f.Add([]byte("0\n0\n3\nabc\n18446744073709551615\nx"))
	f.Add([]byte(" 5 \nhello2\nhi"))
	f.Fuzz(func(t *testing.T, data []byte) {
		frames, err := readFrames(recordio.NewReader(bytes.NewReader(data), fuzzFrameMax))
		total := 0
		for _, fr := range frames {
			if len(fr) > fuzzFrameMax || len(fr) == 0 {
				t.Fatalf("a record of %d bytes (limit %d)", len(fr), fuzzFrameMax)
			}
			total += len(fr)
		}
		if total > len(data) {
			t.Fatalf("%d bytes of records from a %d-byte stream", total, len(data))
		}
		if errors.Is(err, framing.ErrorOversizedFrame) && len(data) > 0 && bytes.IndexByte(data, '\n') < 0 {
			t.Fatalf("oversized without a length line: %v", err)
		}
		var buf bytes.Buffer
		w := mrecordio.NewWriter(&buf)
		for _, fr := range frames {
			w.WriteFrame(fr)
		}
		back, err := readFrames(recordio.NewReader(bytes.NewReader(buf.Bytes()), fuzzFrameMax))
		if err != nil || len(back) != len(frames) {
			t.Fatalf("records written again read back %d of %d: %v", len(back), len(frames), err)
		}
		for i := range back {
			if !bytes.Equal(back[i], frames[i]) {
				t.Fatalf("record %d changed in the round trip", i)
			}
		}
	})
}

// readFrames reads every record of r and the error that ended the stream
// (nil for a clean end).
func readFrames(r framing.Reader) ([][]byte, error) {
	var out [][]byte
	for {
		fr, err := r.ReadFrame()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, append([]byte(nil), fr...))
	}
}
