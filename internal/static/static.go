// Package static serves tasklist's static files (stylesheets, scripts, the
// favicon) as HTTP caches like them best: each under a URL with a
// fingerprint of its content, cached for a year and never revalidated
// (a changed file has a new URL), with a strong ETag, and gzip-compressed
// once, at start-up, for the clients that accept it.
package static

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/tasklist/tasklist/internal/pagecache"
)

// Cache-Control of the static files: a year, never revalidated, under a
// URL with the file's fingerprint (a new file has a new URL); otherwise
// kept but revalidated on every use (with the ETag).
const (
	immutableCacheControl  = "public, max-age=31536000, immutable"
	revalidateCacheControl = "public, no-cache"
)

// fingerprintLen is how many hex digits of a file's SHA-256 its
// fingerprinted URL carries.
const fingerprintLen = 12

// asset is one static file, made ready at start-up: its fingerprint and
// its bodies, plain and gzip-compressed.
type file struct {
	url         string // the fingerprinted URL, /static/NAME.FINGERPRINT.EXT
	fingerprint string
	contentType []string
	// plain and gz are the file as stored and gzip-compressed (gz nil
	// when compression does not make it smaller).
	plain, gz encoding
}

// encoding is one representation of an asset: its body and the header
// values that name it.
type encoding struct {
	body           []byte
	etag, length   []string
	contentEncoded []string // nil for the file as stored
}

// Files are the static files of one file system, ready to serve (see
// docs/frontend.md). Each file is read, hashed and compressed once, by New;
// a request costs a map lookup and a copy. A file is served under its own
// name ("/static/app.css", revalidated on every use) and under its
// fingerprinted URL ("/static/app.3f2a…c1.css", cached for a year), which
// the templates get from URL. Every response carries a strong ETag, so
// conditional requests and Range work on each representation.
//
// It is safe for concurrent use.
type Files struct {
	byName map[string]*file
}

// ErrNoFile reports a template asking for a static file that is not
// there.
var ErrNoFile = errors.New("static: no such file")

// New reads every file of fsys and makes it ready to serve.
func New(fsys fs.FS) (*Files, error) {
	a := &Files{byName: map[string]*file{}}
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		a.byName[name] = newFile(name, b)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("static: %w", err)
	}
	return a, nil
}

func newFile(name string, b []byte) *file {
	sum := sha256.Sum256(b)
	fp := hex.EncodeToString(sum[:])[:fingerprintLen]
	ext := path.Ext(name)
	ctype := mime.TypeByExtension(ext)
	if ctype == "" {
		ctype = http.DetectContentType(b)
	}
	a := &file{
		url:         "/static/" + strings.TrimSuffix(name, ext) + "." + fp + ext,
		fingerprint: fp,
		contentType: []string{ctype},
		plain:       newEncoding(b, `"`+fp+`"`, nil),
	}
	if gz := gzipBest(b); len(gz) < len(b) {
		a.gz = newEncoding(gz, `"`+fp+`-gz"`, pagecache.GzipEncoding)
	}
	return a
}

func newEncoding(body []byte, etag string, contentEncoding []string) encoding {
	return encoding{body: body, etag: []string{etag}, length: []string{strconv.Itoa(len(body))}, contentEncoded: contentEncoding}
}

// gzipBest compresses b as small as gzip can: done once per file.
func gzipBest(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // the level is valid
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// URL returns the fingerprinted URL of the static file name (a path in the
// file system New read), for the templates.
func (a *Files) URL(name string) (string, error) {
	f, ok := a.byName[name]
	if !ok {
		return "", fmt.Errorf("%w: %q", ErrNoFile, name)
	}
	return f.url, nil
}

// lookup finds the file that name (a request's path under /static/)
// stands for, and whether name carries its current fingerprint. A name
// with another fingerprint — a page of an older or newer deploy asking for
// its own version of the file — is answered with the current file,
// revalidated rather than kept for a year.
func (a *Files) lookup(name string) (f *file, current bool) {
	if f := a.byName[name]; f != nil {
		return f, false
	}
	ext := path.Ext(name)
	stem := strings.TrimSuffix(name, ext)
	dot := strings.LastIndexByte(stem, '.')
	if dot < 0 || !isFingerprint(stem[dot+1:]) {
		return nil, false
	}
	f = a.byName[stem[:dot]+ext]
	return f, f != nil && stem[dot+1:] == f.fingerprint
}

func isFingerprint(s string) bool {
	if len(s) != fingerprintLen {
		return false
	}
	for i := range len(s) {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Header values of the static files, shared by their responses (full
// slices: an Add copies them first).
var (
	immutableValue  = []string{immutableCacheControl}
	revalidateValue = []string{revalidateCacheControl}
)

// Serve answers a request for the static file at name (the path under
// /static/) and reports true, or reports false, answering nothing, when
// name is no file.
func (a *Files) Serve(w http.ResponseWriter, r *http.Request, name string) bool {
	f, current := a.lookup(name)
	if f == nil {
		return false
	}
	h := w.Header()
	h["Content-Type"] = f.contentType[:1:1]
	h["Cache-Control"] = revalidateValue[:1:1]
	if current {
		h["Cache-Control"] = immutableValue[:1:1]
	}
	enc := &f.plain
	if f.gz.body != nil {
		h["Vary"] = pagecache.VaryEncoding[:1:1]
		if pagecache.AcceptsGzip(r) {
			enc = &f.gz
			h["Content-Encoding"] = enc.contentEncoded[:1:1]
		}
	}
	h["Etag"] = enc.etag[:1:1]
	// ServeContent leaves Content-Length out when Content-Encoding is set
	// (in case the writer compresses on the fly, which this one does not).
	h["Content-Length"] = enc.length[:1:1]
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(enc.body))
	return true
}
