package dashboard

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/tasklist/tasklist/internal/loginlimit"
)

// DefaultUser is the basic-auth user of the statistics routes when
// Config.User is empty.
const DefaultUser = "admin"

// remoteHint is the line a refused remote request gets.
const remoteHint = "Statistics are served to this machine only (loopback). " +
	"To read them from elsewhere, set TASKLIST_STATS_PASSWORD (and TASKLIST_STATS_USER, default admin) " +
	"and log in with HTTP basic auth.\n"

// access guards the statistics routes (/stats, /stats.json, /metrics).
// With a password configured, a request must carry the user and password
// in HTTP basic auth, compared in constant time; without one, only
// requests whose connection comes from a loopback address are answered —
// the connection's own address, never a forwarded header, which anyone can
// write. The user and password are kept as SHA-256 digests only, so that
// the comparison takes the same time whatever their lengths.
//
// Wrong passwords are limited per client address (see clientAddr and
// package loginlimit): after a few within a minute, that address is
// answered 429 with Retry-After, whatever it sends, until the minute ends;
// other addresses are not affected.
type access struct {
	user, password [sha256.Size]byte
	hasPassword    bool
	failures       *loginlimit.Limiter
}

func newAccess(user, password string, now func() time.Time) access {
	if user == "" {
		user = DefaultUser
	}
	return access{user: sha256.Sum256([]byte(user)), password: sha256.Sum256([]byte(password)), hasPassword: password != "",
		failures: loginlimit.New(loginlimit.Options{Now: now})}
}

// wrap answers only the requests the rules allow through next.
func (a access) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if !a.hasPassword {
			if !fromLoopback(r) {
				http.Error(w, remoteHint, http.StatusForbidden)
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		client := clientAddr(r)
		if wait := a.failures.Wait(client); wait > 0 {
			secs := int((wait + time.Second - 1) / time.Second)
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			http.Error(w, fmt.Sprintf("Too many wrong passwords from your address: try again in %d s.\n", secs), http.StatusTooManyRequests)
			return
		}
		user, password, given := r.BasicAuth()
		if !given || !a.allows(user, password) {
			if given { // a request without credentials is no guess
				a.failures.Fail(client)
			}
			w.Header().Set("WWW-Authenticate", `Basic realm="tasklist statistics", charset="UTF-8"`)
			http.Error(w, "Statistics need the user and password set in TASKLIST_STATS_USER and TASKLIST_STATS_PASSWORD.\n", http.StatusUnauthorized)
			return
		}
		a.failures.Succeed(client)
		next.ServeHTTP(w, r)
	})
}

// allows reports whether user and password are the right ones.
func (a access) allows(user, password string) bool {
	u, p := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(password))
	userOK := subtle.ConstantTimeCompare(u[:], a.user[:])
	passwordOK := subtle.ConstantTimeCompare(p[:], a.password[:])
	return userOK&passwordOK == 1
}

// clientAddr is the address r's failed logins are counted against. It is
// the connection's address, except on a connection from loopback that
// carries X-Forwarded-For: that is the proxy on this machine (nginx, as
// deploy/nginx.conf sets it up, appends the address it was connected from
// to whatever the client sent), so the last address in the header is the
// client's. Earlier ones, written by the client, are never used. A proxy
// elsewhere (another machine, a platform's router) is one address to the
// app: its clients share one count.
func clientAddr(r *http.Request) netip.Addr {
	conn := remoteAddr(r)
	if !conn.IsLoopback() {
		return conn
	}
	fwd := r.Header.Values("X-Forwarded-For")
	if len(fwd) == 0 {
		return conn
	}
	last := fwd[len(fwd)-1]
	last = strings.TrimSpace(last[strings.LastIndexByte(last, ',')+1:])
	if a, err := netip.ParseAddr(last); err == nil {
		return a.Unmap()
	}
	return conn
}

// remoteAddr is the address r's connection comes from (the zero Addr if
// it cannot be read), IPv4 addresses mapped into IPv6 unmapped.
func remoteAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return ip.Unmap()
}

// fromLoopback reports whether r's connection comes from a loopback
// address (127.0.0.0/8, ::1, or IPv4 loopback mapped into IPv6).
func fromLoopback(r *http.Request) bool { return remoteAddr(r).IsLoopback() }
