package memcache

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/tasklist/tasklist/internal/cache"
)

// ErrAuth reports that a server rejected the SASL username or password.
// Errors wrapping it name the server and the user, never the password. It
// is the one cache error an application should not start with (see
// Client.Verify); during requests it also wraps cache.ErrUnavailable, so
// that the cache is bypassed as for any other server failure.
var ErrAuth = errors.New("memcache: authentication failed")

// serverError is an error of one server that the caller cannot fix: it
// wraps cache.ErrUnavailable and the cause, and says what it shows about
// the server's health.
type serverError struct {
	addr    string
	err     error
	outcome outcome
}

// outcome is what a serverError shows about the server.
type outcome int

const (
	// failed: refused, timed out, broken connection, rejected credentials.
	// It counts toward marking the server down.
	failed outcome = iota
	// answered: the server replied with an error (out of memory, say), so
	// it is up.
	answered
	// untried: the request ended before it reached the server (its context
	// was done, or all connections stayed busy), which shows nothing.
	untried
)

func (e *serverError) Error() string   { return "memcache: " + e.addr + ": " + e.err.Error() }
func (e *serverError) Unwrap() []error { return []error{cache.ErrUnavailable, e.err} }

// unavailable is a failure to talk to the server at addr.
func unavailable(addr string, err error) error {
	return &serverError{addr: addr, err: err, outcome: failed}
}

// serverFault is an error the server at addr answered with.
func serverFault(addr string, err error) error {
	return &serverError{addr: addr, err: err, outcome: answered}
}

// notSent is a request to addr that ended before it was sent.
func notSent(addr string, err error) error {
	return &serverError{addr: addr, err: err, outcome: untried}
}

// authError is a server's refusal of user's credentials.
type authError struct {
	user   string
	reason string // what the server said
}

func (e *authError) Error() string {
	msg := "authentication failed for user " + strconv.Quote(e.user)
	if e.reason != "" {
		msg += ": " + e.reason
	}
	return msg
}

// Unwrap gives ErrAuth, and cache.ErrRejected: retrying with the same
// credentials cannot succeed.
func (e *authError) Unwrap() []error { return []error{ErrAuth, cache.ErrRejected} }

// wrapAt adds the server's address to a cache error.
func wrapAt(addr string, err error) error {
	return fmt.Errorf("memcache: %s: %w", addr, err)
}
