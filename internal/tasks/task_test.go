package tasks

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
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
		{"\ufeffbuy milk", "\ufeffbuy milk", true},
		{"👩\u200d💻 deploy", "👩\u200d💻 deploy", true},
		{"é", "é", true},
		{"\u200b", "", false},
		{"\u200b\u200c\u200d\u2060\ufeff", "", false},
		{" \u3164 ", "", false},
		{"\u115f\u1160\uffa0", "", false},
		{"\u00ad\u034f\u180e", "", false},
		{"\u2800\U0001D159", "", false},
		{"\u0301\u20dd", "", false},
		{"\U000e0041\U000e0042", "", false},
		{"\u3000\u00a0\u2003", "", false},
		{"invoice\u202efdp.exe", "", false},
		{"a\u202ab", "", false},
		{"a\u2066b\u2069", "", false},
		{"\u200eleft", "", false},
		{"right\u200f", "", false},
		{"arabic\u061cmark", "", false},
		{"line\u2028separator", "", false},
		{"paragraph\u2029separator", "", false},
		{"trailing separator\u2029", "", false},
		{"non\ufffecharacter", "", false},
		{"non\uffffcharacter", "", false},
		{"\ufdd0plane 0", "", false},
		{"\ufdefplane 0", "", false},
		{"plane 1\U0001fffe", "", false},
		{"plane 16\U0010ffff", "", false},
		{"a\ufff9annotated\ufffab\ufffb", "", false},
		{"\ufffd", "", false},
		{"\ufffd \ufffd\ufffd", "", false},
		{"caf\ufffd", "caf\ufffd", true},
		{"\ufdcf\ufdf0 \ufffc", "\ufdcf\ufdf0 \ufffc", true},
		{"a" + strings.Repeat("\u0301", 199), "", false},
		{"a" + strings.Repeat("\u0301", MaxMarks+1), "", false},
		{"a" + strings.Repeat("\u0301", MaxMarks), "a" + strings.Repeat("\u0301", MaxMarks), true},
		{"Việt Nam ệ̃", "Việt Nam ệ̃", true},
		{"a" + strings.Repeat("\u200b", 199), "", false},
		{"a" + strings.Repeat("\u200b", MaxInvisible+1), "", false},
		{"a" + strings.Repeat("\u200b\u034f", MaxInvisible/2) + "\u200b", "", false},
		{"a" + strings.Repeat("\u200b", MaxInvisible) + "b", "a" + strings.Repeat("\u200b", MaxInvisible) + "b", true},
		{"🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f Scotland", "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f Scotland", true},
		{"👩\u200d❤\ufe0f\u200d💋\u200d👨", "👩\u200d❤\ufe0f\u200d💋\u200d👨", true},
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

// FuzzNormalizeName: a name NormalizeName accepts is the input trimmed,
// non-empty, at most MaxNameLength characters of valid UTF-8, with a visible
// character other than U+FFFD, no control, bidirectional-control, separator,
// noncharacter or annotation ones, and normalizing it
// again gives it back; a name it refuses is refused with ErrInvalidName.
func FuzzNormalizeName(f *testing.F) {
	for _, seed := range []string{
		"buy milk", "  padded\t", "", "\u200b", "\ufeffbom", "\u3164", "invoice\u202efdp.exe",
		"a\u00a0", "\u0085x\u0085", "e\u0301", "a\u2028b", "\ufffd", "x\U0010fffe", "a" + strings.Repeat("\u200b", 20), "\u2800", "bad \xff", "nul\x00", strings.Repeat("ü", MaxNameLength+1),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := NormalizeName(in)
		if err != nil {
			if !errors.Is(err, ErrInvalidName) {
				t.Fatalf("NormalizeName(%q) error = %v, want ErrInvalidName", in, err)
			}
			return
		}
		switch {
		case got == "" || got != strings.TrimSpace(in):
			t.Fatalf("NormalizeName(%q) = %q, want the input trimmed, not empty", in, got)
		case !utf8.ValidString(got) || utf8.RuneCountInString(got) > MaxNameLength:
			t.Fatalf("NormalizeName(%q) = %q: invalid UTF-8 or too long", in, got)
		case !strings.ContainsFunc(got, visible):
			t.Fatalf("NormalizeName(%q) = %q has no visible character", in, got)
		case strings.ContainsFunc(got, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) }):
			t.Fatalf("NormalizeName(%q) = %q has a control character", in, got)
		case strings.ContainsFunc(got, func(r rune) bool { return r == '\u2028' || r == '\u2029' || isNoncharacter(r) || isAnnotation(r) }):
			t.Fatalf("NormalizeName(%q) = %q has a separator, noncharacter or annotation character", in, got)
		case strings.Trim(got, " \ufffd") == "":
			t.Fatalf("NormalizeName(%q) = %q is only replacement characters", in, got)
		}
		if again, err := NormalizeName(got); again != got || err != nil {
			t.Fatalf("NormalizeName(%q) = %q, %v; want %q again", got, again, err, got)
		}
	})
}
