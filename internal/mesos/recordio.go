package mesos

import (
	"net/http"

	mesoslib "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/client"
	"github.com/mesos/mesos-go/api/v1/lib/encoding"
	"github.com/mesos/mesos-go/api/v1/lib/encoding/framing"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli"

	"github.com/taskkit/taskkit/internal/recordio"
)

// MaxFrameBytes bounds one RecordIO record of an event stream a client
// reads (a SUBSCRIBE response): mesos-go's own bound, its "max protobuf
// size" of 4 MiB.
const MaxFrameBytes = 4 << 20

// BoundedStreams is an httpcli option making the client read streaming
// responses (event streams: ResponseClassStreaming, or ResponseClassAuto
// without a Content-Length) with recordio.NewReader(body, MaxFrameBytes)
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
				hr.Decoder = codec.NewDecoder(func() framing.Reader { return recordio.NewReader(res.Body, MaxFrameBytes) })
			}
			return resp, err
		})(c)
	}
}
