package pagecache

import (
	"cmp"
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

// CacheControl lets a browser keep a page but makes it ask every time
// (with If-None-Match); "private" keeps shared proxies from storing it at
// all, so none can serve a list older than the last write. Pages says it on
// every page it serves; a handler says it on the pages it serves itself.
const CacheControl = "private, no-cache"

// errUncacheable reports a response the page cache must not store or share:
// not a 200, or one that sets a cookie or says no-store (as the app's error
// pages and anything per visitor do).
var errUncacheable = errors.New("pagecache: response is not cacheable")

// Pages serves whole GET and HEAD responses from the cache, keyed by
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
// instances (package fill); when a write moves the list on while it is
// rendered, they read the version again and share the next page (at most
// maxMoves times, then each is served without the cache).
//
// Nothing per visitor is ever stored or served: requests the handler's key
// function does not name (one with a flash message waiting) bypass the
// cache; the shared page is rendered from a copy of the request without
// cookies; and a response that is not a 200, sets a cookie, or says
// no-store is never stored.
//
// It is safe for concurrent use.
type Pages struct {
	pages  *versioned
	build  string
	vary   []string
	counts stats.Counter // see Counts
}

// PagesOptions are what Pages needs beyond Options.
type PagesOptions struct {
	// Vary is the Vary header of every page served, in one value: the
	// default is "Accept-Encoding"; under sessions "Cookie,
	// Accept-Encoding", so that a page says the same whether it is served
	// from the cache or rendered for one visitor.
	Vary string
}

// NewPages returns the page cache.
func NewPages(o Options, po PagesOptions) (*Pages, error) {
	p := &Pages{build: o.Build, vary: []string{cmp.Or(po.Vary, "Accept-Encoding")}}
	v, err := o.lookup("page:", decodePage, &p.counts)
	if err != nil {
		return nil, err
	}
	p.pages = v
	return p, nil
}

// entry is a cached page, the body as rendered and gzip-compressed, or a
// list fragment (body only).
type entry struct {
	body, gz []byte
	// headers are a page's header values (see Pages.headers).
	headers atomic.Pointer[[2]pageHeaders]
}

// A VersionedHandler serves r showing the task list at version v: for the
// page cache, which keys what it stores by v, exactly that version, else it
// answers 409 Conflict and nothing more (the list has moved past v, as
// tasks.ErrMoved says); the zero v means the list as it is now.
type VersionedHandler func(w http.ResponseWriter, r *http.Request, v tasks.Version)

// Handler serves h's responses through the cache. key names the response
// among those of the route; ok false (a request it cannot name, such as
// one with a malformed parameter, or whose response holds something for
// its visitor alone) sends the request to h uncached, with the zero
// version, like every request that bypasses the cache.
func (p *Pages) Handler(h VersionedHandler, key func(*http.Request) (string, bool)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k, ok := key(r)
		if !ok {
			h(w, r, tasks.Version{})
			return
		}
		p.serve(w, r, k, h)
	})
}

func (p *Pages) serve(w http.ResponseWriter, r *http.Request, k string, next VersionedHandler) {
	gz := AcceptsGzip(r)
	var unchanged func(v tasks.Version) bool // nil: the page, unless in memory
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		unchanged = func(v tasks.Version) bool { return ETagMatch(inm, p.etag(v, k, gz)) }
	}
	trace := reqtrace.From(r.Context())
	v, e, outcome, err := p.pages.current(r.Context(), k, unchanged, func() loader { return p.render(r, next) })
	switch {
	case err != nil:
		// The version unread (the database is failing too, most likely:
		// next says so), the page not cacheable, or the list moved on at
		// every try: served on its own, as if there were no page cache.
		trace.Cache(reqtrace.Page, fill.Bypass)
		next(w, r, tasks.Version{})
	case e == nil:
		trace.Cache(reqtrace.Page, fill.Hit)
		p.notModified(w, p.etag(v, k, gz))
	default:
		trace.Cache(reqtrace.Page, outcome)
		p.write(w, r, e, v, k, gz)
	}
}

// notModified answers a conditional request whose page has not changed.
func (p *Pages) notModified(w http.ResponseWriter, etag string) {
	h := w.Header()
	h["Cache-Control"] = cacheControlValue[:1:1]
	h["Vary"] = p.vary[:1:1]
	h.Set("ETag", etag)
	w.WriteHeader(http.StatusNotModified)
}

