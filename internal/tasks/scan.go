package tasks

import (
	"database/sql"
	"fmt"
	"time"

	"github.com/tasklist/tasklist/internal/sqldb"
)

// taskColumns returns the select list of a task row for the store's
// dialect, in scanTasks's order. SQLite's driver parses a DATETIME column's
// text by trying layouts one after another with time.Parse, about 40% of
// reading a page of 100 tasks; read through the no-op unary plus, the
// column is an expression without a declared type, comes as the text
// stored, and timestamp parses it directly. The other drivers return
// time.Time (MySQL's with parseTime).
func (s *Store) taskColumns() string {
	if s.db.Dialect() == sqldb.SQLite {
		return "id, name, done, +created_at, +updated_at"
	}
	return "id, name, done, created_at, updated_at"
}

// scanTask scans one row of taskColumns into t, in UTC.
func scanTask(row interface{ Scan(...any) error }, t *Task) error {
	if err := row.Scan(&t.ID, &t.Name, &t.Done, timestamp{&t.CreatedAt}, timestamp{&t.UpdatedAt}); err != nil {
		return err
	}
	t.CreatedAt, t.UpdatedAt = t.CreatedAt.UTC(), t.UpdatedAt.UTC()
	return nil
}

// scanTasks reads rows of taskColumns, expecting about n, and closes them.
func scanTasks(rows *sql.Rows, n int) ([]Task, error) {
	defer rows.Close()
	out := make([]Task, 0, n)
	for rows.Next() {
		out = append(out, Task{}) // scanned in place: no Task escapes per row
		if err := scanTask(rows, &out[len(out)-1]); err != nil {
			return nil, err
		}
	}
	return out, rows.Err()
}

// timestamp scans a time.Time, or the text SQLite's driver stores a time
// as ("2006-01-02 15:04:05.999999999-07:00", see sqliteTime).
type timestamp struct{ t *time.Time }

func (ts timestamp) Scan(v any) error {
	switch v := v.(type) {
	case time.Time:
		*ts.t = v
		return nil
	case string:
		return ts.parse(v)
	case []byte:
		return ts.parse(string(v))
	}
	return fmt.Errorf("tasks: cannot scan %T into a time", v)
}

func (ts timestamp) parse(s string) error {
	if t, ok := sqliteTime(s); ok {
		*ts.t = t
		return nil
	}
	// Any other spelling SQLite's driver reads.
	for _, layout := range []string{
		"2006-01-02 15:04:05.999999999 -0700 MST", // time.Time's String
		"2006-01-02 15:04:05.999999999-07:00", "2006-01-02T15:04:05.999999999-07:00",
		"2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999",
		"2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02",
	} {
		if t, err := time.Parse(layout, s); err == nil {
			*ts.t = t
			return nil
		}
	}
	return fmt.Errorf("tasks: unreadable time %q", s)
}

// sqliteTime parses the layout SQLite's driver writes times in,
// "2006-01-02 15:04:05.999999999-07:00" (or with "Z" for the zone), with
// no allocation; ok is false for anything else.
func sqliteTime(s string) (time.Time, bool) {
	if len(s) < len("2006-01-02 15:04:05Z") || s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	year, ok1 := digits(s[0:4])
	month, ok2 := digits(s[5:7])
	day, ok3 := digits(s[8:10])
	hour, ok4 := digits(s[11:13])
	minute, ok5 := digits(s[14:16])
	sec, ok6 := digits(s[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	rest, nsec := s[19:], 0
	if rest[0] == '.' {
		n := 1
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		if n == 1 || n > 10 {
			return time.Time{}, false
		}
		frac, _ := digits(rest[1:n])
		for range 10 - n {
			frac *= 10
		}
		nsec, rest = frac, rest[n:]
	}
	var offset int
	switch {
	case rest == "Z":
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		h, okh := digits(rest[1:3])
		m, okm := digits(rest[4:6])
		if !okh || !okm {
			return time.Time{}, false
		}
		offset = (h*60 + m) * 60
		if rest[0] == '-' {
			offset = -offset
		}
	default:
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if t.Day() != day {
		return time.Time{}, false // 31 February and the like
	}
	return t.Add(-time.Duration(offset) * time.Second), true
}

// digits parses s, decimal digits only.
func digits(s string) (int, bool) {
	v := 0
	for i := range len(s) {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}
