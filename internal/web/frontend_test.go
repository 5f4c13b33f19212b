package web_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tasklist/tasklist/internal/session"
)

// auditClient is an HTTP client that sends exactly the headers it is given
// (no Accept-Encoding of its own, no decompression) and follows no
// redirect, with a cookie jar: what REDbot sees of each response.
type auditClient struct {
	t      *testing.T
	base   string
	client *http.Client
}

func newAuditClient(t *testing.T, base string) *auditClient {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &auditClient{t: t, base: base, client: &http.Client{
		Jar:           jar,
		Transport:     &http.Transport{DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// fetch sends method path with header's name, value pairs and returns the
// response and its body as sent (compressed or not).
func (c *auditClient) fetch(method, path string, header ...string) (*http.Response, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.client.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp, b
}

// post submits form to path as the app's own page would.
func (c *auditClient) post(path string, form url.Values) {
	c.t.Helper()
	req, err := http.NewRequest("POST", c.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", c.base)
	resp, err := c.client.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		c.t.Fatalf("POST %s: %d, want 303", path, resp.StatusCode)
	}
}

// gunzip returns b decompressed.
func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("gzip body: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gzip body: %v", err)
	}
	return out
}

// checkWellFormed applies REDbot's rules about caching headers to one
// response: one Cache-Control line with no directive twice; one Vary line,
// naming Accept-Encoding when the body is compressed; a Content-Length
// that is the body's; a strong or weak ETag in quotes.
func checkWellFormed(t *testing.T, what string, resp *http.Response, body []byte) {
	t.Helper()
	if cc := resp.Header.Values("Cache-Control"); len(cc) != 1 {
		t.Errorf("%s: %d Cache-Control lines %q, want 1", what, len(cc), cc)
	} else {
		var seen []string
		for d := range strings.SplitSeq(cc[0], ",") {
			name, _, _ := strings.Cut(strings.TrimSpace(d), "=")
			if slices.Contains(seen, name) {
				t.Errorf("%s: Cache-Control %q says %s twice", what, cc[0], name)
			}
			seen = append(seen, name)
		}
	}
	vary := resp.Header.Values("Vary")
	if len(vary) > 1 {
		t.Errorf("%s: %d Vary lines %q, want one", what, len(vary), vary)
	}
	if resp.Header.Get("Content-Encoding") == "gzip" && !strings.Contains(strings.Join(vary, ","), "Accept-Encoding") {
		t.Errorf("%s: compressed, but Vary is %q", what, vary)
	}
	if resp.Request.Method != http.MethodHead && resp.StatusCode != http.StatusNotModified {
		if cl := resp.Header.Get("Content-Length"); cl != strconv.Itoa(len(body)) {
			t.Errorf("%s: Content-Length %q, body %d bytes", what, cl, len(body))
		}
	}
	if etag := resp.Header.Get("ETag"); etag != "" && !regexp.MustCompile(`^(W/)?"[^"]*"$`).MatchString(etag) {
		t.Errorf("%s: malformed ETag %q", what, etag)
	}
}

// headersOf is a response's headers less those that differ per response
// (the date, the Server-Timing figures).
func headersOf(resp *http.Response) http.Header {
	h := resp.Header.Clone()
	h.Del("Date")
	h.Del("Server-Timing")
	return h
}

// TestHTTPAudit checks what REDbot checks, on each kind of response an
// auditor looks at, fetched plain and as a browser that takes gzip: the
// shared page (with and without a session cookie), the page after a write
// with its flash message, a static file, /stats and /stats.json. Each has
// one Cache-Control and one Vary value, the same Vary whatever the
// encoding, the body compressed for gzip clients, a HEAD that says what
// the GET says, and (the shared page and static files) answers
// conditional requests with 304.
func TestHTTPAudit(t *testing.T) {
	o := allLayers
	o.sessions = session.CachedDB
	o.pageSize = 20 // two pages: /?after=20 is the second, which the links reach
	o.prefix = "audit:"
	app := newStack(t, o)
	srv := httptest.NewServer(app.handler)
	t.Cleanup(srv.Close)
	for i := range 40 {
		app.post(t, "/add", url.Values{"name": {"task number " + strconv.Itoa(i)}})
	}
	anon := newAuditClient(t, srv.URL)
	_, page := anon.fetch("GET", "/")
	css := regexp.MustCompile(`href="(/static/app\.[0-9a-f]{12}\.css)"`).FindSubmatch(page)
	if css == nil {
		t.Fatalf("GET / links no fingerprinted app.css:\n%s", page)
	}

	const pageVary = "Cookie, Accept-Encoding" // sessions are on
	for _, c := range []struct {
		path, vary, cacheControl string
		conditional              bool
	}{
		{"/", pageVary, "private, no-cache", true},
		{"/?after=20", pageVary, "private, no-cache", true},
		{string(css[1]), "Accept-Encoding", "public, max-age=31536000, immutable", true},
		{"/stats", "Accept-Encoding", "no-store", false},
		{"/stats.json", "Accept-Encoding", "no-store", false},
	} {
		plainResp, plain := anon.fetch("GET", c.path)
		gzResp, gz := anon.fetch("GET", c.path, "Accept-Encoding", "gzip, deflate")
		headResp, _ := anon.fetch("HEAD", c.path, "Accept-Encoding", "gzip, deflate")
		for _, r := range []struct {
			what string
			resp *http.Response
			body []byte
		}{{"GET " + c.path, plainResp, plain}, {"GET " + c.path + " (gzip)", gzResp, gz}, {"HEAD " + c.path + " (gzip)", headResp, nil}} {
			if r.resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: %d", r.what, r.resp.StatusCode)
			}
			checkWellFormed(t, r.what, r.resp, r.body)
			if got := r.resp.Header.Get("Vary"); got != c.vary {
				t.Errorf("%s: Vary %q, want %q", r.what, got, c.vary)
			}
			if got := r.resp.Header.Get("Cache-Control"); got != c.cacheControl {
				t.Errorf("%s: Cache-Control %q, want %q", r.what, got, c.cacheControl)
			}
		}
		if plainResp.Header.Get("Content-Encoding") != "" || gzResp.Header.Get("Content-Encoding") != "gzip" {
			t.Errorf("%s: Content-Encoding %q plain, %q to a gzip client; want none and gzip", c.path,
				plainResp.Header.Get("Content-Encoding"), gzResp.Header.Get("Content-Encoding"))
			continue
		}
		if unzipped := gunzip(t, gz); !c.conditional {
			if len(unzipped) == 0 {
				t.Errorf("%s: empty once decompressed", c.path)
			}
		} else if !bytes.Equal(unzipped, plain) {
			t.Errorf("%s: the gzip body is not the plain one compressed", c.path)
		}
		if got, want := headersOf(headResp), headersOf(gzResp); c.conditional && !equalHeaders(got, want) {
			t.Errorf("HEAD %s headers differ from GET's:\n HEAD %v\n GET  %v", c.path, got, want)
		}
		if !c.conditional {
			continue
		}
		etag := gzResp.Header.Get("ETag")
		if etag == "" || etag == plainResp.Header.Get("ETag") {
			t.Errorf("%s: ETag %q gzip'd, %q plain: want two different ones", c.path, etag, plainResp.Header.Get("ETag"))
		}
		resp, body := anon.fetch("GET", c.path, "Accept-Encoding", "gzip", "If-None-Match", etag)
		if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
			t.Errorf("%s with If-None-Match %s: %d (%d bytes), want 304", c.path, etag, resp.StatusCode, len(body))
		}
		checkWellFormed(t, c.path+" (304)", resp, body)
	}

	// A visitor who writes: the page after the write (with its flash) and
	// the shared page it gets then, cookie and all.
	v := newAuditClient(t, srv.URL)
	v.post("/add", url.Values{"name": {"written"}})
	resp, body := v.fetch("GET", "/", "Accept-Encoding", "gzip, deflate, br")
	checkWellFormed(t, "the page after a write", resp, body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("the page after a write: %d, Content-Encoding %q; want 200 gzip'd", resp.StatusCode, resp.Header.Get("Content-Encoding"))
	}
	if !strings.Contains(string(gunzip(t, body)), `id="flash-message"`) {
		t.Fatal("the page after a write shows no flash message")
	}
	if got := resp.Header.Values("Cache-Control"); !slices.Equal(got, []string{"private, no-cache"}) {
		t.Errorf("the page after a write: Cache-Control %q, want one private, no-cache", got)
	}
	if got := resp.Header.Values("Vary"); !slices.Equal(got, []string{pageVary}) {
		t.Errorf("the page after a write: Vary %q, want %q", got, pageVary)
	}
	resp, body = v.fetch("GET", "/", "Accept-Encoding", "gzip")
	checkWellFormed(t, "the shared page to a visitor with a session", resp, body)
	if got := resp.Header.Values("Vary"); !slices.Equal(got, []string{pageVary}) {
		t.Errorf("the shared page to a visitor with a session: Vary %q, want %q", got, pageVary)
	}
	if strings.Contains(string(gunzip(t, body)), `id="flash-message"`) {
		t.Error("the flash message was shown twice")
	}
}

