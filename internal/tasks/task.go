// Package tasks is tasklist's data: the Task, the rules a task name obeys,
// and the SQL store (SQLite, MariaDB/MySQL, PostgreSQL) with its embedded
// migrations. The store keeps its tables in a database opened by
// internal/sqldb, which other stores may share.
//
// Every change to the tasks table moves a revision number kept in the
// database (triggers do it, so a change made by hand in SQL moves it too), and
// every read of the list reports the revision it saw together with the
// database's identity: a Version. The caching layers key what they cache by
// it, so that a newer list is told from an older one, and one database's
// list from another's.
package tasks

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
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
	// ErrChanged reports a write whose precondition failed: the task is not
	// as the visitor saw it (see Seen), or the form came from another
	// database's page.
	ErrChanged = errors.New("tasks: the task changed since it was shown")
	// ErrMoved reports that the list has moved past the version something
	// was wanted for (a change committed since the version was read). What
	// is keyed by a version shows exactly that version, so the caller reads
	// the version again.
	ErrMoved = errors.New("tasks: the list has moved past the version")
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
// tasks, oldest first, the database's identity and the revision that state
// has.
type Snapshot struct {
	DB       string
	Revision int64
	Tasks    []Task
}

// Version is the state the snapshot shows.
func (snap Snapshot) Version() Version { return Version{DB: snap.DB, Revision: snap.Revision} }

// Version names one committed state of the task list: the database it is
// in, by the identity the database was given (see Store.Head), and its
// revision there. Revisions only grow within one history of a database and
// never repeat (see the migrations' triggers), so two different states never
// share a Version: not in two databases, not before and after a restore.
// The zero Version names no state.
type Version struct {
	DB       string
	Revision int64
}

// String is the version as cache keys and ETags carry it: the identity, a
// dot, the revision.
func (v Version) String() string { return v.DB + "." + strconv.FormatInt(v.Revision, 10) }

// Seen is a token of task t as a page of database db shows it: its id,
// name and done flag. A form carries it, and a write given it acts only on
// the task as the visitor saw it (ErrChanged otherwise): a button on an
// older page, or on another database's page, never does something else. It
// is also the row's key in the fragment cache, which shows exactly that. It
// is safe for concurrent use.
func Seen(db string, t Task) string {
	h := sha256.New()
	var b [binary.MaxVarintLen64 + 1]byte
	n := binary.PutVarint(b[:], t.ID)
	b[n] = 0
	if t.Done {
		b[n] = 1
	}
	h.Write([]byte(db))
	h.Write([]byte{0})
	h.Write(b[:n+1])
	h.Write([]byte(t.Name))
	var sum [sha256.Size]byte
	return base64.RawURLEncoding.EncodeToString(h.Sum(sum[:0])[:15])
}

// The limits on characters that draw nothing of their own, so that a name
// stays within its row: at most MaxMarks combining marks on one character
// (Vietnamese puts two on a letter, Tibetan stacks a few more, a keycap
// emoji has two; "Zalgo" text piles up hundreds), and at most MaxInvisible
// characters in a row that are neither visible nor white space (an emoji
// tag-sequence flag has seven; a letter followed by 199 zero-width spaces
// is refused).
const (
	MaxMarks     = 8
	MaxInvisible = 8
)

// NormalizeName trims white space from name and checks it: valid UTF-8, not
// empty, at most MaxNameLength characters, no control characters, no line or
// paragraph separators (U+2028, U+2029), no noncharacters (U+FDD0–U+FDEF and
// the last two code points of every plane), no interlinear annotation
// characters (U+FFF9–U+FFFB), no bidirectional controls (which can make
// "invoice\u202efdp.exe" show as "invoiceexe.pdf"), at least one visible
// character (see visible) that is not U+FFFD, the mark of damaged text, so
// that no row of the list looks empty, and no more than MaxMarks combining
// marks on a character or MaxInvisible invisible characters in a row. Any
// other text — HTML, SQL, quotes, zero-width joiners inside emoji — is a
// valid name, stored as typed. The error wraps ErrInvalidName and says what
// is wrong in words fit for a user. It is safe for concurrent use.
func NormalizeName(name string) (string, error) {
	if !utf8.ValidString(name) {
		return "", fmt.Errorf("%w: the name is not valid UTF-8 text", ErrInvalidName)
	}
	// Before trimming: TrimSpace would take a separator at either end away
	// silently, and one anywhere is refused.
	if strings.ContainsAny(name, "\u2028\u2029") {
		return "", fmt.Errorf("%w: the name contains a line or paragraph separator; a name is one line", ErrInvalidName)
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
	if i := strings.IndexFunc(name, isNoncharacter); i >= 0 {
		r, _ := utf8.DecodeRuneInString(name[i:])
		return "", fmt.Errorf("%w: the name contains %U, which is not a character (Unicode keeps it for programs' internal use)", ErrInvalidName, r)
	}
	if strings.ContainsFunc(name, isAnnotation) {
		return "", fmt.Errorf("%w: the name contains interlinear annotation characters (U+FFF9–U+FFFB)", ErrInvalidName)
	}
	if strings.ContainsFunc(name, isBidiControl) {
		return "", fmt.Errorf("%w: the name contains bidirectional control characters, which can make text show in a misleading order", ErrInvalidName)
	}
	if !strings.ContainsFunc(name, visible) {
		return "", fmt.Errorf("%w: the name has no visible character", ErrInvalidName)
	}
	if !strings.ContainsFunc(name, func(r rune) bool { return visible(r) && r != utf8.RuneError }) {
		return "", fmt.Errorf("%w: the name is only replacement characters (\ufffd), the mark of text damaged on its way", ErrInvalidName)
	}
	return name, checkRuns(name)
}

// checkRuns refuses a name with more than MaxMarks combining marks in a row
// (on one character) or more than MaxInvisible invisible characters in a
// row: characters that are neither visible nor white space, such as
// zero-width spaces, joiners, fillers and combining marks.
func checkRuns(name string) error {
	marks, invisible := 0, 0
	for _, r := range name {
		marks, invisible = marks+1, invisible+1
		if !unicode.Is(unicode.M, r) {
			marks = 0
		}
		if visible(r) || unicode.IsSpace(r) {
			invisible = 0
		}
		if marks > MaxMarks {
			return fmt.Errorf("%w: a character of the name carries more than %d combining marks", ErrInvalidName, MaxMarks)
		}
		if invisible > MaxInvisible {
			return fmt.Errorf("%w: the name has more than %d invisible characters (such as zero-width spaces) in a row", ErrInvalidName, MaxInvisible)
		}
	}
	return nil
}

// isNoncharacter reports the 66 noncharacters: U+FDD0–U+FDEF and the code
// points ending in FFFE or FFFF in every plane.
func isNoncharacter(r rune) bool {
	return (r >= 0xFDD0 && r <= 0xFDEF) || r&0xFFFE == 0xFFFE
}

// isAnnotation reports the interlinear annotation characters U+FFF9–U+FFFB,
// which hide text between them in some renderers.
func isAnnotation(r rune) bool { return r >= 0xFFF9 && r <= 0xFFFB }

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
