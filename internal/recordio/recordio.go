// Package recordio reads Mesos' RecordIO streams, the framing of the v1
// HTTP APIs' event streams: each record is its length in bytes as decimal
// ASCII, a newline, then the record ("<length>\n<record>"; Mesos
// docs/recordio.md, src/common/recordio.hpp). It guards mesos-go's reader
// (api/v1/lib/recordio) against hostile length prefixes and holds nothing
// else, so its fuzz target (FuzzRecordIO) runs in a test binary of its
// own: Go's fuzzing engine clears, copies and compares every coverage
// counter of the test binary for each execution, and internal/mesos links
// mesos-go's generated protobuf code.
package recordio

import (
	"io"
	"runtime"
	"strings"

	"github.com/mesos/mesos-go/api/v1/lib/encoding/framing"
	mrecordio "github.com/mesos/mesos-go/api/v1/lib/recordio"
)

// NewReader reads the RecordIO stream r, one record per ReadFrame, ending
// with io.EOF (framing.ErrorUnderrun when r ends inside a record; records
// of length 0 are skipped). A record whose length prefix exceeds max bytes ends the
// stream with framing.ErrorOversizedFrame as soon as the prefix is read,
// before any of the record is buffered: mesos-go's reader, as httpcli
// builds it, has no such limit (given a prefix of 10^12 it buffers what
// follows until 4 MiB have arrived). A prefix of 2^63 or more is oversized
// too: mesos-go's check converts it to a negative int, which passes, and
// then panics slicing the record. The reader allocates a buffer of max/2
// bytes up front.
func NewReader(r io.Reader, max int) framing.Reader {
	return reader{mrecordio.NewReader(r, mrecordio.MaxMessageSize(max)), new(error)}
}

// reader ends the stream with framing.ErrorOversizedFrame where mesos-go's
// reader panics on a length prefix of 2^63 or more (its size check,
// int(n) > max, wraps; recordio/reader.go splitFrame then slices
// data[:adv] with adv < 0), and on every read after. Any other panic is
// not the input's doing and goes on.
type reader struct {
	framing.Reader
	err *error // the error that ended the stream early
}

func (r reader) ReadFrame() (frame []byte, err error) {
	if *r.err != nil {
		return nil, *r.err
	}
	defer func() {
		if p := recover(); p != nil {
			if re, ok := p.(runtime.Error); !ok || !strings.Contains(re.Error(), "slice bounds out of range") {
				panic(p)
			}
			frame, err = nil, framing.ErrorOversizedFrame
			*r.err = err
		}
	}()
	return r.Reader.ReadFrame()
}
