package web

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"strconv"

	"github.com/tasklist/tasklist/internal/tasks"
)

// rowTemplate renders the "task-row" template without running it. A row is
// static text with the task's id, its name and its seen token (tasks.Seen)
// in between, and which text depends only on whether the task is done; html/template costs about 10 µs
// a row (a reflective call per action), this a copy and an escape.
// compileRow finds the text by rendering the template once per done state
// with marks for the id and the name; TestRowsAreTheTemplate checks that
// the rows equal the template's own for many names.
type rowTemplate struct {
	byDone [2]rowShape
	// size is what a row usually takes, for sizing buffers: the larger
	// shape's text, 20 bytes per id and 64 per name.
	size int
}

// rowShape is one done state's row: parts[0], holes[0], parts[1], ...,
// parts[len(parts)-1], where a hole is the id ('i'), the name ('n') or the
// seen token ('s').
type rowShape struct {
	parts [][]byte
	holes []byte
}

// The marks stand for the id, the name and the seen token while the
// template renders; all come out of any escaping unchanged.
const (
	rowIDMark   int64 = 7770001112223334445
	rowNameMark       = "TasklistRowNameMark"
	rowSeenMark       = "TasklistRowSeenMark"
)

// rowView is what the task-row template shows of a task.
type rowView struct {
	ID   int64
	Name string
	Done bool
	// Seen is tasks.Seen of the task in the database the page shows.
	Seen string
}

// compileRow renders t's "task-row" with the marks, done and not, and
// cuts the output at them.
func compileRow(t *template.Template) (rowTemplate, error) {
	var rt rowTemplate
	marks := []struct {
		hole byte
		text []byte
	}{
		{'i', []byte(strconv.FormatInt(rowIDMark, 10))},
		{'n', []byte(rowNameMark)},
		{'s', []byte(rowSeenMark)},
	}
	for done := range 2 {
		var buf bytes.Buffer
		view := rowView{ID: rowIDMark, Name: rowNameMark, Done: done == 1, Seen: rowSeenMark}
		if err := t.ExecuteTemplate(&buf, "task-row", view); err != nil {
			return rowTemplate{}, fmt.Errorf("web: render a row's shape: %w", err)
		}
		rest := buf.Bytes()
		shape := &rt.byDone[done]
		for {
			at, mark := -1, 0
			for m, mk := range marks {
				if i := bytes.Index(rest, mk.text); i >= 0 && (at < 0 || i < at) {
					at, mark = i, m
				}
			}
			if at < 0 {
				break
			}
			shape.parts = append(shape.parts, rest[:at])
			shape.holes = append(shape.holes, marks[mark].hole)
			rest = rest[at+len(marks[mark].text):]
		}
		shape.parts = append(shape.parts, rest)
		if !bytes.Contains(shape.holes, []byte{'n'}) {
			return rowTemplate{}, errors.New("web: the task-row template must show the task's name")
		}
		size := 44*bytes.Count(shape.holes, []byte{'n'}) + 20*len(shape.holes)
		for _, p := range shape.parts {
			size += len(p)
		}
		rt.size = max(rt.size, size)
	}
	return rt, nil
}

// render appends the row of t, whose seen token is seen, to dst.
func (rt *rowTemplate) render(dst []byte, t tasks.Task, seen string) []byte {
	shape := &rt.byDone[0]
	if t.Done {
		shape = &rt.byDone[1]
	}
	for i, hole := range shape.holes {
		dst = append(dst, shape.parts[i]...)
		switch hole {
		case 'i':
			dst = strconv.AppendInt(dst, t.ID, 10)
		case 'n':
			dst = appendEscaped(dst, t.Name)
		default: // base64url: nothing to escape
			dst = append(dst, seen...)
		}
	}
	return append(dst, shape.parts[len(shape.parts)-1]...)
}

// appendEscaped appends s escaped as html/template escapes text: its
// table, byte by byte (every byte it replaces is ASCII, and no byte of a
// multi-byte UTF-8 sequence is).
func appendEscaped(dst []byte, s string) []byte {
	last := 0
	for i := 0; i < len(s); i++ {
		var repl string
		switch s[i] {
		case 0:
			repl = "\uFFFD"
		case '"':
			repl = "&#34;"
		case '&':
			repl = "&amp;"
		case '\'':
			repl = "&#39;"
		case '+':
			repl = "&#43;"
		case '<':
			repl = "&lt;"
		case '>':
			repl = "&gt;"
		default:
			continue
		}
		dst = append(append(dst, s[last:i]...), repl...)
		last = i + 1
	}
	return append(dst, s[last:]...)
}
