package static

import (
	"strings"
	"testing"
)

// TestFingerprintFollowsContent: a file's URL changes when its content
// does, and only then, so a URL cached for a year never names other bytes.
func TestFingerprintFollowsContent(t *testing.T) {
	a, b, c := newFile("app.css", []byte("body{color:red}")), newFile("app.css", []byte("body{color:red}")), newFile("app.css", []byte("body{color:blue}"))
	if a.url != b.url {
		t.Errorf("the same content has two URLs: %s, %s", a.url, b.url)
	}
	if a.url == c.url || a.plain.etag[0] == c.plain.etag[0] {
		t.Errorf("changed content kept its URL %s or ETag %s", a.url, a.plain.etag[0])
	}
	if !strings.HasPrefix(a.url, "/static/app.") || !strings.HasSuffix(a.url, ".css") || a.contentType[0] != "text/css; charset=utf-8" {
		t.Errorf("URL %s, type %s; want /static/app.FINGERPRINT.css, text/css", a.url, a.contentType[0])
	}
	if small := newFile("x.txt", []byte("x")); small.gz.body != nil {
		t.Errorf("a file gzip makes bigger has a gzip body")
	}
}
