package web

import (
	"regexp"
	"strings"
	"testing"
)

// TestFingerprintFollowsContent: a file's URL changes when its content
// does, and only then, so a URL cached for a year never names other bytes.
func TestFingerprintFollowsContent(t *testing.T) {
	a, b, c := newAsset("app.css", []byte("body{color:red}")), newAsset("app.css", []byte("body{color:red}")), newAsset("app.css", []byte("body{color:blue}"))
	if a.url != b.url {
		t.Errorf("the same content has two URLs: %s, %s", a.url, b.url)
	}
	if a.url == c.url || a.plain.etag[0] == c.plain.etag[0] {
		t.Errorf("changed content kept its URL %s or ETag %s", a.url, a.plain.etag[0])
	}
	if !strings.HasPrefix(a.url, "/static/app.") || !strings.HasSuffix(a.url, ".css") || a.contentType[0] != "text/css; charset=utf-8" {
		t.Errorf("URL %s, type %s; want /static/app.FINGERPRINT.css, text/css", a.url, a.contentType[0])
	}
	if small := newAsset("x.txt", []byte("x")); small.gz.body != nil {
		t.Errorf("a file gzip makes bigger has a gzip body")
	}
}

// TestTrimmedCSSKeepsAppVariables: every Bootstrap custom property app.css
// uses is still defined in the trimmed Bootstrap (scripts/vendor-assets.sh
// drops the unused ones), or the stats chart would lose its colours.
func TestTrimmedCSSKeepsAppVariables(t *testing.T) {
	app, err := files.ReadFile("static/app.css")
	if err != nil {
		t.Fatal(err)
	}
	bootstrap, err := files.ReadFile("static/vendor/bootstrap/bootstrap.trimmed.css")
	if err != nil {
		t.Fatal(err)
	}
	used := regexp.MustCompile(`var\((--[a-z0-9-]+)`).FindAllStringSubmatch(string(app), -1)
	if len(used) == 0 {
		t.Fatal("app.css uses no variable; this test checks nothing")
	}
	for _, m := range used {
		if !strings.Contains(string(bootstrap), m[1]+":") && !strings.Contains(string(app), m[1]+":") {
			t.Errorf("app.css uses %s, which the trimmed Bootstrap does not define", m[1])
		}
	}
}
