package reqtrace

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestTrace: what the layers and the database record comes out in Summary
// and ServerTiming, outermost layer first, a layer's worst outcome winning.
func TestTrace(t *testing.T) {
	type cacheRecord struct {
		l Layer
		o Outcome
	}
	tests := []struct {
		name    string
		caches  []cacheRecord
		db      []time.Duration
		dbDown  bool
		summary string
		timing  string
	}{
		{"nothing", nil, nil, false, "none", `cache;desc="none", db;desc="0 queries";dur=0, total;dur=1.5`},
		{"page hit", []cacheRecord{{Page, Hit}}, nil, false, "page hit", `cache;desc="page hit", db;desc="0 queries";dur=0, total;dur=1.5`},
		{"every layer, recorded inside out", []cacheRecord{{Query, Miss}, {Fragment, Miss}, {Page, Miss}},
			[]time.Duration{250 * time.Microsecond, 500 * time.Microsecond}, false,
			"page miss, fragment miss, query miss", `cache;desc="page miss, fragment miss, query miss", db;desc="2 queries";dur=0.75, total;dur=1.5`},
		{"the worst outcome wins", []cacheRecord{{Query, Miss}, {Query, Hit}, {Fragment, Bypass}, {Fragment, Miss}},
			[]time.Duration{time.Millisecond}, false, "fragment bypass, query miss", `cache;desc="fragment bypass, query miss", db;desc="1 query";dur=1, total;dur=1.5`},
		{"sessions too", []cacheRecord{{Session, Hit}, {Page, Hit}}, nil, false, "page hit, session hit", `cache;desc="page hit, session hit", db;desc="0 queries";dur=0, total;dur=1.5`},
		{"a cached page through an outage", []cacheRecord{{Page, Hit}}, nil, true, "page hit", `cache;desc="page hit", db;desc="unavailable, 0 queries";dur=0, total;dur=1.5`},
		{"a query that failed", []cacheRecord{{Page, Miss}}, []time.Duration{time.Second}, true, "page miss", `cache;desc="page miss", db;desc="unavailable, 1 query";dur=1000, total;dur=1.5`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := With(t.Context(), new(Trace))
			for _, r := range tt.caches {
				From(ctx).Cache(r.l, r.o)
			}
			for _, d := range tt.db {
				From(Detach(ctx)).DB(d) // as a shared fill does
			}
			if tt.dbDown {
				From(Detach(ctx)).DBUnavailable()
			}
			tr := From(ctx)
			got := []string{tr.Summary(), tr.ServerTiming(1500 * time.Microsecond)}
			if diff := cmp.Diff([]string{tt.summary, tt.timing}, got); diff != "" {
				t.Errorf("Summary, ServerTiming (-want +got):\n%s", diff)
			}
		})
	}
}

// TestNoTrace: a context without a trace records nothing and does not
// fail, and Detach keeps nothing of a request but its trace.
func TestNoTrace(t *testing.T) {
	ctx := context.Background()
	From(ctx).Cache(Page, Hit)
	From(ctx).DB(time.Second)
	From(ctx).DBUnavailable()
	if got := From(ctx).Summary(); got != "none" {
		t.Errorf("Summary without a trace = %q, want none", got)
	}
	type other struct{}
	req, cancel := context.WithCancel(context.WithValue(With(ctx, new(Trace)), other{}, "session"))
	cancel()
	d := Detach(req)
	if d.Err() != nil || d.Value(other{}) != nil || From(d) != From(req) {
		t.Errorf("Detach kept the request's cancellation or values, or lost its trace")
	}
}

// TestAppendMillis: milliseconds with at most three decimals and no
// trailing zeros, as strconv's shortest float form writes them.
func TestAppendMillis(t *testing.T) {
	for _, us := range []int64{0, 1, 5, 10, 120, 999, 1000, 1001, 1200, 1234, 1500, 100000, 1234567, -1, -1500} {
		d := time.Duration(us) * time.Microsecond
		want := strconv.FormatFloat(float64(us)/1000, 'f', -1, 64)
		if got := string(appendMillis(nil, d)); got != want {
			t.Errorf("appendMillis(%v) = %q, want %q", d, got, want)
		}
	}
	if got := string(appendMillis([]byte("dur="), 2500*time.Nanosecond)); got != "dur=0.002" {
		t.Errorf("appendMillis(2.5µs) = %q, want whole microseconds, %q", got, "dur=0.002")
	}
}

// BenchmarkServerTiming: the header every response carries, for a page
// hit.
func BenchmarkServerTiming(b *testing.B) {
	tr := new(Trace)
	tr.Cache(Page, Hit)
	for b.Loop() {
		_ = tr.ServerTiming(1234567 * time.Nanosecond)
	}
}
