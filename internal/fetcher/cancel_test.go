package fetcher

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

// Archives of cancelEntries members e000, e001, ... of cancelEntrySize
// zero bytes each: 64 MiB extracted, 64 KiB or so to generate and serve.
const (
	cancelEntries   = 64
	cancelEntrySize = 1 << 20
)

func cancelEntryName(i int) string { return fmt.Sprintf("e%03d", i) }

// zerosTar is a compressed tar of the cancel entries, made of separately
// compressed members, which gzip and xz readers read as one stream (as
// gzip -d and xz -d do): each entry's header in a member of its own, and
// one member of compressed zeros, made once, for every body. member
// compresses one piece.
func zerosTar(t *testing.T, member func([]byte) []byte) []byte {
	t.Helper()
	body := member(make([]byte, cancelEntrySize)) // a multiple of tar's 512-byte blocks: no padding
	var out bytes.Buffer
	for i := range cancelEntries {
		var hdr bytes.Buffer
		tw := tar.NewWriter(&hdr)
		if err := tw.WriteHeader(&tar.Header{Name: cancelEntryName(i), Mode: 0o644, Size: cancelEntrySize, Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		// WriteHeader wrote the header block; the writer is left
		// unfinished, the body being the shared member.
		out.Write(member(hdr.Bytes()))
		out.Write(body)
	}
	out.Write(member(make([]byte, 1024))) // the two zero blocks that end a tar
	return out.Bytes()
}

// zerosTarGz is zerosTar of gzip members.
func zerosTarGz(t *testing.T) []byte {
	return zerosTar(t, func(b []byte) []byte {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		if _, err := zw.Write(b); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	})
}

// zerosTarXz is zerosTar of xz streams.
func zerosTarXz(t *testing.T) []byte {
	return zerosTar(t, func(b []byte) []byte { return xzOf(t, b) })
}

// zerosZip is a zip of the cancel entries, each the same deflated zeros,
// compressed once and written raw.
func zerosZip(t *testing.T) []byte {
	t.Helper()
	zeros := make([]byte, cancelEntrySize)
	var deflated bytes.Buffer
	fw, _ := flate.NewWriter(&deflated, flate.BestCompression)
	fw.Write(zeros)
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for i := range cancelEntries {
		h := &zip.FileHeader{Name: cancelEntryName(i), Method: zip.Deflate, CRC32: crc32.ChecksumIEEE(zeros),
			CompressedSize64: uint64(deflated.Len()), UncompressedSize64: cancelEntrySize}
		h.SetMode(0o644)
		w, err := zw.CreateRaw(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(deflated.Bytes())
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// stopWhen is a context that ends (context.Canceled) the first time its
// Err or Done is asked after cond holds: a cancellation at a point of the
// test's choosing, however fast or slow the machine.
type stopWhen struct {
	context.Context
	cond   func() bool
	once   sync.Once
	cancel context.CancelFunc
}

func newStopWhen(cond func() bool) *stopWhen {
	ctx, cancel := context.WithCancel(context.Background())
	return &stopWhen{Context: ctx, cond: cond, cancel: cancel}
}

func (s *stopWhen) check() {
	if s.Context.Err() == nil && s.cond() {
		s.once.Do(s.cancel)
	}
}

func (s *stopWhen) Err() error            { s.check(); return s.Context.Err() }
func (s *stopWhen) Done() <-chan struct{} { s.check(); return s.Context.Done() }

// TestExtractionCancelled: a fetch cancelled (its task killed) while its
// archive is being extracted stops there and returns ctx's error, without
// waiting for the rest of the archive; what it leaves is whole entries
// only (the one being written when it was cancelled is removed), and the
// cache entry is the archive as recorded, so the next fetch of the URI is
// a cache hit that extracts the archive whole.
func TestExtractionCancelled(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"tar.gz", zerosTarGz(t)},
		{"tar.xz", zerosTarXz(t)},
		{"zip", zerosZip(t)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(tc.data) }))
			defer srv.Close()
			var logs bytes.Buffer
			f := &Fetcher{CacheDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(&logs, nil))}
			cached := true
			u := mesos.CommandInfo_URI{Value: srv.URL + "/big." + tc.name, Cache: &cached}

			sandbox := t.TempDir()
			const stopAt = 3 // cancelled once the fourth entry is being written
			ctx := newStopWhen(func() bool {
				_, err := os.Lstat(filepath.Join(sandbox, cancelEntryName(stopAt)))
				return err == nil
			})
			_, err := f.FetchOne(ctx, u, sandbox)
			if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "extracting") {
				t.Fatalf("err = %v, want context.Canceled while extracting", err)
			}
			for i := range cancelEntries {
				fi, err := os.Lstat(filepath.Join(sandbox, cancelEntryName(i)))
				switch {
				case i < stopAt && (err != nil || fi.Size() != cancelEntrySize):
					t.Errorf("%s, extracted before the cancellation: %v, %v", cancelEntryName(i), fi, err)
				case i >= stopAt && err == nil:
					t.Errorf("%s (%d bytes) written after the cancellation", cancelEntryName(i), fi.Size())
				}
			}

			// The next fetch, into the same sandbox and into another,
			// extracts the whole archive from the cache.
			for _, sb := range []string{sandbox, t.TempDir()} {
				if _, err := f.FetchOne(context.Background(), u, sb); err != nil {
					t.Fatal(err)
				}
				for i := range cancelEntries {
					if fi, err := os.Lstat(filepath.Join(sb, cancelEntryName(i))); err != nil || fi.Size() != cancelEntrySize {
						t.Fatalf("%s after the next fetch: %v, %v", cancelEntryName(i), fi, err)
					}
				}
			}
			if logs.Len() != 0 {
				t.Errorf("the cache entry was not a hit after the cancelled extraction: %s", logs.String())
			}
		})
	}
}

// TestCopyCancelled: a file:// URI's copy stops when the fetch is
// cancelled, leaving no file.
func TestCopyCancelled(t *testing.T) {
	src := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(src, make([]byte, 8<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	sandbox := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (&Fetcher{}).FetchOne(ctx, mesos.CommandInfo_URI{Value: "file://" + src}, sandbox); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if names, _ := os.ReadDir(sandbox); len(names) != 0 {
		t.Errorf("left in the sandbox: %v", names)
	}
}
