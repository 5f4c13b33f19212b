// Package tasks is tasklist's data: the Task, the rules a task name obeys,
// and the SQL store (SQLite, MariaDB/MySQL, PostgreSQL) with its embedded
// migrations. The store keeps its tables in a database opened by
// internal/sqldb, which other stores may share.
//
// Every write bumps a revision number kept in the database in the same
// transaction, and every read of the list reports the revision it saw. The
// caching layers use it to tell a newer list from an older one.
package tasks

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// MaxNameLength is the longest task name, in characters, after trimming.
const MaxNameLength = 200

// Errors the store and the name rules return; test with errors.Is.
var (
	// ErrNotFound reports that no task has the given id.
	ErrNotFound = errors.New("tasks: no such task")
	// ErrExists reports a restore of a task whose id is in the list.
	ErrExists = errors.New("tasks: the task exists")
	// ErrFull reports an add to a list that holds Options.MaxTasks tasks.
	ErrFull = errors.New("tasks: the list is full")
	// ErrOutcomeUnknown reports a write whose COMMIT failed or timed out
	// after it was sent: the database may or may not have applied it.
	ErrOutcomeUnknown = errors.New("tasks: the write may or may not have been saved")
	// ErrInvalidName reports a name that breaks the rules of NormalizeName.
	ErrInvalidName = errors.New("tasks: invalid name")
)

// Task is one entry of the list.
type Task struct {
	ID        int64
	Name      string
	Done      bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Snapshot is the whole list as one committed state of the database: the
// tasks, oldest first, and the revision that state has.
type Snapshot struct {
	Revision int64
	Tasks    []Task
}

// NormalizeName trims white space from name and checks it: valid UTF-8, not
// empty, at most MaxNameLength characters, no control characters, no
// bidirectional controls (which can make "invoice\u202efdp.exe" show as
// "invoiceexe.pdf"), and at least one visible character (see visible), so
// that no row of the list looks empty. Any other text — HTML, SQL, quotes,
// zero-width joiners inside emoji — is a valid name, stored as typed. The
// error wraps ErrInvalidName and says what is wrong in words fit for a user.
// It is safe for concurrent use.
func NormalizeName(name string) (string, error) {
	if !utf8.ValidString(name) {
		return "", fmt.Errorf("%w: the name is not valid UTF-8 text", ErrInvalidName)
	}
	name = strings.TrimSpace(name)
	switch n := utf8.RuneCountInString(name); {
	case n == 0:
		return "", fmt.Errorf("%w: the name is empty", ErrInvalidName)
	case n > MaxNameLength:
		return "", fmt.Errorf("%w: the name has %d characters; at most %d are allowed", ErrInvalidName, n, MaxNameLength)
	}
	if strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return "", fmt.Errorf("%w: the name contains control characters", ErrInvalidName)
	}
	if strings.ContainsFunc(name, isBidiControl) {
		return "", fmt.Errorf("%w: the name contains bidirectional control characters, which can make text show in a misleading order", ErrInvalidName)
	}
	if !strings.ContainsFunc(name, visible) {
		return "", fmt.Errorf("%w: the name has no visible character", ErrInvalidName)
	}
	return name, nil
}

// isBidiControl reports the explicit bidirectional formatting characters:
// U+061C, U+200E, U+200F, U+202A–U+202E and U+2066–U+2069.
func isBidiControl(r rune) bool { return unicode.Is(unicode.Bidi_Control, r) }

// visible reports whether r draws something by itself: a graphic character
// that is not white space, not a combining mark, not default-ignorable (the
// Hangul fillers U+115F, U+1160, U+3164, U+FFA0 and the like; format
// characters such as U+200B and U+FEFF are not graphic) and not one of the
// blank symbols U+2800 and U+1D159.
func visible(r rune) bool {
	return unicode.IsGraphic(r) && !unicode.IsSpace(r) &&
		!unicode.In(r, unicode.M, unicode.Other_Default_Ignorable_Code_Point) &&
		r != '\u2800' && r != '\U0001D159'
}
