// Package testenv finds the real servers and programs tasklist's tests need
// (MariaDB, PostgreSQL, memcached, Chromium) and gives each test its own
// isolated piece of them.
//
// A test that needs something missing is skipped with a message naming what
// to start, except under CI=true, where a missing dependency is a failure:
// CI must never pass by skipping. scripts/test.sh installs and starts
// everything and exports the variables read here.
package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
)

// CI reports whether the tests run under CI=true.
func CI() bool { return os.Getenv("CI") == "true" }

// Unavailable skips the test, or fails it under CI, because what names is
// missing. hint says how to provide it.
func Unavailable(t testing.TB, what, hint string) {
	t.Helper()
	if CI() {
		t.Fatalf("%s is required under CI=true: %s", what, hint)
	}
	t.Skipf("%s not available (%s); scripts/test.sh provides it", what, hint)
}

// RandomName returns prefix followed by 12 random hex digits, for databases,
// cache prefixes and the like that must not collide between parallel tests.
func RandomName(prefix string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}
