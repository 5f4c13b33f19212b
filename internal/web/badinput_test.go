package web_test

import (
	"bufio"
	"fmt"
	"html"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tasklist/tasklist/internal/tasks"
	"github.com/tasklist/tasklist/internal/testenv"
	"github.com/tasklist/tasklist/internal/web"
)

// hostile is one request of TestBadInput. It is sent as bytes over TCP to
// a real server, so it can be as malformed as an attacker likes.
type hostile struct {
	name   string
	method string
	target string
	header []string   // name, value pairs, sent as given; Host is 127.0.0.1 unless given
	form   url.Values // the body, url-encoded, with that Content-Type unless header has one
	body   string     // the body as is, when form is nil
	raw    string     // the whole request, sent instead of all the above
	status int
	says   string // in the response body
	stores string // the name the request adds, shown escaped; "" when nothing may change
}

// bytes is the request as sent: it closes the connection after the answer,
// and has a Content-Length unless header frames the body itself.
func (h hostile) bytes() (method string, req []byte) {
	if h.raw != "" {
		method, _, _ = strings.Cut(h.raw, " ")
		return method, []byte(h.raw)
	}
	body, ctype := h.body, ""
	if h.form != nil {
		body, ctype = h.form.Encode(), "application/x-www-form-urlencoded"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\n", h.method, h.target)
	has := map[string]bool{}
	for i := 0; i+1 < len(h.header); i += 2 {
		fmt.Fprintf(&b, "%s: %s\r\n", h.header[i], h.header[i+1])
		has[http.CanonicalHeaderKey(h.header[i])] = true
	}
	if !has["Host"] {
		b.WriteString("Host: 127.0.0.1\r\n")
	}
	if ctype != "" && !has["Content-Type"] {
		fmt.Fprintf(&b, "Content-Type: %s\r\n", ctype)
	}
	if !has["Content-Length"] && !has["Transfer-Encoding"] {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("Connection: close\r\n\r\n")
	b.WriteString(body)
	return h.method, []byte(b.String())
}

// TestBadInput sends hostile requests to the real app over TCP, without
// caches and with all three cache layers on (the default): each gets its
// documented 4xx (from the app, or from net/http for requests it cannot
// parse), or is stored as typed and shown escaped; none changes data it
// should not, and none is a 5xx. docs/reliability.md lists the classes.
func TestBadInput(t *testing.T) {
	t.Run("uncached", func(t *testing.T) {
		app := newStack(t, stackOptions{})
		store, h := app.Tasks(), app.handler
		testBadInput(t, store, h)
	})
	t.Run("all cache layers", func(t *testing.T) {
		o := allLayers
		o.prefix = "t:"
		l := newStack(t, o)
		testBadInput(t, l.Tasks(), l.handler)
	})
}

// testBadInput is TestBadInput on the app h serves over store.
func testBadInput(t *testing.T, store *tasks.Store, h http.Handler) {
	srv := httptest.NewUnstartedServer(h)
	srv.Config.MaxHeaderBytes = web.MaxHeaderBytes
	srv.Config.ReadTimeout = time.Second // ends the request whose body never comes
	var serverLog testenv.LockedBuffer
	srv.Config.ErrorLog = log.New(&serverLog, "", 0)
	srv.Start()
	t.Cleanup(srv.Close)
	for _, name := range []string{"keep me", "and me"} {
		if w := do(h, "POST", "/add", url.Values{"name": {name}}); w.Code != http.StatusSeeOther {
			t.Fatal(w.Code)
		}
	}

	post := func(target string, kv ...string) hostile {
		form := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			form.Add(kv[i], kv[i+1])
		}
		return hostile{method: "POST", target: target, form: form}
	}
	big := strings.Repeat("x", web.MaxBodyBytes)
	tests := []hostile{
		// Names.
		with(post("/add", "name", ""), "empty name", 400, "empty"),
		with(post("/add", "name", " \t\r\n "), "blank name", 400, "empty"),
		with(post("/add"), "missing name", 400, "empty"),
		with(post("/add", "name", strings.Repeat("a", 201)), "long name", 400, "at most 200"),
		with(post("/add", "name", "a\xffb"), "invalid utf-8", 400, "UTF-8"),
		with(post("/add", "name", "a\x07b"), "control character", 400, "control"),
		with(post("/add", "name", "a\x00b"), "encoded NUL in a name", 400, "control"),
		{name: "raw NUL in the body", method: "POST", target: "/add", body: "name=a\x00b", header: []string{"Content-Type", "application/x-www-form-urlencoded"}, status: 400, says: "control"},
		with(post("/add", "name", "\u200b\ufeff\u2060"), "zero-width name", 400, "no visible character"),
		with(post("/add", "name", "\u3164\u115f"), "hangul filler name", 400, "no visible character"),
		with(post("/add", "name", "invoice\u202efdp.exe"), "bidi override", 400, "bidirectional control"),
		with(post("/add", "name", "a\u2066b\u2069"), "bidi isolates", 400, "bidirectional control"),
		with(post("/add", "name", "one\u2028two"), "line separator", 400, "separator"),
		with(post("/add", "name", "one\u2029two"), "paragraph separator", 400, "separator"),
		with(post("/add", "name", "a\uffffb"), "noncharacter U+FFFF", 400, "not a character"),
		with(post("/add", "name", "a\ufffe"), "noncharacter U+FFFE", 400, "not a character"),
		with(post("/add", "name", "a\ufdd0"), "noncharacter U+FDD0", 400, "not a character"),
		with(post("/add", "name", "\U0010ffffa"), "noncharacter of plane 16", 400, "not a character"),
		with(post("/add", "name", "\ufff9a\ufffab\ufffb"), "interlinear annotation", 400, "annotation"),
		with(post("/add", "name", "\ufffd\ufffd"), "replacement characters only", 400, "replacement characters"),
		with(post("/add", "name", "a"+strings.Repeat("\u0301", 199)), "199 combining marks", 400, "combining marks"),
		with(post("/add", "name", "a"+strings.Repeat("\u200b", 199)), "199 zero-width spaces", 400, "invisible characters"),
		with(post("/add", "name", "a", "name", "b"), "repeated name", 400, "field name more than once"),
		with(post("/add?name=evil"), "name in the query only", 400, "empty"),
		// Payloads are stored as typed and shown escaped.
		stored(post("/add", "name", `<script>alert(1)</script>`), "script tag"),
		stored(post("/add", "name", `{{.}} {{template "layout" .}}`), "template actions"),
		stored(post("/add", "name", `Robert'); DROP TABLE tasks;--`), "SQL injection"),
		stored(post("/add", "name", `" onmouseover="alert(1)" x="`), "attribute breakout"),
		stored(post("/add", "name", `</td></tr><tr><td>&amp;`), "markup and entity"),
		stored(post("/add", "name", `${7*7} #{7*7} <%= 7*7 %> javascript:alert(1)`), "other template syntaxes"),
		{name: "double-encoded payload", method: "POST", target: "/add", body: "name=%253Cscript%253E", header: []string{"Content-Type", "application/x-www-form-urlencoded"}, status: 303, stores: "%3Cscript%3E"},
		// Ids.
		with(post("/remove"), "missing id", 400, "id field is missing"),
		with(post("/toggle", "id", ""), "empty id", 400, "id field is missing"),
		with(post("/remove", "id", "abc"), "non-numeric id", 400, "digits only"),
		with(post("/toggle", "id", "-1"), "negative id", 400, "digits only"),
		with(post("/remove", "id", "0"), "zero id", 400, "digits only"),
		with(post("/remove", "id", "1.5"), "fractional id", 400, "digits only"),
		with(post("/toggle", "id", "1e0"), "exponent id", 400, "digits only"),
		with(post("/toggle", "id", "+1"), "signed id", 400, "digits only"),
		with(post("/remove", "id", "01"), "leading-zero id", 400, "digits only"),
		with(post("/remove", "id", "-0"), "minus zero id", 400, "digits only"),
		with(post("/toggle", "id", " 1"), "spaced id", 400, "digits only"),
		with(post("/toggle", "id", "0x1"), "hex id", 400, "digits only"),
		with(post("/toggle", "id", "١"), "arabic-indic digit id", 400, "digits only"),
		with(post("/toggle", "id", "1\x00"), "id with NUL", 400, "digits only"),
		with(post("/toggle", "id", "9223372036854775808"), "id just beyond int64", 400, "digits only"),
		with(post("/remove", "id", strings.Repeat("9", 400)), "id of 400 digits", 400, "digits only"),
		with(post("/remove", "id", "1", "id", "2"), "repeated id", 400, "field id more than once"),
		with(post("/toggle?id=1"), "id in the query only", 400, "id field is missing"),
		with(post("/remove", "id", "424242"), "unknown id", 404, "no such task"),
		with(post("/toggle", "id", "9223372036854775807", "done", "1"), "largest int64 id", 404, "no such task"),
		with(post("/toggle", "id", "1"), "toggle without a state", 400, "what to set the task to"),
		with(post("/toggle", "id", "1", "done", "yes"), "toggle to an unknown state", 400, "what to set the task to"),
		with(post("/toggle", "id", "1", "done", "1", "done", "0"), "toggle to two states", 400, "field done more than once"),
		with(post("/remove", "id", "424242", "seen", "abc"), "unknown id from a page", 409, "has changed"),
		{name: "signed page", method: "GET", target: "/?after=+1", status: 400, says: "page parameter"},
		{name: "leading-zero page", method: "GET", target: "/?after=01", status: 400, says: "page parameter"},
		{name: "repeated page", method: "GET", target: "/?after=1&after=2", status: 400, says: "page parameter"},
		{name: "page beyond int64", method: "GET", target: "/?after=9223372036854775808", status: 400, says: "page parameter"},
		{name: "markup page", method: "GET", target: "/?after=%3Cscript%3E", status: 400, says: "page parameter"},
		{name: "badly encoded query is ignored", method: "GET", target: "/?after=%zz", status: 200, says: "Current Tasks"},
		// Bodies.
		with(post("/add", "name", big), "body too large", 413, "too large"),
		with(post("/remove", "id", "1", "pad", big), "body too large with a valid id", 413, "too large"),
		{name: "body shorter than Content-Length", method: "POST", target: "/add", body: "name=x", header: []string{"Content-Type", "application/x-www-form-urlencoded", "Content-Length", "100"}, status: 400, says: "could not be read"},
		{name: "negative Content-Length", method: "POST", target: "/add", body: "name=x", header: []string{"Content-Length", "-1"}, status: 400, says: "Bad Request"},
		{name: "conflicting Content-Lengths", method: "POST", target: "/add", body: "name=x", header: []string{"Content-Length", "6", "Content-Length", "7"}, status: 400, says: "Bad Request"},
		{name: "malformed chunks", method: "POST", target: "/add", body: "zz\r\nname=x\r\n0\r\n\r\n", header: []string{"Content-Type", "application/x-www-form-urlencoded", "Transfer-Encoding", "chunked"}, status: 400, says: "could not be read"},
		{name: "chunked body too large", method: "POST", target: "/add", body: fmt.Sprintf("%x\r\nname=%s\r\n0\r\n\r\n", len(big)+5, big), header: []string{"Content-Type", "application/x-www-form-urlencoded", "Transfer-Encoding", "chunked"}, status: 413, says: "too large"},
		{name: "bad percent-encoding", method: "POST", target: "/add", body: "name=%zz", header: []string{"Content-Type", "application/x-www-form-urlencoded"}, status: 400, says: "could not be read"},
		{name: "truncated percent-encoding", method: "POST", target: "/add", body: "name=abc%", header: []string{"Content-Type", "application/x-www-form-urlencoded"}, status: 400, says: "could not be read"},
		{name: "semicolon separator", method: "POST", target: "/add", body: "name=a;b", header: []string{"Content-Type", "application/x-www-form-urlencoded"}, status: 400, says: "could not be read"},
		{name: "10,000 fields", method: "POST", target: "/add", body: strings.Repeat("a&", 9999) + "name=many+fields", header: []string{"Content-Type", "application/x-www-form-urlencoded"}, status: 303, stores: "many fields"},
		{name: "10,001 fields", method: "POST", target: "/add", body: strings.Repeat("a&", 10000) + "name=x", header: []string{"Content-Type", "application/x-www-form-urlencoded"}, status: 400, says: "could not be read"},
		{name: "10,000 names", method: "POST", target: "/add", body: strings.Repeat("name&", 9999) + "name=x", header: []string{"Content-Type", "application/x-www-form-urlencoded"}, status: 400, says: "more than once"},
		// Content types.
		{name: "multipart", method: "POST", target: "/add", body: "--b\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nx\r\n--b--\r\n", header: []string{"Content-Type", "multipart/form-data; boundary=b"}, status: 415, says: "x-www-form-urlencoded"},
		{name: "json", method: "POST", target: "/add", body: `{"name":"x"}`, header: []string{"Content-Type", "application/json"}, status: 415, says: "x-www-form-urlencoded"},
		{name: "text/plain", method: "POST", target: "/remove", body: "id=1", header: []string{"Content-Type", "text/plain"}, status: 415, says: "x-www-form-urlencoded"},
		{name: "no content type", method: "POST", target: "/toggle", body: "id=1", status: 415, says: "x-www-form-urlencoded"},
		{name: "malformed content type", method: "POST", target: "/remove", body: "id=1", header: []string{"Content-Type", "application/x-www-form-urlencoded; charset"}, status: 400, says: "could not be read"},
		{name: "form in utf-16", method: "POST", target: "/add", body: "name=x", header: []string{"Content-Type", "application/x-www-form-urlencoded; charset=utf-16"}, status: 415, says: "UTF-8, not &#34;utf-16&#34;"},
		{name: "form in latin-1", method: "POST", target: "/add", body: "name=%E9", header: []string{"Content-Type", "application/x-www-form-urlencoded; charset=ISO-8859-1"}, status: 415, says: "in UTF-8"},
		{name: "form in declared utf-8", method: "POST", target: "/add", body: "name=utf8+declared", header: []string{"Content-Type", "application/x-www-form-urlencoded; charset=UTF-8"}, status: 303, stores: "utf8 declared"},
		{name: "two content types", method: "POST", target: "/add", body: "name=x", header: []string{"Content-Type", "application/x-www-form-urlencoded", "Content-Type", "text/plain"}, status: 400, says: "more than one Content-Type"},
		{name: "the same content type twice", method: "POST", target: "/remove", body: "id=1", header: []string{"Content-Type", "application/x-www-form-urlencoded", "Content-Type", "application/x-www-form-urlencoded"}, status: 400, says: "more than one Content-Type"},
		// Request lines and headers net/http refuses itself.
		{name: "bad percent-encoding in the path", method: "GET", target: "/%zz", status: 400, says: "Bad Request"},
		{name: "bare percent in the path", method: "GET", target: "/static/%", status: 400, says: "Bad Request"},
		{name: "NUL in the path", method: "GET", target: "/add\x00", status: 400, says: "Bad Request"},
		{name: "encoded NUL in the path", method: "GET", target: "/%00", status: 404, says: "no page"},
		{name: "NUL in a header", method: "GET", target: "/", header: []string{"X-Note", "a\x00b"}, status: 400, says: "Bad Request"},
		{name: "garbage request line", raw: "HELLO\r\n\r\n", status: 400, says: "Bad Request"},
		{name: "32 KiB cookie", method: "GET", target: "/", header: []string{"Cookie", "c=" + strings.Repeat("c", 32<<10)}, status: 431, says: "Too Large"},
		{name: "32 KiB header", method: "GET", target: "/", header: []string{"X-Big", strings.Repeat("b", 32<<10)}, status: 431, says: "Too Large"},
		{name: "32 KiB path", method: "GET", target: "/" + strings.Repeat("p", 32<<10), status: 431, says: "Too Large"},
		{name: "2,000 small headers", method: "GET", target: "/", header: manyHeaders(2000), status: 431, says: "Too Large"},
		{name: "8 KiB cookie is ignored", method: "GET", target: "/", header: []string{"Cookie", "c=" + strings.Repeat("c", 8<<10)}, status: 200, says: "Current Tasks"},
		// Path traversal and listings under /static/.
		{name: "dot-dot", method: "GET", target: "/static/../go.mod", status: 404, says: "no page"},
		{name: "encoded dot-dot", method: "GET", target: "/static/%2e%2e/%2e%2e/go.mod", status: 404, says: "no page"},
		{name: "encoded slash", method: "GET", target: "/static/..%2f..%2fgo.mod", status: 404, says: "no page"},
		{name: "encoded dot-dot and slash", method: "GET", target: "/static/%2e%2e%2fserver.go", status: 404, says: "no page"},
		{name: "double-encoded slash", method: "GET", target: "/static/..%252f..%252fgo.mod", status: 404, says: "no page"},
		{name: "backslashes", method: "GET", target: `/static/..\..\server.go`, status: 404, says: "no page"},
		{name: "encoded backslashes", method: "GET", target: "/static/..%5c..%5cserver.go", status: 404, says: "no page"},
		{name: "doubled slash", method: "GET", target: "/static//etc/passwd", status: 307, says: `href="/static/etc/passwd"`},
		{name: "dot segment", method: "GET", target: "/static/./vendor/../app.css", status: 307, says: `href="/static/app.css"`},
		{name: "embedded template", method: "GET", target: "/static/../templates/layout.html", status: 404, says: "no page"},
		{name: "static root", method: "GET", target: "/static/", status: 404, says: "no page"},
		{name: "static directory", method: "GET", target: "/static/vendor/", status: 404, says: "no page"},
		{name: "static directory without slash", method: "GET", target: "/static/vendor", status: 404, says: "no page"},
		{name: "file with a slash after it", method: "GET", target: "/static/app.css/", status: 404, says: "no page"},
		{name: "file with an encoded NUL", method: "GET", target: "/static/app.css%00", status: 404, says: "no page"},
		{name: "missing file", method: "GET", target: "/static/nope.css", status: 404, says: "no page"},
		// Methods.
		{name: "HEAD", method: "HEAD", target: "/", status: 200},
		{name: "OPTIONS", method: "OPTIONS", target: "/", status: 405, says: "does not accept OPTIONS"},
		{name: "OPTIONS *", method: "OPTIONS", target: "*", status: 200},
		{name: "TRACE", method: "TRACE", target: "/", status: 405, says: "does not accept TRACE"},
		{name: "PUT", method: "PUT", target: "/add", form: url.Values{"name": {"put"}}, status: 405, says: "does not accept PUT"},
		{name: "DELETE", method: "DELETE", target: "/remove?id=1", status: 405, says: "does not accept DELETE"},
		{name: "PATCH", method: "PATCH", target: "/toggle", form: url.Values{"id": {"1"}}, status: 405, says: "does not accept PATCH"},
		{name: "GET a write", method: "GET", target: "/remove?id=1", status: 405, says: "does not accept GET"},
		{name: "method override on GET", method: "GET", target: "/add?name=x", header: []string{"X-HTTP-Method-Override", "POST"}, status: 405, says: "does not accept GET"},
		{name: "method override on POST", method: "POST", target: "/", header: []string{"X-HTTP-Method-Override", "DELETE"}, status: 405, says: "does not accept POST"},
		{name: "lower-case method", method: "post", target: "/add", form: url.Values{"name": {"x"}}, status: 405, says: "does not accept post"},
		{name: "invalid method", method: "P@ST", target: "/add", status: 400, says: "Bad Request"},
		{name: "unknown path", method: "GET", target: "/nope", status: 404, says: "no page"},
		// Origins and hosts.
		with(withHeader(post("/add", "name", "evil"), "Origin", "https://evil.example"), "cross-origin", 403, "Cross-origin"),
		with(withHeader(post("/remove", "id", "1"), "Origin", "null"), "Origin null", 403, "Cross-origin"),
		with(withHeader(post("/toggle", "id", "1"), "Origin", "http://127.0.0.1:1"), "other port", 403, "Cross-origin"),
		with(withHeader(post("/add", "name", "evil"), "Sec-Fetch-Site", "cross-site"), "cross-site", 403, "Cross-origin"),
		with(withHeader(post("/remove", "id", "1"), "Sec-Fetch-Site", "same-site"), "same-site", 403, "Cross-origin"),
		with(withHeader(post("/add", "name", "rebound"), "Host", "evil.example", "Origin", "http://evil.example"), "DNS rebinding", 400, "does not answer for the host"),
		{name: "other host", method: "GET", target: "/", header: []string{"Host", "evil.example"}, status: 400, says: "does not answer for the host"},
		{name: "absolute target on another host", method: "POST", target: "http://evil.example/add", form: url.Values{"name": {"evil"}}, header: []string{"Origin", "http://evil.example"}, status: 400, says: "does not answer for the host"},
		{name: "empty host", method: "GET", target: "/", header: []string{"Host", ""}, status: 400, says: "does not answer for the host"},
		{name: "no host", raw: "GET / HTTP/1.1\r\nConnection: close\r\n\r\n", status: 400, says: "Host"},
		{name: "two hosts", method: "GET", target: "/", header: []string{"Host", "127.0.0.1", "Host", "evil.example"}, status: 400, says: "Bad Request"},
		stored(withHeader(post("/add", "name", "same origin"), "Sec-Fetch-Site", "same-origin"), "same-origin fetch"),
		stored(withHeader(post("/add", "name", "same origin, by Origin"), "Origin", "http://127.0.0.1"), "same Origin"),
		{name: "X-Forwarded-Host is ignored", method: "GET", target: "/", header: []string{"X-Forwarded-Host", "evil.example"}, status: 200, says: "Current Tasks"},
	}
	if len(tests) < 60 {
		t.Fatalf("only %d hostile requests", len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, err := store.List(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			logged := len(serverLog.String())
			status, body := send(t, srv.Listener.Addr().String(), tt)
			if status != tt.status || status >= 500 {
				t.Errorf("status = %d, want %d: %s", status, tt.status, gist(body))
			}
			if !strings.Contains(body, tt.says) {
				t.Errorf("response does not say %q: %s", tt.says, gist(body))
			}
			// A handler that answers twice (its second status dropped
			// with a warning, its second page cut off) answers wrongly.
			if out := serverLog.String(); strings.Contains(out[logged:], "superfluous") {
				t.Errorf("the handler answered more than once: %s", out[logged:])
			}
			after, err := store.List(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if tt.stores == "" {
				if diff := cmp.Diff(before, after); diff != "" {
					t.Errorf("data changed (-before +after):\n%s", diff)
				}
				return
			}
			if diff := cmp.Diff(before.Tasks, after.Tasks[:len(after.Tasks)-1]); diff != "" || after.Revision <= before.Revision {
				t.Fatalf("want one task added at a revision above %d, got revision %d (-before +after):\n%s", before.Revision, after.Revision, diff)
			}
			checkShownEscaped(t, h, after.Tasks[len(after.Tasks)-1], tt.stores)
		})
	}
	if w := do(h, "PUT", "/add", nil); w.Header().Get("Allow") != "POST" {
		t.Errorf("405 Allow = %q, want POST", w.Header().Get("Allow"))
	}
}

// with names a case and sets the answer it must get.
func with(h hostile, name string, status int, says string) hostile {
	h.name, h.status, h.says = name, status, says
	return h
}

// stored names a case whose name field must be stored as typed.
func stored(h hostile, name string) hostile {
	h.name, h.status, h.stores = name, http.StatusSeeOther, h.form.Get("name")
	return h
}

// withHeader adds name, value pairs to the request's headers.
func withHeader(h hostile, kv ...string) hostile {
	h.header = append(h.header, kv...)
	return h
}

// manyHeaders returns n distinct short headers as name, value pairs.
func manyHeaders(n int) []string {
	var kv []string
	for i := range n {
		kv = append(kv, "X-Filler-"+strconv.Itoa(i), "ffffffff")
	}
	return kv
}

// send writes the request to a new connection to addr and returns the
// status and body of the answer.
func send(t *testing.T, addr string, h hostile) (int, string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	method, req := h.bytes()
	if _, err := conn.Write(req); err != nil {
		t.Fatalf("sending the request: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the response body: %v", err)
	}
	return resp.StatusCode, string(body)
}

// gist is what a failure shows of a response body: the message of the
// app's error page, or the start of any other body.
func gist(body string) string {
	if m := regexp.MustCompile(`(?s)<p class="mb-0">(.*?)</p>`).FindStringSubmatch(body); m != nil {
		return m[1]
	}
	return fmt.Sprintf("%.200q", body)
}

// checkShownEscaped checks that the list page shows task's name as name,
// as text: the row's name cell holds no markup and unescapes to name.
func checkShownEscaped(t *testing.T, h http.Handler, task tasks.Task, name string) {
	t.Helper()
	if task.Name != name {
		t.Errorf("stored name = %q, want %q", task.Name, name)
	}
	page := do(h, "GET", "/", nil).Body.String()
	row := regexp.MustCompile(`<tr data-task-id="` + strconv.FormatInt(task.ID, 10) + `"[^>]*>\s*<td class="task-name">([^<]*)</td>`).FindStringSubmatch(page)
	if row == nil {
		t.Fatalf("no row for task %d with a name cell free of markup:\n%s", task.ID, page)
	}
	if got := html.UnescapeString(row[1]); got != name {
		t.Errorf("page shows %q, want %q", got, name)
	}
}
