package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"net/netip"
)

// DefaultStatsUser is the basic-auth user of the statistics routes when
// Config.StatsUser is empty.
const DefaultStatsUser = "admin"

// statsRemoteHint is the line a refused remote request gets.
const statsRemoteHint = "Statistics are served to this machine only (loopback). " +
	"To read them from elsewhere, set TASKLIST_STATS_PASSWORD (and TASKLIST_STATS_USER, default admin) " +
	"and log in with HTTP basic auth.\n"

// statsAuth guards the statistics routes (/stats, /stats.json, /metrics).
// With a password configured, a request must carry the user and password
// in HTTP basic auth, compared in constant time; without one, only
// requests whose connection comes from a loopback address are answered —
// the connection's own address, never a forwarded header, which anyone can
// write. The user and password are kept as SHA-256 digests only, so that
// the comparison takes the same time whatever their lengths.
type statsAuth struct {
	user, password [sha256.Size]byte
	hasPassword    bool
}

func newStatsAuth(user, password string) statsAuth {
	if user == "" {
		user = DefaultStatsUser
	}
	return statsAuth{user: sha256.Sum256([]byte(user)), password: sha256.Sum256([]byte(password)), hasPassword: password != ""}
}

// wrap answers only the requests the rules allow through next.
func (a statsAuth) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		switch {
		case !a.hasPassword && !fromLoopback(r):
			http.Error(w, statsRemoteHint, http.StatusForbidden)
		case a.hasPassword && !a.allows(r):
			w.Header().Set("WWW-Authenticate", `Basic realm="tasklist statistics", charset="UTF-8"`)
			http.Error(w, "Statistics need the user and password set in TASKLIST_STATS_USER and TASKLIST_STATS_PASSWORD.\n", http.StatusUnauthorized)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// allows reports whether r carries the right user and password.
func (a statsAuth) allows(r *http.Request) bool {
	user, password, ok := r.BasicAuth()
	u, p := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(password))
	userOK := subtle.ConstantTimeCompare(u[:], a.user[:])
	passwordOK := subtle.ConstantTimeCompare(p[:], a.password[:])
	return ok && userOK&passwordOK == 1
}

// fromLoopback reports whether r's connection comes from a loopback
// address (127.0.0.0/8, ::1, or IPv4 loopback mapped into IPv6).
func fromLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
