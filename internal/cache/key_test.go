package cache_test

import (
	"strings"
	"testing"

	"github.com/tasklist/tasklist/internal/cache"
)

// FuzzKey: Key always returns a valid backend key, the same one for the
// same input, and different ones for different inputs (prefix+k), hashed or
// not. Besides the two fuzzed inputs it tries the first one's key as an
// input of its own, the likeliest collision: a hashed key that is also a
// valid key must not map to itself.
func FuzzKey(f *testing.F) {
	for _, seed := range [][4]string{
		{"tl:", "tasks", "tl:", "tasks:all:v1"},
		{"", "a b", "", "a_b"},
		{"tl:", "my tasks", "tl:my", "_tasks"},
		{"t l:", "x", "t", " l:x"},
		{"tl:", strings.Repeat("k", 300), "tl:", strings.Repeat("k", 299) + "K"},
		{"tl:", "tâches", "tl:", "t\xe2ches"},
		{"tl:", "a#b", "", "tl:a#b"},
		{"", "", "", "#"},
		{"tl:", "\x00\n\t\x7f", "tl:", "____"},
	} {
		f.Add(seed[0], seed[1], seed[2], seed[3])
	}
	f.Fuzz(func(t *testing.T, p1, k1, p2, k2 string) {
		a, b := cache.Key(p1, k1), cache.Key(p2, k2)
		inputs := []string{p1 + k1, p2 + k2, a}
		keys := []string{a, b, cache.Key("", a)}
		for i, k := range keys {
			if !cache.ValidKey(k) {
				t.Fatalf("Key of %q = %q, not a valid backend key", inputs[i], k)
			}
			for j := range i {
				if k == keys[j] && inputs[i] != inputs[j] {
					t.Fatalf("%q and %q both map to %q", inputs[j], inputs[i], k)
				}
			}
		}
		if again := cache.Key(p1, k1); again != a {
			t.Fatalf("Key(%q, %q) = %q, then %q", p1, k1, a, again)
		}
	})
}
