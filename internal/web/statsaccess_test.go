package web_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tasklist/tasklist/internal/cache/cachetest"
	"github.com/tasklist/tasklist/internal/loginlimit"
)

// TestStatsLoginLimit: 3,000 wrong passwords from one address get a few
// 401s, then 429 with Retry-After until the minute ends, even for the
// right password from that address; the right password works at once from
// another address, and from the first once the minute is over. Behind the
// proxy on this machine (a loopback connection), the address counted is
// the last one of X-Forwarded-For, the one the proxy wrote; from any other
// connection the header is ignored. Requests without credentials and
// right passwords are not counted.
func TestStatsLoginLimit(t *testing.T) {
	clock := cachetest.NewClock()
	h := newStack(t, stackOptions{hosts: []string{"*"}, statsPassword: "right", now: clock.Now}).handler
	get := func(remote, password string, header ...string) *http.Response {
		t.Helper()
		user := "admin"
		if password == "" {
			user = ""
		}
		return statsRequest(h, "/stats.json", remote, user, password, header...).Result()
	}
	const attacker = "192.0.2.1:5000"
	counts := map[int]int{}
	for range 3000 {
		counts[get(attacker, "wrong").StatusCode]++
	}
	if counts[http.StatusUnauthorized] != loginlimit.DefaultMax || counts[http.StatusTooManyRequests] != 3000-loginlimit.DefaultMax {
		t.Errorf("3,000 wrong passwords from one address: %v, want %d 401s and the rest 429", counts, loginlimit.DefaultMax)
	}
	resp := get(attacker, "right")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "60" {
		t.Errorf("the right password from the refused address = %d, Retry-After %q; want 429, 60", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if resp := get("198.51.100.7:5000", "right"); resp.StatusCode != http.StatusOK {
		t.Errorf("the right password from another address = %d, want 200", resp.StatusCode)
	}
	clock.Advance(30 * time.Second)
	if resp := get(attacker, "right"); resp.Header.Get("Retry-After") != "30" {
		t.Errorf("30 s later: %d, Retry-After %q, want 30", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	clock.Advance(30 * time.Second)
	if resp := get(attacker, "right"); resp.StatusCode != http.StatusOK {
		t.Errorf("after the minute, the right password = %d, want 200", resp.StatusCode)
	}

	// Behind nginx: every connection is from loopback.
	proxied := func(xff, password string) int {
		return get("127.0.0.1:6000", password, "X-Forwarded-For", xff).StatusCode
	}
	for range loginlimit.DefaultMax {
		proxied("203.0.113.9", "wrong")
	}
	if got := proxied("203.0.113.9", "right"); got != http.StatusTooManyRequests {
		t.Errorf("proxied, the refused client: %d, want 429", got)
	}
	if got := proxied("10.9.9.9, 203.0.113.9", "right"); got != http.StatusTooManyRequests {
		t.Errorf("proxied, the refused client with an address of its own choosing before the proxy's: %d, want 429", got)
	}
	if got := proxied("203.0.113.10", "right"); got != http.StatusOK {
		t.Errorf("proxied, another client: %d, want 200", got)
	}
	if got := get("127.0.0.1:6000", "right").StatusCode; got != http.StatusOK {
		t.Errorf("loopback without X-Forwarded-For: %d, want 200", got)
	}
	for range loginlimit.DefaultMax {
		get("192.0.2.50:5000", "wrong", "X-Forwarded-For", "198.51.100.99")
	}
	if got := get("192.0.2.50:5000", "right", "X-Forwarded-For", "198.51.100.98").StatusCode; got != http.StatusTooManyRequests {
		t.Errorf("a remote connection changing its X-Forwarded-For escaped the limit: %d, want 429", got)
	}

	// No credentials (a browser's first request) and right passwords are
	// not guesses.
	for range 3 * loginlimit.DefaultMax {
		get("192.0.2.60:5000", "")
		get("192.0.2.60:5000", "right")
	}
	if resp := get("192.0.2.60:5000", "wrong"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("after requests without credentials: %d, want 401", resp.StatusCode)
	}
	for range loginlimit.DefaultMax {
		get("192.0.2.70:5000", "wrong")
	}
	if body := statsRequest(h, "/stats", "192.0.2.70:5000", "admin", "wrong").Body.String(); !strings.Contains(body, "try again in 60 s") {
		t.Errorf("the 429 page: %q, want it to say when to try again", body)
	}
}
