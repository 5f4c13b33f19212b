package web

import (
	"regexp"
	"strings"
	"testing"
)

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
