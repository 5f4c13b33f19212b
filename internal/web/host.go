package web

import (
	"net"
	"net/http"
	"strings"
)

// healthPath is the route of the health check, which any Host may ask.
const healthPath = "/healthz"

// checkHost answers 400 to a request whose Host header names a host that is
// not allowed. This stops DNS rebinding: a page on evil.example whose name
// is made to resolve to this server sends requests with Host and Origin both
// evil.example, which the cross-origin check takes for same-origin ones.
//
// /healthz answers any Host: load balancers and restart scripts check an
// instance by its address, with whatever Host that gives, and the answer
// shows nothing a rebinding page could use (up or down, nothing more).
func (s *Server) checkHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != healthPath && !hostAllowed(s.hosts, r.Host) {
			s.log.WarnContext(r.Context(), "host not allowed (see TASKLIST_ALLOWED_HOSTS)",
				"host", r.Host, "method", r.Method, "path", r.URL.Path)
			s.clientError(w, r, http.StatusBadRequest, "This server does not answer for the host name in the request.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// hostAllowed reports whether the Host header value hostport matches one of
// patterns, which hostname has normalized.
func hostAllowed(patterns []string, hostport string) bool {
	host := hostname(hostport)
	for _, p := range patterns {
		switch {
		case p == "*":
			return true
		case host == "":
		case host == p:
			return true
		case strings.HasPrefix(p, ".") && (host == p[1:] || strings.HasSuffix(host, p)):
			return true
		}
	}
	return false
}

// hostname returns the host of a Host header value in lower case, without
// the port, the brackets of an IPv6 address or a final dot; "" when the
// port is not a number.
func hostname(hostport string) string {
	host := hostport
	if h, port, err := net.SplitHostPort(hostport); err == nil {
		if strings.ContainsFunc(port, func(r rune) bool { return r < '0' || r > '9' }) {
			return ""
		}
		host = h
	}
	host = strings.TrimPrefix(strings.TrimSuffix(host, "]"), "[")
	return strings.TrimSuffix(strings.ToLower(host), ".")
}