// equalHeaders reports whether a and b have the same lines.
func equalHeaders(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// TestStaticFiles: each static file the page links is served under its
// fingerprinted URL for a year, and under its plain name (or a stale
// fingerprint, as a page from another deploy may ask) revalidated with
// the same strong ETag; Range and If-None-Match work on both encodings;
// names that are no file are 404.
func TestStaticFiles(t *testing.T) {
	h := newStack(t, stackOptions{}).handler
	page := do(h, "GET", "/", nil).Body.String()
	links := regexp.MustCompile(`(?:href|src)="(/static/[^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(links) < 3 { // Bootstrap, app.css, the favicon
		t.Fatalf("GET / links %d static files, want at least 3:\n%s", len(links), page)
	}
	fingerprinted := regexp.MustCompile(`^/static/(.+)\.[0-9a-f]{12}(\.[a-z]+)$`)
	for _, l := range links {
		u := l[1]
		m := fingerprinted.FindStringSubmatch(u)
		if m == nil {
			t.Errorf("%s has no fingerprint in its name", u)
			continue
		}
		plainName := "/static/" + m[1] + m[2]
		staleName := "/static/" + m[1] + ".0123456789ab" + m[2]
		w := do(h, "GET", u, nil)
		etag := w.Header().Get("ETag")
		if w.Code != 200 || w.Header().Get("Cache-Control") != "public, max-age=31536000, immutable" ||
			!strings.HasPrefix(etag, `"`) || w.Header().Get("Content-Type") == "" {
			t.Errorf("GET %s: %d, headers %v; want 200, immutable for a year, a strong ETag", u, w.Code, w.Header())
			continue
		}
		for _, other := range []string{plainName, staleName} {
			o := do(h, "GET", other, nil)
			if o.Code != 200 || o.Header().Get("Cache-Control") != "public, no-cache" || o.Header().Get("ETag") != etag ||
				!bytes.Equal(o.Body.Bytes(), w.Body.Bytes()) {
				t.Errorf("GET %s: %d, headers %v; want the file of %s, revalidated (public, no-cache)", other, o.Code, o.Header(), u)
			}
		}
		for _, enc := range []string{"", "gzip"} {
			full := do(h, "GET", u, nil, "Accept-Encoding", enc)
			tag := full.Header().Get("ETag")
			if nm := do(h, "GET", u, nil, "Accept-Encoding", enc, "If-None-Match", tag); nm.Code != http.StatusNotModified || nm.Body.Len() != 0 {
				t.Errorf("GET %s (Accept-Encoding %q) If-None-Match %s: %d, want 304", u, enc, tag, nm.Code)
			}
			part := do(h, "GET", u, nil, "Accept-Encoding", enc, "Range", "bytes=0-9")
			if part.Code != http.StatusPartialContent || !bytes.Equal(part.Body.Bytes(), full.Body.Bytes()[:10]) ||
				part.Header().Get("Content-Range") != "bytes 0-9/"+strconv.Itoa(full.Body.Len()) {
				t.Errorf("GET %s (Accept-Encoding %q) Range 0-9: %d %q, want 206 with the first 10 bytes", u, enc, part.Code, part.Header().Get("Content-Range"))
			}
			head := do(h, "HEAD", u, nil, "Accept-Encoding", enc)
			if head.Body.Len() != 0 || head.Header().Get("Content-Length") != strconv.Itoa(full.Body.Len()) || head.Header().Get("ETag") != tag {
				t.Errorf("HEAD %s (Accept-Encoding %q): headers %v, want GET's", u, enc, head.Header())
			}
		}
	}
	for _, missing := range []string{"/static/app.0123456789ab.js", "/static/nope.0123456789ab.css", "/static/app.0123456789.css"} {
		if w := do(h, "GET", missing, nil); w.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", missing, w.Code)
		}
	}
}
