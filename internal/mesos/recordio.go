package mesos

import (
	"io"
	"net/http"

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
// 10^12 it buffers what follows until 4 MiB have arrived. The reader
// allocates a buffer of max/2 bytes up front.
func NewFrameReader(r io.Reader, max int) framing.Reader {
	return recordio.NewReader(r, recordio.MaxMessageSize(max))
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
