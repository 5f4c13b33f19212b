package pagecache

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// minGzipBytes is the smallest body worth compressing: below it gzip's own
// framing and the extra header eat most of the gain.
const minGzipBytes = 1024

// gzipWriters reuses gzip writers, each about 800 KB of compressor state,
// for the pages compressed once per version (encodePage) and the responses
// compressed per request (WriteCompressed): a new writer per page would
// allocate and clear that state for every write's next page.
var gzipWriters sync.Pool

// compress returns b gzip-compressed (default level).
func compress(b []byte) []byte {
	var buf bytes.Buffer
	buf.Grow(len(b)/4 + 64)
	zw, _ := gzipWriters.Get().(*gzip.Writer)
	if zw == nil {
		zw = gzip.NewWriter(&buf)
	} else {
		zw.Reset(&buf)
	}
	zw.Write(b)
	zw.Close()
	zw.Reset(io.Discard) // let go of buf
	gzipWriters.Put(zw)
	return buf.Bytes()
}

// WriteCompressed sends body as a complete response of type contentType,
// gzip-compressed when r accepts it and it is worth it. It is for the
// responses made per request — the page after a write (with its flash
// message), the statistics — where Pages and package static compress what
// they serve once. It adds Accept-Encoding to the Vary header, merged with
// what is there into one value ("Cookie, Accept-Encoding" under a
// session), whichever encoding it chose, so that every response of the URL
// says the same.
func WriteCompressed(w http.ResponseWriter, r *http.Request, status int, contentType string, body []byte) {
	h := w.Header()
	addVary(h, "Accept-Encoding")
	if len(body) >= minGzipBytes && AcceptsGzip(r) {
		body = compress(body)
		h["Content-Encoding"] = GzipEncoding[:1:1]
	}
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// addVary adds token to h's Vary header, keeping one value: the tokens
// there already (in any number of lines), then token unless among them.
func addVary(h http.Header, token string) {
	var tokens []string
	for _, v := range h["Vary"] {
		for t := range strings.SplitSeq(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				tokens = append(tokens, t)
			}
		}
	}
	if !slices.ContainsFunc(tokens, func(t string) bool { return strings.EqualFold(t, token) }) {
		tokens = append(tokens, token)
	}
	h.Set("Vary", strings.Join(tokens, ", "))
}
