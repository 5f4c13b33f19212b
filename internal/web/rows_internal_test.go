package web

import (
	"bytes"
	"html/template"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tasklist/tasklist/internal/tasks"
)

// TestRowsAreTheTemplate: a compiled row is, byte for byte, what the
// task-row template renders, for names holding every printable ASCII
// character, markup, non-ASCII text, NUL, invalid UTF-8 and the marks
// themselves, done or not.
func TestRowsAreTheTemplate(t *testing.T) {
	pages, rt := compiledRows(t)
	tmpl := pages["index.html"]
	names := []string{
		"buy milk",
		`<script>alert('x')</script>`,
		`a+b & "c" > d < e`,
		"ünïcode – ✓ 日本語 👍",
		"nul\x00byte",
		"bad utf-8 \xff\xfe",
		strings.Repeat("long name ", 20),
		rowNameMark,
		rowSeenMark,
		"id 7770001112223334445 in the name",
		"",
	}
	for c := byte(' '); c <= '~'; c++ {
		names = append(names, "x"+string(c)+"y")
	}
	created := time.Date(2026, 11, 26, 14, 0, 0, 0, time.UTC)
	for i, name := range names {
		for _, done := range []bool{false, true} {
			ids := []int64{1, int64(i + 2), math.MaxInt64}
			task := tasks.Task{ID: ids[i%len(ids)], Name: name, Done: done,
				CreatedAt: created.Add(time.Duration(i) * time.Hour), UpdatedAt: created.Add(time.Duration(i) * time.Minute)}
			seen := tasks.Seen("database", task)
			var want bytes.Buffer
			view := rowView{ID: task.ID, Name: task.Name, Done: task.Done, Seen: seen}
			if err := tmpl.ExecuteTemplate(&want, "task-row", view); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want.String(), string(rt.render(nil, task, seen))); diff != "" {
				t.Errorf("task %+v: row (-template +compiled):\n%s", task, diff)
			}
		}
	}
}

// TestCompileRowNeedsTheName: a row template that does not show the name
// is refused rather than compiled into rows without it.
func TestCompileRowNeedsTheName(t *testing.T) {
	tmpl := template.Must(template.New("t").Parse(`{{define "task-row"}}<tr data-id="{{.ID}}"></tr>{{end}}`))
	if _, err := compileRow(tmpl); err == nil || !strings.Contains(err.Error(), "must show the task's name") {
		t.Errorf("compileRow = %v, want an error about the name", err)
	}
}

// TestRowSizeFitsRows: rowTemplate.size, what buffers of rows are sized
// by, holds a row with a usual name (a longer one may grow the buffer), so
// a page's rows are rendered without growing theirs.
func TestRowSizeFitsRows(t *testing.T) {
	_, rt := compiledRows(t)
	for _, done := range []bool{false, true} {
		task := tasks.Task{ID: 1234567, Name: "Buy milk and eggs, and call the plumber", Done: done}
		row := rt.render(nil, task, tasks.Seen("3f9c0d2e4b5a6978", task))
		if len(row) > rt.size {
			t.Errorf("a row (done %v) takes %d bytes, over the %d buffers are sized by", done, len(row), rt.size)
		}
	}
}

// compiledRows returns the embedded pages' templates and their task-row,
// compiled.
func compiledRows(t *testing.T) (map[string]*template.Template, rowTemplate) {
	t.Helper()
	pages, _, err := loadTemplates()
	if err != nil {
		t.Fatal(err)
	}
	rt, err := compileRow(pages["index.html"])
	if err != nil {
		t.Fatal(err)
	}
	return pages, rt
}
