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
// static text with the task's id and its name in between, and which text
// depends only on whether the task is done; html/template costs about 10 µs
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
// parts[len(parts)-1], where a hole is the id ('i') or the name ('n').
type rowShape struct {
	parts [][]byte
	holes []byte
}

// The marks stand for the id and the name while the template renders; both
// come out of any escaping unchanged.
const (
	rowIDMark   int64 = 7770001112223334445
	rowNameMark       = "TasklistRowNameMark"
)

// compileRow renders t's "task-row" with the marks, done and not, and
// cuts the output at them.
func compileRow(t *template.Template) (rowTemplate, error) {
	var rt rowTemplate
	id := []byte(strconv.FormatInt(rowIDMark, 10))
	for done := range 2 {
		var buf bytes.Buffer
		if err := t.ExecuteTemplate(&buf, "task-row", tasks.Task{ID: rowIDMark, Name: rowNameMark, Done: done == 1}); err != nil {
			return rowTemplate{}, fmt.Errorf("web: render a row's shape: %w", err)
		}
		rest := buf.Bytes()
		shape := &rt.byDone[done]
		for {
			i, n := bytes.Index(rest, id), bytes.Index(rest, []byte(rowNameMark))
			if i < 0 && n < 0 {
				break
			}
			hole, at, size := byte('i'), i, len(id)
			if i < 0 || (n >= 0 && n < i) {
				hole, at, size = 'n', n, len(rowNameMark)
			}
			shape.parts = append(shape.parts, rest[:at])
			shape.holes = append(shape.holes, hole)
			rest = rest[at+size:]
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

// render appends t's row to dst.
func (rt *rowTemplate) render(dst []byte, t tasks.Task) []byte {
	shape := &rt.byDone[0]
	if t.Done {
		shape = &rt.byDone[1]
	}
	for i, hole := range shape.holes {
		dst = append(dst, shape.parts[i]...)
		if hole == 'i' {
			dst = strconv.AppendInt(dst, t.ID, 10)
		} else {
			dst = appendEscaped(dst, t.Name)
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
