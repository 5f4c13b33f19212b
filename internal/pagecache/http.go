package pagecache

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
)

// Header values shared by every response that carries them (full slices:
// an Add to a header copies them first).
var (
	// GzipEncoding is the Content-Encoding of a gzip body.
	GzipEncoding = []string{"gzip"}
	// HTMLType is the Content-Type of a page.
	HTMLType = []string{"text/html; charset=utf-8"}
	// VaryEncoding is the Vary of a response that depends on
	// Accept-Encoding alone.
	VaryEncoding = []string{"Accept-Encoding"}
)

// AcceptsGzip reports whether the client takes a gzip body.
func AcceptsGzip(r *http.Request) bool {
	for part := range strings.SplitSeq(r.Header.Get("Accept-Encoding"), ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		q, hasQ := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q=")
		if !hasQ {
			return true
		}
		f, err := strconv.ParseFloat(q, 64)
		return err == nil && f > 0
	}
	return false
}

// ETagMatch reports whether an If-None-Match header names etag (weak
// comparison, as RFC 9110 asks for If-None-Match).
func ETagMatch(header, etag string) bool {
	if header == "" {
		return false
	}
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

// bufferRecorder captures a response in memory.
type bufferRecorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (rec *bufferRecorder) Header() http.Header { return rec.header }

func (rec *bufferRecorder) WriteHeader(status int) {
	if rec.status == 0 {
		rec.status = status
	}
}

func (rec *bufferRecorder) Write(b []byte) (int, error) {
	rec.WriteHeader(http.StatusOK)
	return rec.body.Write(b)
}
