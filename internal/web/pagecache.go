package web

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/tasklist/tasklist/internal/cache/fill"
	"github.com/tasklist/tasklist/internal/reqtrace"
	"github.com/tasklist/tasklist/internal/stats"
	"github.com/tasklist/tasklist/internal/tasks"
)

// pageCacheControl lets a browser keep a page but makes it ask every time
// (with If-None-Match); "private" keeps shared proxies from storing it at
// all, so none can serve a list older than the last write.
const pageCacheControl = "private, no-cache"

// DefaultPageMemory bounds the in-process copies of pages, and those of list
// fragments, when Config.PageMemory is 0.
const DefaultPageMemory = 16 << 20

// errUncacheable reports a response the page cache must not store or share:
// not a 200, or one that sets a cookie or says no-store (as the app's error
// pages and anything per visitor do).
var errUncacheable = errors.New("web: response is not cacheable")

// pageCache serves whole GET and HEAD responses from the cache, keyed by
// the list's version, the route's own key (the page of the list) and the
// templates' build. A write moves the version on, so every instance serves
// the new page at once with no key to learn or delete; pages of old
// versions are never asked for again and age out.
//
// Pages are looked up like list fragments (see versioned). A hit costs one
// cache round trip: the version is read together with the page under the
// version seen last. Pages under a version never change, so each instance
// also keeps the pages of the current version in memory
// (bounded by bytes, dropped when the version moves on) and then reads only
// the small version key: with memcached that saves moving the page over
// the network, with the in-process cache copying it (the in-process cache
// hands out copies, so that no caller can change what it holds). A miss
// renders the page once for all the requests that want it, across
// instances (package fill).
//
// Nothing per visitor is ever stored or served: requests for which personal
// reports true bypass the cache; the shared page is rendered from a copy of
// the request without cookies; and a response that is not a 200, sets a
// cookie, or says no-store is never stored.
//
// It is safe for concurrent use.
type pageCache struct {
	pages    *versioned
	build    string
	personal func(*http.Request) bool
	// vary is the Vary header of every page it serves: Accept-Encoding,
	// and Cookie too under sessions (varyCookieEncoding), replacing the
	// Cookie that the session middleware added before, so that a page
	// says the same in one value whether it is served from here or, to
	// a visitor with a flash message waiting, rendered for them alone.
	vary []string
}

// pageEntry is a cached page, the body as rendered and gzip-compressed, or
// a list fragment (body only).
type pageEntry struct {
	body, gz []byte
	// headers are a page's header values (see pageCache.headers).
	headers atomic.Pointer[[2]pageHeaders]
}

// wrap serves next's responses through the cache. key names the response
// among those of the route; ok false (a request it cannot name, such as
// one with a malformed parameter) sends the request to next uncached.
func (p *pageCache) wrap(next http.Handler, key func(*http.Request) (string, bool)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k, ok := key(r)
		if !ok || (p.personal != nil && p.personal(r)) {
			next.ServeHTTP(w, r)
			return
		}
		p.serve(w, r, k, next)
	})
}

