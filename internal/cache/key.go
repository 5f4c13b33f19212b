package cache

import (
	"crypto/sha256"
	"encoding/base64"
	"strings"
)

// MaxKeyLen is the longest key memcached accepts, in bytes.
const MaxKeyLen = 250

// hashLen is the length of a SHA-256 sum in unpadded base64url.
const hashLen = (sha256.Size*8 + 5) / 6

// ValidKey reports whether k may be given to a Backend as it is: 1 to
// MaxKeyLen bytes, each a printable ASCII character other than space. It is
// safe for concurrent use.
func ValidKey(k string) bool {
	if len(k) == 0 || len(k) > MaxKeyLen {
		return false
	}
	for i := range len(k) {
		if c := k[i]; c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// Key returns the backend key for the caller's key k under prefix. It is
// prefix+k when that is a ValidKey without '#'. Otherwise it is a readable
// rendering of the start of prefix+k (unsafe bytes become '_'), then '#'
// and the base64url SHA-256 of the whole of prefix+k, MaxKeyLen bytes at
// most: keys too long for memcached, or holding spaces, control characters
// or non-ASCII text, still map to distinct keys, and a key's start (its
// prefix, say) stays visible in memcached's tools. A '#' in a key makes it
// hashed too, so that no key passed through as it is can equal a hashed
// one. It is safe for concurrent use.
func Key(prefix, k string) string {
	full := prefix + k
	if ValidKey(full) && !strings.Contains(full, "#") {
		return full
	}
	readable := min(len(full), MaxKeyLen-1-hashLen)
	var b strings.Builder
	b.Grow(readable + 1 + hashLen)
	for i := range readable {
		if c := full[i]; c <= ' ' || c >= 0x7f {
			b.WriteByte('_')
		} else {
			b.WriteByte(c)
		}
	}
	b.WriteByte('#')
	sum := sha256.Sum256([]byte(full))
	var enc [hashLen]byte
	base64.RawURLEncoding.Encode(enc[:], sum[:])
	b.Write(enc[:])
	return b.String()
}
