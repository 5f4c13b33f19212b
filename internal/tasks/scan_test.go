package tasks

import (
	"testing"
	"time"
)

// TestSQLiteTime: the fast parse of SQLite's stored times agrees with
// time.Parse on the driver's layout, and refuses what is not that layout.
func TestSQLiteTime(t *testing.T) {
	const layout = "2006-01-02 15:04:05.999999999Z07:00" // the driver's, with Z too
	for _, s := range []string{
		"2026-11-26 16:43:01.123456+00:00",
		"2026-11-26 16:43:01+00:00",
		"2026-11-26 16:43:01.1+02:30",
		"2026-11-26 16:43:01.999999999-07:00",
		"2024-02-29 00:00:00Z",
		"1999-12-31 23:59:59.000001Z",
	} {
		got, ok := sqliteTime(s)
		want, err := time.Parse(layout, s)
		if err != nil {
			t.Fatalf("time.Parse(%q): %v", s, err)
		}
		if !ok || !got.Equal(want) {
			t.Errorf("sqliteTime(%q) = %v, %v; want %v", s, got, ok, want)
		}
	}
	for _, s := range []string{
		"", "2026-11-26", "2026-11-26 16:43", "2026-13-01 00:00:00Z", "2026-02-31 00:00:00Z",
		"2026-11-26 16:43:01.+00:00", "2026-11-26 16:43:01.1234567890Z", "2026-11-26 16:43:01+0000",
		"2026-11-26T16:43:01Z", "2026-11-26 16:43:01 +0000 UTC", "2026-1x-26 16:43:01Z",
	} {
		if got, ok := sqliteTime(s); ok {
			t.Errorf("sqliteTime(%q) = %v, want not ok", s, got)
		}
	}
}
