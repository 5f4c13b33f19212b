package web

import (
	"bytes"
	"html/template"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestFrameIsTheTemplate: the frame around a list is, byte for byte, what
// index.html renders around it.
func TestFrameIsTheTemplate(t *testing.T) {
	pages, _, err := loadTemplates()
	if err != nil {
		t.Fatal(err)
	}
	tmpl := pages["index.html"]
	f, err := newFrame(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	for _, list := range []string{
		"",
		`<div class="card" id="task-list">x</div>`,
		`<a href="/?after=5">Next &amp; more</a>`,
		"ünïcode – ✓ \"quotes\" 'too'",
		listMark,
	} {
		var want bytes.Buffer
		if err := tmpl.ExecuteTemplate(&want, "layout", indexView{List: template.HTML(list)}); err != nil {
			t.Fatal(err)
		}
		got := string(f.head) + list + string(f.tail)
		if diff := cmp.Diff(want.String(), got); diff != "" {
			t.Errorf("list %q: page (-template +frame):\n%s", list, diff)
		}
	}
}

func TestFrameNeedsTheListOnce(t *testing.T) {
	for _, layout := range []string{
		`{{define "layout"}}<p>no list</p>{{end}}`,
		`{{define "layout"}}{{.List}}<hr>{{.List}}{{end}}`,
	} {
		_, err := newFrame(template.Must(template.New("t").Parse(layout)))
		if err == nil || !strings.Contains(err.Error(), "exactly once") {
			t.Errorf("%s: newFrame error = %v, want one saying the list must be shown exactly once", layout, err)
		}
	}
}