// write sends e, page k under version v, in the encoding asked for.
func (p *Pages) write(w http.ResponseWriter, r *http.Request, e *entry, v tasks.Version, k string, gz bool) {
	h := w.Header()
	hds := p.headers(e, v, k)
	body, hd := e.body, hds[0]
	if gz {
		body, hd = e.gz, hds[1]
		h["Content-Encoding"] = GzipEncoding[:1:1]
	}
	// The values are shared by every response of the page (full slices:
	// an Add copies them first).
	h["Cache-Control"] = cacheControlValue[:1:1]
	h["Vary"] = p.vary[:1:1]
	h["Content-Type"] = HTMLType[:1:1]
	h["Etag"] = hd.etag[:1:1] // "ETag" in canonical form
	h["Content-Length"] = hd.length[:1:1]
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// cacheControlValue is the Cache-Control of the pages the cache serves.
var cacheControlValue = []string{CacheControl}

// pageHeaders are the header values of one page in one encoding.
type pageHeaders struct {
	etag, length []string
}

// headers returns the header values of e, page k under version v, plain
// then compressed: made on its first hit, kept with it, so that the hits
// after it format nothing.
func (p *Pages) headers(e *entry, v tasks.Version, k string) *[2]pageHeaders {
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

// render returns the loader of r's shared page: next's response at the
// version, to a copy of r stripped of everything per visitor or per
// representation.
func (p *Pages) render(r *http.Request, next VersionedHandler) func(context.Context, tasks.Version) ([]byte, error) {
	return func(ctx context.Context, v tasks.Version) ([]byte, error) {
		req := r.Clone(ctx)
		req.Method = http.MethodGet
		for _, name := range []string{"Cookie", "Authorization", "Accept-Encoding", "If-None-Match", "If-Modified-Since", "Range"} {
			req.Header.Del(name)
		}
		rec := &bufferRecorder{header: http.Header{}}
		next(rec, req, v)
		if rec.status == http.StatusConflict {
			return nil, tasks.ErrMoved // see VersionedHandler
		}
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
func (p *Pages) etag(v tasks.Version, k string, gz bool) string {
	t := `"` + p.build + "-" + v.String() + "-" + k
	if gz {
		t += "-gz"
	}
	return t + `"`
}

// Counts returns what the page cache did since it was made, as the
// dashboard shows it: the pages read from or stored in the shared cache
// (counted by their fills, package fill), and as hits too the requests
// answered from the in-process copy or with 304 Not Modified.
func (p *Pages) Counts() stats.Counts { return p.counts.Counts() }

// encodePage stores body and its gzip compression in one value: 'P', the
// body's length (uvarint), the body, the compressed body.
func encodePage(body []byte) []byte {
	gz := compress(body)
	b := make([]byte, 0, 1+binary.MaxVarintLen64+len(body)+len(gz))
	b = append(b, 'P')
	b = binary.AppendUvarint(b, uint64(len(body)))
	b = append(b, body...)
	return append(b, gz...)
}

var errCorruptPage = errors.New("pagecache: corrupt cached page")

func decodePage(b []byte) (*entry, error) {
	if len(b) == 0 || b[0] != 'P' {
		return nil, errCorruptPage
	}
	n, m := binary.Uvarint(b[1:])
	if m <= 0 || n > uint64(len(b)-1-m) {
		return nil, errCorruptPage
	}
	rest := b[1+m:]
	return &entry{body: rest[:n], gz: rest[n:]}, nil
}

// memory keeps the pages of one version in process memory, up to max
// bytes. Entries under a version never change, so they can be served
// without asking the shared cache for more than the version; they are
// dropped when a newer version, or one of another database, is seen. A nil
// *memory keeps nothing.
// It is safe for concurrent use.
type memory struct {
	mu      sync.RWMutex
	version tasks.Version
	entries map[string]*entry
	size    int
	max     int
}

func newMemory(max int) *memory {
	return &memory{max: max, entries: map[string]*entry{}}
}

func (m *memory) get(v tasks.Version, k string) *entry {
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

func (m *memory) put(v tasks.Version, k string, e *entry) {
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
		m.version, m.entries, m.size = v, map[string]*entry{}, 0
	}
	if _, ok := m.entries[k]; ok {
		return
	}
	if n := len(e.body) + len(e.gz); m.size+n <= m.max {
		m.entries[k] = e
		m.size += n
	}
}
