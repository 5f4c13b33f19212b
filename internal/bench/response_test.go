package bench

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// appLike answers as tasklist's page hit does: many headers, an ETag and
// a length per encoding, gzip when asked for. gzBody, when set, replaces
// the compressed body (a server whose two encodings disagree).
func appLike(t *testing.T, body string, gzBody []byte) http.Handler {
	t.Helper()
	if gzBody == nil {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write([]byte(body))
		zw.Close()
		gzBody = b.Bytes()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'")
		h.Set("Cache-Control", "private, no-cache")
		h.Set("Vary", "Accept-Encoding")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Server-Timing", `cache;desc="page hit", db;desc="0 queries";dur=0, total;dur=0.053`)
		h.Set("Content-Type", "text/html; charset=utf-8")
		b, etag := []byte(body), `"v1"`
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			b, etag = gzBody, `"v1-gz"`
			h.Set("Content-Encoding", "gzip")
		}
		h.Set("Etag", etag)
		h.Set("Content-Length", strconv.Itoa(len(b)))
		w.Write(b)
	})
}

// serveInBackground runs serve at a free address until the test ends and
// returns the address once it answers.
func serveInBackground(t *testing.T, serve func(ctx context.Context, addr string) error) string {
	t.Helper()
	addr, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, addr) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/")
		if err == nil {
			resp.Body.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not answer: %v", addr, err)
		}
		select {
		case err := <-done:
			t.Fatalf("serve: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestServePageSameBytes: what the same-response handler sends is what
// the server it was captured from sent, byte for byte, status line,
// every header and body, both encodings (but the Date), and the gzip
// variant is the page compressed.
func TestServePageSameBytes(t *testing.T) {
	body := strings.Repeat("<li>Task: write up the quarterly report</li>\n", 200)
	app := httptest.NewServer(appLike(t, body, nil))
	defer app.Close()
	page, err := capturePage(t.Context(), hostPort(app.URL))
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range [][]byte{page.Identity, page.Gzip} {
		for _, h := range []string{"\r\nContent-Security-Policy: ", "\r\nEtag: ", "\r\nServer-Timing: ", "\r\nVary: Accept-Encoding\r\n", "\r\nDate: "} {
			if !bytes.Contains(raw, []byte(h)) {
				t.Errorf("captured response lacks %q:\n%s", h, head(raw))
			}
		}
	}
	gz, err := parseResponse(page.Gzip)
	if err != nil {
		t.Fatal(err)
	}
	if plain, err := gunzip(gz.body); err != nil || string(plain) != body || len(gz.body) >= len(body) {
		t.Errorf("gzip variant: %d bytes, decodes to %d bytes (%v); want fewer than %d, decoding to the body", len(gz.body), len(plain), err, len(body))
	}

	addr := serveInBackground(t, func(ctx context.Context, addr string) error { return ServePage(ctx, addr, page) })
	for _, c := range []struct {
		gzip bool
		want []byte
	}{{false, page.Identity}, {true, page.Gzip}} {
		got, err := rawGet(t.Context(), addr, c.gzip)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(withoutDate(got), withoutDate(c.want)) {
			t.Errorf("gzip %v: the handler sent\n%q\nwant\n%q", c.gzip, withoutDate(got), withoutDate(c.want))
		}
	}
	if err := checkSame(t.Context(), addr, page); err != nil {
		t.Errorf("checkSame of the handler: %v", err)
	}

	// The three-header handler sends the same body, not the same
	// response: checkSame tells them apart.
	bare := serveInBackground(t, func(ctx context.Context, addr string) error { return ServeBytes(ctx, addr, []byte(body)) })
	if err := checkSame(t.Context(), bare, page); !errors.Is(err, errNotSame) {
		t.Errorf("checkSame of the three-header handler: %v, want %v", err, errNotSame)
	}
}

// TestServePageEncodingChoice: only a request that names gzip gets the
// compressed variant.
func TestServePageEncodingChoice(t *testing.T) {
	app := httptest.NewServer(appLike(t, "<p>page</p>", nil))
	defer app.Close()
	page, err := capturePage(t.Context(), hostPort(app.URL))
	if err != nil {
		t.Fatal(err)
	}
	h, err := pageHandler(page)
	if err != nil {
		t.Fatal(err)
	}
	for ae, want := range map[string]string{"": "", "br": "", "gzip, deflate, br, zstd": "gzip"} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		if ae != "" {
			req.Header.Set("Accept-Encoding", ae)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if got := rec.Header().Get("Content-Encoding"); got != want || rec.Code != http.StatusOK {
			t.Errorf("Accept-Encoding %q: %d, Content-Encoding %q; want 200, %q", ae, rec.Code, got, want)
		}
	}
}

// TestCapturePageRejects: a page the same-response handler could not
// send as the server did is an error, not a wrong ceiling.
func TestCapturePageRejects(t *testing.T) {
	for _, c := range []struct {
		name string
		h    http.Handler
		want error
	}{
		{"encodings disagree", appLike(t, "<p>page</p>", []byte("not gzip")), errGzipBody},
		{"gzip of another body", appLike(t, "<p>page</p>", func() []byte {
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			zw.Write([]byte("<p>other</p>"))
			zw.Close()
			return b.Bytes()
		}()), errGzipBody},
		{"not found", http.NotFoundHandler(), errNotOK},
		{"chunked", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("<p>part one</p>"))
			w.(http.Flusher).Flush()
			w.Write([]byte("<p>part two</p>"))
		}), errNoLength},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(c.h)
			defer srv.Close()
			if _, err := capturePage(t.Context(), hostPort(srv.URL)); !errors.Is(err, c.want) {
				t.Errorf("capturePage: %v, want %v", err, c.want)
			}
		})
	}
}

func TestWithoutDate(t *testing.T) {
	a := []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nDate: Mon, 07 Dec 2026 03:24:23 GMT\r\nVary: x\r\n\r\nhi")
	b := []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nDate: Tue, 08 Dec 2026 13:00:00 GMT\r\nVary: x\r\n\r\nhi")
	c := []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nDate: Tue, 08 Dec 2026 13:00:00 GMT\r\nVary: y\r\n\r\nhi")
	if !bytes.Equal(withoutDate(a), withoutDate(b)) {
		t.Errorf("responses that differ in the Date only: %q and %q", withoutDate(a), withoutDate(b))
	}
	if bytes.Equal(withoutDate(a), withoutDate(c)) {
		t.Error("responses that differ in a header compare equal")
	}
	body := []byte("HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n\r\nDate: x")
	if !bytes.Equal(withoutDate(body), body) {
		t.Errorf("a Date in the body was changed: %q", withoutDate(body))
	}
}
