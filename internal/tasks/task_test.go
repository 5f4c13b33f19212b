package tasks

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalizeName(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"buy milk", "buy milk", true},
		{"  padded\t", "padded", true},
		{"<b>bold</b> ' OR 1=1 --", "<b>bold</b> ' OR 1=1 --", true},
		{strings.Repeat("x", MaxNameLength), strings.Repeat("x", MaxNameLength), true},
		{" " + strings.Repeat("ü", MaxNameLength) + " ", strings.Repeat("ü", MaxNameLength), true},
		{"", "", false},
		{" \t\n ", "", false},
		{strings.Repeat("x", MaxNameLength+1), "", false},
		{"bad \xff utf8", "", false},
		{"bell\a", "", false},
		{"line\nbreak", "", false},
		{"nul\x00", "", false},
	}
	for _, tt := range tests {
		got, err := NormalizeName(tt.in)
		if tt.ok && (err != nil || got != tt.want) {
			t.Errorf("NormalizeName(%q) = %q, %v; want %q, nil", tt.in, got, err, tt.want)
		}
		if !tt.ok && !errors.Is(err, ErrInvalidName) {
			t.Errorf("NormalizeName(%q) error = %v, want ErrInvalidName", tt.in, err)
		}
	}
}
