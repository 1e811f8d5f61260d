package mesos

import (
	"io"
	"net/http"
	"runtime"
	"strings"

	mesoslib "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/client"
	"github.com/mesos/mesos-go/api/v1/lib/encoding"
	"github.com/mesos/mesos-go/api/v1/lib/encoding/framing"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli"
	"github.com/mesos/mesos-go/api/v1/lib/recordio"
)

// MaxFrameBytes bounds one RecordIO record of an event stream a client
// reads (a SUBSCRIBE response): mesos-go's own bound, its "max protobuf
// size" of 4 MiB.
const MaxFrameBytes = 4 << 20

// NewFrameReader reads a RecordIO stream ("<length>\n<record>..."), the
// framing of the v1 APIs' event streams (Mesos recordio.hpp), refusing a
// record whose length prefix exceeds max as soon as the prefix is read
// (framing.ErrorOversizedFrame), before buffering any of it. mesos-go's
// reader, as httpcli builds it, has no such limit: given a prefix of
// 10^12 it buffers what follows until 4 MiB have arrived. A prefix of
// 2^63 or more is oversized too: mesos-go's check converts it to a
// negative int, which passes, and then panics slicing the record. The
// reader allocates a buffer of max/2 bytes up front.
func NewFrameReader(r io.Reader, max int) framing.Reader {
	return frameReader{recordio.NewReader(r, recordio.MaxMessageSize(max)), new(error)}
}

// frameReader ends the stream with framing.ErrorOversizedFrame where
// mesos-go's reader panics on a length prefix of 2^63 or more (its size
// check, int(n) > max, wraps; recordio/reader.go splitFrame then slices
// data[:adv] with adv < 0), and on every read after. Any other panic is
// not the input's doing and goes on.
type frameReader struct {
	framing.Reader
	err *error // the error that ended the stream early
}

func (r frameReader) ReadFrame() (frame []byte, err error) {
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

// BoundedStreams is an httpcli option making the client read streaming
// responses (event streams: ResponseClassStreaming, or ResponseClassAuto
// without a Content-Length) with NewFrameReader(body, MaxFrameBytes)
// instead of mesos-go's unbounded reader, decoded with codec (the one
// given to httpcli.Codec). Every other response is handled as httpcli
// handles it.
func BoundedStreams(codec encoding.Codec) httpcli.Opt {
	return func(c *httpcli.Client) httpcli.Opt {
		return httpcli.HandleResponse(func(res *http.Response, rc client.ResponseClass, err error) (mesoslib.Response, error) {
			resp, err := c.HandleResponse(res, rc, err)
			if err != nil {
				return resp, err // res may be nil
			}
			hr, ok := resp.(*httpcli.Response)
			streaming := rc == client.ResponseClassStreaming || (rc == client.ResponseClassAuto && res.ContentLength < 0)
			if ok && hr.Decoder != nil && streaming {
				hr.Decoder = codec.NewDecoder(func() framing.Reader { return NewFrameReader(res.Body, MaxFrameBytes) })
			}
			return resp, err
		})(c)
	}
}