func (p *pageCache) serve(w http.ResponseWriter, r *http.Request, k string, next http.Handler) {
	gz := acceptsGzip(r)
	inm := r.Header.Get("If-None-Match")
	var want func(guess tasks.Version) bool // nil: the page, unless in memory
	if inm != "" {
		want = func(guess tasks.Version) bool { return !etagMatch(inm, p.etag(guess, k, gz)) }
	}
	read, err := p.pages.version(r.Context(), k, want)
	trace := reqtrace.From(r.Context())
	if err != nil {
		trace.Cache(reqtrace.Page, fill.Bypass)
		next.ServeHTTP(w, r) // the database is failing too, most likely: let next say so
		return
	}
	h := w.Header()
	if inm != "" {
		if etag := p.etag(read.v, k, gz); etagMatch(inm, etag) {
			p.pages.memHits.Add(1)
			trace.Cache(reqtrace.Page, fill.Hit)
			h["Cache-Control"] = cacheControlValue[:1:1]
			h["Vary"] = p.vary[:1:1]
			h.Set("ETag", etag)
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	e, outcome := p.pages.fromMemory(read, k), fill.Hit
	if e == nil {
		if e, outcome, err = p.pages.entry(r.Context(), read, k, p.render(r, next)); err != nil {
			// Not cacheable, or the render failed: serve this request on
			// its own, as if there were no page cache.
			trace.Cache(reqtrace.Page, fill.Bypass)
			next.ServeHTTP(w, r)
			return
		}
	}
	trace.Cache(reqtrace.Page, outcome)
	hds := p.headers(e, read.v, k)
	body, hd := e.body, hds[0]
	if gz {
		body, hd = e.gz, hds[1]
		h["Content-Encoding"] = gzipEncoding[:1:1]
	}
	// The values are shared by every response of the page (full slices:
	// an Add copies them first).
	h["Cache-Control"] = cacheControlValue[:1:1]
	h["Vary"] = p.vary[:1:1]
	h["Content-Type"] = htmlType[:1:1]
	h["Etag"] = hd.etag[:1:1] // "ETag" in canonical form
	h["Content-Length"] = hd.length[:1:1]
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// The values of Cache-Control, Vary, Content-Type and Content-Encoding on
// the pages the cache serves.
var (
	cacheControlValue = []string{pageCacheControl}
	varyEncoding      = []string{"Accept-Encoding"}
	htmlType          = []string{"text/html; charset=utf-8"}
	gzipEncoding      = []string{"gzip"}
)

// pageHeaders are the header values of one page in one encoding.
type pageHeaders struct {
	etag, length []string
}

// headers returns the header values of e, page k under version v, plain
// then compressed: made on its first hit, kept with it, so that the hits
// after it format nothing.
func (p *pageCache) headers(e *pageEntry, v tasks.Version, k string) *[2]pageHeaders {
	if hd := e.headers.Load(); hd != nil {
		return hd
	}
	hd := &[2]pageHeaders{
		{etag: []string{p.etag(v, k, false)}, length: []string{strconv.Itoa(len(e.body))}},
		{etag: []string{p.etag(v, k, true)}, length: []string{strconv.Itoa(len(e.gz))}},
	}
	e.headers.Store(hd)
	return hd
}

// render returns the loader of r's shared page: next's response, under a
// version, to a copy of r stripped of everything per visitor or per
// representation, whose context says what version the result is keyed by.
func (p *pageCache) render(r *http.Request, next http.Handler) func(context.Context, tasks.Version) ([]byte, error) {
	return func(ctx context.Context, v tasks.Version) ([]byte, error) {
		req := r.Clone(context.WithValue(ctx, renderVersionKey{}, v))
		req.Method = http.MethodGet
		for _, name := range []string{"Cookie", "Authorization", "Accept-Encoding", "If-None-Match", "If-Modified-Since", "Range"} {
			req.Header.Del(name)
		}
		rec := &bufferRecorder{header: http.Header{}}
		next.ServeHTTP(rec, req)
		if rec.status != http.StatusOK || len(rec.header.Values("Set-Cookie")) > 0 ||
			strings.Contains(rec.header.Get("Cache-Control"), "no-store") {
			return nil, errUncacheable
		}
		return encodePage(rec.body.Bytes()), nil
	}
}

// etag is the entity tag of page k under version v in one encoding: it
// changes exactly when the page may, so any instance can answer a
// conditional request from the version alone; it names the database, so a
// copy of another database's page is never confirmed.
func (p *pageCache) etag(v tasks.Version, k string, gz bool) string {
	t := `"` + p.build + "-" + v.String() + "-" + k
	if gz {
		t += "-gz"
	}
	return t + `"`
}

// PageStats counts what the page cache did since start: Fills are the
// pages read from or stored in the shared cache (package fill's counts),
// MemoryHits the requests answered from the in-process copy or with 304
// Not Modified, without reading a page.
type PageStats struct {
	Fills      fill.Stats
	MemoryHits uint64
}

// counts are the page layer's counters as the dashboard shows them: a page
// served from process memory or with 304 Not Modified is a hit too.
func (st PageStats) counts() stats.Counts {
	return stats.Counts{Hits: st.Fills.Hits + st.MemoryHits, Misses: st.Fills.Misses, Sets: st.Fills.Sets, Errors: st.Fills.Bypasses}
}

func (p *pageCache) stats() PageStats {
	fills, memHits := p.pages.stats()
	return PageStats{Fills: fills, MemoryHits: memHits}
}

// encodePage stores body and its gzip compression in one value: 'P', the
// body's length (uvarint), the body, the compressed body.
func encodePage(body []byte) []byte {
	var gz bytes.Buffer
	gz.Grow(len(body) / 4)
	zw := gzip.NewWriter(&gz)
	zw.Write(body)
	zw.Close()
	b := make([]byte, 0, 1+binary.MaxVarintLen64+len(body)+gz.Len())
	b = append(b, 'P')
	b = binary.AppendUvarint(b, uint64(len(body)))
	b = append(b, body...)
	return append(b, gz.Bytes()...)
}

var errCorruptPage = errors.New("web: corrupt cached page")

func decodePage(b []byte) (*pageEntry, error) {
	if len(b) == 0 || b[0] != 'P' {
		return nil, errCorruptPage
	}
	n, m := binary.Uvarint(b[1:])
	if m <= 0 || n > uint64(len(b)-1-m) {
		return nil, errCorruptPage
	}
	rest := b[1+m:]
	return &pageEntry{body: rest[:n], gz: rest[n:]}, nil
}

// acceptsGzip reports whether the client takes a gzip body.
func acceptsGzip(r *http.Request) bool {
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

// etagMatch reports whether an If-None-Match header names etag (weak
// comparison, as RFC 9110 asks for If-None-Match).
func etagMatch(header, etag string) bool {
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

// pageMemory keeps the pages of one version in process memory, up to max
// bytes. Entries under a version never change, so they can be served
// without asking the shared cache for more than the version; they are
// dropped when a newer version, or one of another database, is seen. A nil
// *pageMemory keeps nothing.
// It is safe for concurrent use.
type pageMemory struct {
	mu      sync.RWMutex
	version tasks.Version
	entries map[string]*pageEntry
	size    int
	max     int
}

func newPageMemory(max int) *pageMemory {
	return &pageMemory{max: max, entries: map[string]*pageEntry{}}
}

func (m *pageMemory) get(v tasks.Version, k string) *pageEntry {
	if m == nil {
		return nil
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if v != m.version {
		return nil
	}
	return m.entries[k]
}

func (m *pageMemory) put(v tasks.Version, k string, e *pageEntry) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case v == m.version:
	case v.DB == m.version.DB && v.Revision < m.version.Revision:
		return // an older version, read before the newer one
	default:
		m.version, m.entries, m.size = v, map[string]*pageEntry{}, 0
	}
	if _, ok := m.entries[k]; ok {
		return
	}
	if n := len(e.body) + len(e.gz); m.size+n <= m.max {
		m.entries[k] = e
		m.size += n
	}
}
