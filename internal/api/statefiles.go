package api

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// The state files API follows the SDK's StateResource and StateQueries
// (dcos-commons http/endpoints/StateResource.java, http/queries/
// StateQueries.java): small files tasks share through the scheduler, kept
// in the state store as properties "file-<name>". HDFS's journal nodes keep
// their VERSION file there.
//
//	GET /v1/state/files         200 text/plain: the names, as "[a, b]"
//	GET /v1/state/files/{name}  200 the content; 404 "Failed to get the file"
//	PUT /v1/state/files/{name}  multipart/form-data, field "file", at most
//	                            1 KiB: 200; 400 "Missing payload" or
//	                            "Stream exceeds 1024 byte size limit";
//	                            415 when not multipart
//
// Answers are text/plain, as the SDK's. A PUT is a mutating call: with
// --api-token-file it needs the token like the others.
const (
	// stateFilePrefix is the SDK's property prefix for state files.
	stateFilePrefix = "file-"
	// StateFileMax is the largest state file, in bytes (the SDK's
	// FILE_SIZE_LIMIT).
	StateFileMax = 1024
)

// FileStore is what the state files API needs of the state store
// (store.Store has it).
type FileStore interface {
	// Property returns a property, nil when unset.
	Property(key string) ([]byte, error)
	// PropertyKeys returns every property's key, sorted.
	PropertyKeys() ([]string, error)
	// SetProperties stores properties in one transaction.
	SetProperties(kv map[string][]byte) error
}

// routeStateFiles adds the state files API to mux.
func (s *Server) routeStateFiles(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/state/files", s.stateFiles)
	mux.HandleFunc("GET /v1/state/files/{name}", s.stateFile)
	mux.HandleFunc("PUT /v1/state/files/{name}", s.putStateFile)
}

func writeText(w http.ResponseWriter, code int, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	io.WriteString(w, text)
}

// files returns the state store, or answers 503 when there is none.
func (s *Server) files(w http.ResponseWriter) FileStore {
	if s.Files == nil {
		writeText(w, http.StatusServiceUnavailable, "no state store")
	}
	return s.Files
}

func (s *Server) stateFiles(w http.ResponseWriter, r *http.Request) {
	fs := s.files(w)
	if fs == nil {
		return
	}
	keys, err := fs.PropertyKeys()
	if err != nil {
		s.Logger.Error("listing state files", "err", err)
		writeText(w, http.StatusInternalServerError, "Failed to get a list of files")
		return
	}
	var names []string
	for _, k := range keys {
		if n, ok := strings.CutPrefix(k, stateFilePrefix); ok {
			names = append(names, n)
		}
	}
	writeText(w, http.StatusOK, "["+strings.Join(names, ", ")+"]")
}

func (s *Server) stateFile(w http.ResponseWriter, r *http.Request) {
	fs := s.files(w)
	if fs == nil {
		return
	}
	name := r.PathValue("name")
	b, err := fs.Property(stateFilePrefix + name)
	if err != nil {
		s.Logger.Error("reading a state file", "name", name, "err", err)
		writeText(w, http.StatusInternalServerError, "Failed to get the file")
		return
	}
	if b == nil {
		writeText(w, http.StatusNotFound, "Failed to get the file")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write(b)
}

func (s *Server) putStateFile(w http.ResponseWriter, r *http.Request) {
	fs := s.files(w)
	if fs == nil {
		return
	}
	name := r.PathValue("name")
	if strings.Contains(name, "/") {
		writeText(w, http.StatusBadRequest, "a file name cannot contain '/'")
		return
	}
	data, err := multipartFile(w, r, "file", StateFileMax)
	var bad *badUpload
	switch {
	case errors.As(err, &bad):
		writeText(w, bad.code, bad.msg)
		return
	case err != nil:
		writeText(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := fs.SetProperties(map[string][]byte{stateFilePrefix + name: data}); err != nil {
		s.Logger.Error("storing a state file", "name", name, "err", err)
		writeText(w, http.StatusInternalServerError, "Failed to store the file")
		return
	}
	s.Logger.Info("state file stored", "name", name, "bytes", len(data))
	w.WriteHeader(http.StatusOK)
}

// badUpload is an upload refused with an HTTP status.
type badUpload struct {
	code int
	msg  string
}

func (e *badUpload) Error() string { return e.msg }

// multipartFile reads form field field of a multipart/form-data request,
// refusing more than max bytes (the SDK's RequestUtils.readData).
func multipartFile(w http.ResponseWriter, r *http.Request, field string, max int) ([]byte, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return nil, &badUpload{http.StatusUnsupportedMediaType, "want multipart/form-data with a \"" + field + "\" field"}
	}
	// The whole request: the file plus its headers and boundaries.
	r.Body = http.MaxBytesReader(w, r.Body, int64(max)+64<<10)
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, fmt.Errorf("reading the form: %w", err)
	}
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return nil, &badUpload{http.StatusBadRequest, "Missing payload"}
		}
		if err != nil {
			return nil, fmt.Errorf("reading the form: %w", err)
		}
		if p.FormName() != field {
			continue
		}
		data, err := io.ReadAll(io.LimitReader(p, int64(max)+1))
		if err != nil {
			return nil, fmt.Errorf("reading the form: %w", err)
		}
		if len(data) > max {
			return nil, &badUpload{http.StatusBadRequest, fmt.Sprintf("Stream exceeds %d byte size limit", max)}
		}
		return data, nil
	}
}
