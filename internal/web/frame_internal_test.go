package web

import (
	"bytes"
	"html/template"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tasklist/tasklist/internal/paging"
	"github.com/tasklist/tasklist/internal/tasks"
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

// TestListIsTheTemplate: the list card renderList splices its rows into is,
// byte for byte, what the task-list template renders with the rows given
// to it, for a page with rows (names with markup among them), with rows
// and links both ways, and with none.
func TestListIsTheTemplate(t *testing.T) {
	pages, rt := compiledRows(t)
	s := &Server{pages: pages, rows: rt}
	rows := []tasks.Task{{ID: 7, Name: "milk"}, {ID: 9, Name: `<b>x</b> & "y" ` + rowsMark, Done: true}}
	for _, page := range []tasks.Page{
		{Tasks: rows, Total: 2},
		{Tasks: rows, Total: 40, Before: 10, HasPrev: true, Prev: 3, Next: 9},
		{Total: 12, Before: 12, HasPrev: true},
		{},
	} {
		var want bytes.Buffer
		var shown []byte
		for _, task := range page.Tasks {
			shown = rt.render(append(shown, rowIndent...), task, tasks.Seen(page.DB, task))
		}
		view := listView{Rows: template.HTML(shown), Total: page.Total, First: page.Before + 1, Last: page.Before + len(page.Tasks)}
		if page.HasPrev {
			view.Prev = paging.URL(page.Prev)
		}
		if page.Next != 0 {
			view.Next = paging.URL(page.Next)
		}
		if err := pages["index.html"].ExecuteTemplate(&want, "task-list", view); err != nil {
			t.Fatal(err)
		}
		got, err := s.renderList(t.Context(), page)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Errorf("page %+v: renderList gave\n%s\nthe template\n%s", page, got, want.Bytes())
		}
	}
}
