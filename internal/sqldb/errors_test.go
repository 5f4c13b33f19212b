package sqldb_test

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tasklist/tasklist/internal/sqldb"
	"github.com/tasklist/tasklist/internal/testenv"
)

const wrongPassword = "wr0ng-pa55word"

// withURL returns rawURL changed by edit.
func withURL(t *testing.T, rawURL string, edit func(u *url.URL)) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	edit(u)
	return u.String()
}

// TestOpenErrorsSayWhatIsWrong: on the real servers, each way of failing to
// connect gets its own message, once, and none shows the password.
func TestOpenErrorsSayWhatIsWrong(t *testing.T) {
	missingDB := testenv.RandomName("tasklist_missing_")
	unknownUser := testenv.RandomName("tasklist_nobody_")
	tests := []struct {
		name  string
		url   func(t *testing.T) string
		says  string
		orNot string // must not appear
		oneOf string // must appear exactly once
	}{
		{
			// MariaDB's root has no password: giving one fails.
			name: "mysql wrong password",
			url: func(t *testing.T) string {
				return withURL(t, testenv.MySQLURL(t), func(u *url.URL) { u.User = url.UserPassword("root", wrongPassword) })
			},
			says: `authentication failed for user "root"`, orNot: "unreachable",
		},
		{
			name: "mysql missing database",
			url: func(t *testing.T) string {
				return withURL(t, testenv.MySQLURL(t), func(u *url.URL) { u.Path = "/" + missingDB })
			},
			says: `database "` + missingDB + `" does not exist`, orNot: "unreachable",
		},
		{
			// The test server trusts 127.0.0.1, so a password is never
			// wrong there: an unknown user is the authentication failure.
			name: "postgres unknown user",
			url: func(t *testing.T) string {
				return withURL(t, testenv.PostgresURL(t), func(u *url.URL) { u.User = url.UserPassword(unknownUser, wrongPassword) })
			},
			says: `authentication failed for user "` + unknownUser + `"`, orNot: "unreachable",
		},
		{
			name: "postgres missing database",
			url: func(t *testing.T) string {
				return withURL(t, testenv.PostgresURL(t), func(u *url.URL) { u.Path = "/" + missingDB })
			},
			says: `database "` + missingDB + `" does not exist`, orNot: "unreachable",
		},
		{
			name: "mysql refused",
			url:  func(t *testing.T) string { return "mysql://root:" + wrongPassword + "@127.0.0.1:1/x" },
			says: "sqldb: mysql server 127.0.0.1:1 unreachable: ", oneOf: "connection refused",
		},
		{
			// pgx tries with TLS, then without: two refusals, one message.
			name: "postgres refused",
			url:  func(t *testing.T) string { return "postgres://postgres:" + wrongPassword + "@127.0.0.1:1/x" },
			says: "sqldb: postgres server 127.0.0.1:1 unreachable: ", oneOf: "connection refused",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rawURL := tt.url(t)
			db, err := sqldb.Open(t.Context(), rawURL, sqldb.Options{})
			if err == nil {
				db.Close()
				t.Fatalf("Open succeeded, want an error saying %q", tt.says)
			}
			checkError(t, err, tt.says, tt.orNot, tt.oneOf)
		})
	}
}

func checkError(t *testing.T, err error, says, orNot, oneOf string) {
	t.Helper()
	msg := err.Error()
	if !strings.Contains(msg, says) {
		t.Errorf("error %q does not say %q", msg, says)
	}
	if orNot != "" && strings.Contains(msg, orNot) {
		t.Errorf("error %q says %q", msg, orNot)
	}
	if oneOf != "" && strings.Count(msg, oneOf) != 1 {
		t.Errorf("error %q does not say %q exactly once", msg, oneOf)
	}
	if strings.Contains(msg, wrongPassword) {
		t.Errorf("error reveals the password: %q", msg)
	}
}

// TestOpenSQLiteErrors: an SQLite file that cannot be opened is named, with
// the reason.
func TestOpenSQLiteErrors(t *testing.T) {
	dir := t.TempDir()
	aFile := filepath.Join(dir, "plain-file")
	if err := os.WriteFile(aFile, []byte("not a directory"), 0o644); err != nil {
		t.Fatal(err)
	}
	notDB := filepath.Join(dir, "not-a-database.db")
	if err := os.WriteFile(notDB, []byte(strings.Repeat("this is no SQLite file ", 100)), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		file, says string
	}{
		{filepath.Join(dir, "missing", "t.db"), ": directory " + filepath.Join(dir, "missing") + ": no such file or directory"},
		{filepath.Join(aFile, "t.db"), ": not a directory"},
		{dir, ": it is a directory"},
		{notDB, ": file is not a database"},
	}
	if _, err := os.Stat("/sys/kernel"); err == nil {
		// Not even root may create files in sysfs.
		tests = append(tests, struct{ file, says string }{"/sys/kernel/t.db", ": cannot create it: permission denied"})
	}
	for _, tt := range tests {
		db, err := sqldb.Open(t.Context(), "sqlite:"+tt.file, sqldb.Options{})
		if err == nil {
			db.Close()
			t.Errorf("Open(sqlite:%s) succeeded", tt.file)
			continue
		}
		checkError(t, err, "sqldb: cannot open SQLite database "+tt.file+tt.says, "unreachable", "")
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".sqldb-probe-*")); len(leftovers) > 0 {
		t.Errorf("probe files left behind: %v", leftovers)
	}
}
