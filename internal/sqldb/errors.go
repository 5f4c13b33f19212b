package sqldb

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
)

// connError is a failure to connect, told in words an operator can act on:
// which server, user or file, and what is wrong with it. Unwrap gives the
// driver's error.
type connError struct {
	msg string
	err error
}

func (e *connError) Error() string { return e.msg }
func (e *connError) Unwrap() error { return e.err }

// explain turns the error of a failed connection to t into a connError:
// wrong credentials, a missing database, an SQLite file that cannot be
// opened, or a server that does not answer ("unreachable", said once even
// when the driver tried several times). It never quotes the password: the
// messages come from the server, the network and the file system.
func (t target) explain(err error) error {
	if t.dialect == SQLite {
		return t.explainSQLite(err)
	}
	where := fmt.Sprintf("sqldb: %s server %s", t.dialect, t.server)
	say := func(format string, args ...any) error {
		return &connError{msg: where + ": " + fmt.Sprintf(format, args...), err: err}
	}
	var (
		pgErr *pgconn.PgError
		myErr *mysql.MySQLError
		nErr  net.Error
	)
	switch {
	case errors.As(err, &pgErr):
		switch {
		case strings.HasPrefix(pgErr.Code, "28"): // invalid authorization
			return say("authentication failed for user %q (%s)", t.user, pgErr.Message)
		case pgErr.Code == "3D000": // invalid_catalog_name
			return say("database %q does not exist", t.database)
		case pgErr.Code == "42501": // insufficient_privilege
			return say("user %q may not use database %q (%s)", t.user, t.database, pgErr.Message)
		}
		return say("%s", pgErr.Message)
	case errors.As(err, &myErr):
		switch myErr.Number {
		case 1045, 1698: // ER_ACCESS_DENIED_ERROR, ER_ACCESS_DENIED_NO_PASSWORD_ERROR
			return say("authentication failed for user %q (%s)", t.user, myErr.Message)
		case 1049: // ER_BAD_DB_ERROR
			return say("database %q does not exist", t.database)
		case 1044: // ER_DBACCESS_DENIED_ERROR
			return say("user %q may not use database %q (%s)", t.user, t.database, myErr.Message)
		}
		return say("%s", myErr.Message)
	case errors.As(err, &nErr):
		// The first attempt's network error: pgx tries TLS, then plain,
		// and reports both.
		return &connError{msg: fmt.Sprintf("%s unreachable: %v", where, nErr), err: err}
	}
	return say("%v", err)
}

// explainSQLite says why SQLite could not open t.file, by trying the file
// operations SQLite needs; when they all work, SQLite's own error says.
func (t target) explainSQLite(err error) error {
	msg := "sqldb: cannot open SQLite database " + t.file
	if why := sqliteProblem(t.file); why != "" {
		return &connError{msg: msg + ": " + why, err: err}
	}
	return &connError{msg: fmt.Sprintf("%s: %v", msg, err), err: err}
}

// sqliteProblem returns what keeps file from being opened as an SQLite
// database in WAL mode — read, written, created, with -wal and -shm files
// beside it — or "" when nothing does. It leaves no file behind.
func sqliteProblem(file string) string {
	dir := filepath.Dir(file)
	fi, err := os.Stat(file)
	switch {
	case err == nil && fi.IsDir():
		return "it is a directory"
	case err == nil:
		f, err := os.OpenFile(file, os.O_RDWR, 0)
		if err != nil {
			return osReason(err)
		}
		f.Close()
	case !errors.Is(err, fs.ErrNotExist):
		return osReason(err)
	default:
		if _, err := os.Stat(dir); err != nil {
			return "directory " + dir + ": " + osReason(err)
		}
		f, err := os.OpenFile(file, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return "cannot create it: " + osReason(err)
		}
		f.Close()
		os.Remove(file)
	}
	probe, err := os.CreateTemp(dir, ".sqldb-probe-*")
	if err != nil {
		return "cannot create its -wal and -shm files in " + dir + ": " + osReason(err)
	}
	probe.Close()
	os.Remove(probe.Name())
	return ""
}

// osReason is the reason of a file system error without the operation and
// path, which the caller names: "permission denied", "not a directory".
func osReason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
