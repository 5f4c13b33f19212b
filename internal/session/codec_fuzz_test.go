package session

import (
	"bytes"
	"encoding/base64"
	"testing"
	"time"
)

// FuzzToken: a session cookie's value is looked up only when it has the
// shape of scs's tokens, 43 characters of unpadded base64url (256 bits),
// checked here against the standard library's decoder; anything else — a
// forged, oversized or binary cookie — is never sent to a store.
func FuzzToken(f *testing.F) {
	for _, s := range []string{"", "abc", "%%%garbage%%%", "' OR 1=1 --",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"abcdefghijklmnopqrstuvwxyz0123456789-_ABCDE", "abcdefghijklmnopqrstuvwxyz0123456789+/ABCDE"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		b, err := base64.RawURLEncoding.Strict().DecodeString(token)
		want := err == nil && len(token) == 43 && len(b) == 32
		if got := validToken(token); got != want {
			t.Errorf("validToken(%q) = %v, want %v", token, got, want)
		}
	})
}

// FuzzCachedValue: a cached session (its end, then scs's data) decodes to
// what was encoded, and any bytes decode without a panic, refused when too
// short to hold the end.
func FuzzCachedValue(f *testing.F) {
	f.Add([]byte{}, int64(0))
	f.Add([]byte("scs data"), time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC).UnixNano())
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6}, int64(-1))
	f.Fuzz(func(t *testing.T, data []byte, end int64) {
		b, expiry, ok := decode(encode(data, time.Unix(0, end)))
		if !ok || !bytes.Equal(b, data) || expiry.UnixNano() != end {
			t.Errorf("decode(encode(%q, %d)) = %q, %d, %v", data, end, b, expiry.UnixNano(), ok)
		}
		if _, _, ok := decode(data); ok != (len(data) >= 8) {
			t.Errorf("decode of %d bytes: ok = %v", len(data), ok)
		}
	})
}
