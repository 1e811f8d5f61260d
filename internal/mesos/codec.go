package mesos

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/gogo/protobuf/proto"
	"github.com/mesos/mesos-go/api/v1/lib/encoding"
	"github.com/mesos/mesos-go/api/v1/lib/encoding/codecs"
	"github.com/mesos/mesos-go/api/v1/lib/encoding/framing"
	"github.com/mesos/mesos-go/api/v1/lib/recordio"
)

// Media types of the v1 HTTP APIs.
const (
	MediaTypeProtobuf = string(codecs.MediaTypeProtobuf)
	MediaTypeJSON     = string(codecs.MediaTypeJSON)
)

// MaxBodyBytes bounds the size of a request body a server reads.
const MaxBodyBytes = 32 << 20

// HTTPError is an error with the HTTP status code a server should answer.
type HTTPError struct {
	Code    int    // HTTP status code
	Message string // plain-text body, as Mesos words it
}

func (e *HTTPError) Error() string { return fmt.Sprintf("%d %s", e.Code, e.Message) }

// Errorf returns an *HTTPError with code and a formatted message.
func Errorf(code int, format string, args ...any) *HTTPError {
	return &HTTPError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WriteError answers err: an *HTTPError with its code and message as plain
// text (what Mesos does), anything else as 500.
func WriteError(w http.ResponseWriter, err error) {
	var he *HTTPError
	if !errors.As(err, &he) {
		he = &HTTPError{Code: http.StatusInternalServerError, Message: err.Error()}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(he.Code)
	_, _ = io.WriteString(w, he.Message)
}

// lastHeader returns the last value of header key of r and whether r has
// one: libprocess keeps the last of several (DataDecoder, decoder.hpp).
func lastHeader(r *http.Request, key string) (string, bool) {
	v := r.Header.Values(key)
	if len(v) == 0 {
		return "", false
	}
	return v[len(v)-1], true
}

// RequestCodec returns the codec of a request body from its Content-Type
// (JSONCodec or ProtobufCodec), as the Mesos master and agent take it
// (Master::Http::scheduler, Http::executor): the header compared as a
// string with application/json and application/x-protobuf, so that a
// parameter ("application/json; charset=utf-8") or another case
// ("Application/JSON") is refused like any other type: 415 "Expecting
// 'Content-Type' of application/json or application/x-protobuf"; no
// Content-Type header: 400 "Expecting 'Content-Type' to be present".
func RequestCodec(r *http.Request) (encoding.Codec, error) {
	ct, ok := lastHeader(r, "Content-Type")
	switch {
	case !ok:
		return encoding.Codec{}, Errorf(http.StatusBadRequest, "Expecting 'Content-Type' to be present")
	case ct == MediaTypeJSON:
		return JSONCodec, nil
	case ct == MediaTypeProtobuf:
		return ProtobufCodec, nil
	}
	return encoding.Codec{}, Errorf(http.StatusUnsupportedMediaType,
		"Expecting 'Content-Type' of %s or %s", MediaTypeJSON, MediaTypeProtobuf)
}

// ResponseCodec returns the codec a streaming response uses, from the
// request's Accept header: JSON when it accepts application/json, else
// protobuf when it accepts application/x-protobuf, else 406 "Expecting
// 'Accept' to allow 'application/x-protobuf' or 'application/json'", as
// the master and agent decide (see accepts).
func ResponseCodec(r *http.Request) (encoding.Codec, error) {
	accept, ok := lastHeader(r, "Accept")
	switch {
	case !ok || accepts(accept, MediaTypeJSON):
		return JSONCodec, nil
	case accepts(accept, MediaTypeProtobuf):
		return ProtobufCodec, nil
	}
	return encoding.Codec{}, Errorf(http.StatusNotAcceptable,
		"Expecting 'Accept' to allow '%s' or '%s'", MediaTypeProtobuf, MediaTypeJSON)
}

// accepts reports whether the Accept header value accept allows
// mediaType (type/subtype), as libprocess' Request::acceptsMediaType
// decides (3rdparty/libprocess/src/http.cpp): with spaces, tabs and
// newlines removed, the candidates mediaType, type/* and */* are looked
// for in that order among the comma-separated entries (compared without
// case), and the first entry matching decides alone: accepted when it
// has no q parameter (or several, or "q" without exactly one "="), else
// when its q is a number above 0 (as stout's numify reads numbers: no
// hexadecimal, no "_", nothing out of a double's range; "inf" is one).
func accepts(accept, mediaType string) bool {
	accept = strings.NewReplacer(" ", "", "\t", "", "\n", "").Replace(accept)
	typ, _, _ := strings.Cut(mediaType, "/")
	for _, candidate := range []string{mediaType, typ + "/*", "*/*"} {
		for _, entry := range strings.Split(accept, ",") {
			params := strings.FieldsFunc(entry, func(r rune) bool { return r == ';' })
			if len(params) == 0 || !equalFoldASCII(params[0], candidate) {
				continue
			}
			var q []string
			for _, p := range params {
				kv := strings.FieldsFunc(p, func(r rune) bool { return r == '=' })
				if len(kv) == 2 && kv[0] == "q" {
					q = append(q, kv[1])
				}
			}
			if len(q) != 1 {
				return true
			}
			if strings.ContainsAny(q[0], "xX_") { // Go's hexadecimal and digit separators
				return false
			}
			v, err := strconv.ParseFloat(q[0], 64)
			return err == nil && v > 0
		}
	}
	return false
}

// equalFoldASCII reports whether a and b are equal with ASCII letters
// compared without case (stout's strings::lower is C's tolower; Go's
// EqualFold also folds other letters, such as "ſ" to "s").
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	lower := func(c byte) byte {
		if 'A' <= c && c <= 'Z' {
			return c + 'a' - 'A'
		}
		return c
	}
	for i := 0; i < len(a); i++ {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

// DecodeRequest reads the body of r (at most MaxBodyBytes) and decodes it
// with the codec named by its Content-Type into v, answering as the Mesos
// master and agent do (src/master/http.cpp, Master::Http::scheduler):
//
//   - protobuf that does not parse, required fields included: 400 "Failed
//     to parse body into Call protobuf";
//   - JSON that does not parse: 400 "Failed to parse body into JSON: ...";
//   - JSON that is no Call, or lacks a required field: 400 "Failed to
//     convert JSON into Call protobuf: Missing required fields: a.b, c"
//     (stout's protobuf::parse; mesos-go's JSON decoder does not check them).
//
// It also reports whether the body sets field typeField (name and number,
// e.g. "type", 2), which decoding into a gogo struct cannot tell from its
// zero value: Mesos answers a call without a type differently from one of
// type UNKNOWN. Pass "" to skip.
func DecodeRequest(r *http.Request, v encoding.Unmarshaler, typeField string, typeNumber int) (c encoding.Codec, typeSet bool, err error) {
	c, err = RequestCodec(r)
	if err != nil {
		return c, false, err
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		return c, false, Errorf(http.StatusBadRequest, "Failed to read request body: %v", err)
	}
	if len(body) > MaxBodyBytes {
		return c, false, Errorf(http.StatusRequestEntityTooLarge, "Request body larger than %d bytes", MaxBodyBytes)
	}
	if c.Type == ProtobufCodec.Type {
		if err := Unmarshal(c, body, v); err != nil {
			return c, false, Errorf(http.StatusBadRequest, "Failed to parse body into Call protobuf")
		}
		return c, typeField != "" && hasProtobufField(body, typeNumber), nil
	}
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		return c, false, Errorf(http.StatusBadRequest, "Failed to parse body into JSON: %v", err)
	}
	if err := Unmarshal(c, body, v); err != nil {
		if body, doc, err = withoutUnknownEnums(body, reflect.TypeOf(v), err); err == nil {
			err = Unmarshal(c, body, v)
		}
		if err != nil {
			return c, false, Errorf(http.StatusBadRequest, "Failed to convert JSON into Call protobuf: %v", err)
		}
	}
	if missing := MissingRequired(doc, reflect.TypeOf(v)); len(missing) > 0 {
		return c, false, Errorf(http.StatusBadRequest, "Failed to convert JSON into Call protobuf: Missing required fields: %s", strings.Join(missing, ", "))
	}
	obj, _ := doc.(map[string]any)
	_, typeSet = obj[typeField]
	return c, typeField != "" && typeSet, nil
}

// withoutUnknownEnums is a JSON body that failed to decode (with decodeErr)
// as t without the unknown enum values Mesos would have discarded
// (DropUnknownEnums), numbers kept as written, and its document; decodeErr
// when there are none.
func withoutUnknownEnums(body []byte, t reflect.Type, decodeErr error) ([]byte, any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if dec.Decode(&doc) != nil {
		return nil, nil, decodeErr
	}
	dropped, err := DropUnknownEnums(doc, t)
	if err != nil {
		return nil, nil, err
	}
	if !dropped {
		return nil, nil, decodeErr
	}
	body, err = json.Marshal(doc)
	return body, doc, err
}

// hasProtobufField reports whether the top level of a protobuf message
// holds field number n.
func hasProtobufField(b []byte, n int) bool {
	buf := proto.NewBuffer(b)
	for {
		key, err := buf.DecodeVarint()
		if err != nil {
			return false
		}
		if int(key>>3) == n {
			return true
		}
		switch key & 7 {
		case proto.WireVarint:
			_, err = buf.DecodeVarint()
		case proto.WireFixed64:
			_, err = buf.DecodeFixed64()
		case proto.WireBytes:
			_, err = buf.DecodeRawBytes(false)
		case proto.WireFixed32:
			_, err = buf.DecodeFixed32()
		default:
			return false // groups: not in the v1 APIs
		}
		if err != nil {
			return false
		}
	}
}

// Marshal encodes m with codec c into one record's bytes.
func Marshal(c encoding.Codec, m encoding.Marshaler) ([]byte, error) {
	var fw frameWriter
	if err := c.NewEncoder(func() framing.Writer { return &fw }).Encode(m); err != nil {
		return nil, err
	}
	return fw.b, nil
}

// Unmarshal decodes one record b with codec c into v.
func Unmarshal(c encoding.Codec, b []byte, v encoding.Unmarshaler) error {
	return c.NewDecoder(encoding.SourceReader(strings.NewReader(string(b)))).Decode(v)
}

type frameWriter struct{ b []byte }

func (f *frameWriter) WriteFrame(b []byte) error {
	f.b = append(f.b[:0], b...)
	return nil
}

// EventWriter writes events to a streaming HTTP response as RecordIO records
// and flushes each one. It is safe for concurrent use.
type EventWriter struct {
	mu    sync.Mutex
	codec encoding.Codec
	rw    *recordio.Writer
	fl    http.Flusher
}

// StartStream answers a streaming call: 200, Content-Type exactly the codec's
// media type, no Content-Length (so clients read RecordIO), extra headers
// from hdr, and an immediate flush.
func StartStream(w http.ResponseWriter, c encoding.Codec, hdr map[string]string) *EventWriter {
	h := w.Header()
	h.Set("Content-Type", c.Type.ContentType())
	h.Set("Cache-Control", "no-cache")
	for k, v := range hdr {
		h.Set(k, v)
	}
	w.WriteHeader(http.StatusOK)
	fl, _ := w.(http.Flusher)
	if fl != nil {
		fl.Flush()
	}
	return &EventWriter{codec: c, rw: recordio.NewWriter(w), fl: fl}
}

// Codec returns the codec events are written with.
func (e *EventWriter) Codec() encoding.Codec { return e.codec }

// Write encodes m as one record and flushes it.
func (e *EventWriter) Write(m encoding.Marshaler) error {
	b, err := Marshal(e.codec, m)
	if err != nil {
		return fmt.Errorf("encoding event: %w", err)
	}
	return e.WriteRecord(b)
}

// WriteRecord writes an already encoded record and flushes it.
func (e *EventWriter) WriteRecord(b []byte) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.rw.WriteFrame(b); err != nil {
		return err
	}
	if e.fl != nil {
		e.fl.Flush()
	}
	return nil
}
