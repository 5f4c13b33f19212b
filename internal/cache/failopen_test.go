package cache_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/cache/cachetest"
	"github.com/tasklist/tasklist/internal/stats"
)

// failing is a Backend whose every call returns err, or, if block is set,
// waits for its context to end. It records each call's deadline. The
// behaviour under test is the wrapper's, so a double is enough here.
type failing struct {
	err   error
	block bool

	mu        sync.Mutex
	deadlines []time.Time // zero where a call had none
}

func (f *failing) do(ctx context.Context) error {
	dl, _ := ctx.Deadline()
	f.mu.Lock()
	f.deadlines = append(f.deadlines, dl)
	f.mu.Unlock()
	if f.block {
		<-ctx.Done()
		return ctx.Err()
	}
	return f.err
}

func (f *failing) Get(ctx context.Context, _ string) (cache.Item, error) {
	return cache.Item{}, f.do(ctx)
}
func (f *failing) GetMulti(ctx context.Context, _ []string) (map[string]cache.Item, error) {
	return nil, f.do(ctx)
}
func (f *failing) Set(ctx context.Context, _ cache.Item) error            { return f.do(ctx) }
func (f *failing) Add(ctx context.Context, _ cache.Item) error            { return f.do(ctx) }
func (f *failing) CompareAndSwap(ctx context.Context, _ cache.Item) error { return f.do(ctx) }
func (f *failing) Delete(ctx context.Context, _ string) error             { return f.do(ctx) }
func (f *failing) Ping(ctx context.Context) error                         { return f.do(ctx) }
func (f *failing) Stats(ctx context.Context) ([]stats.Server, error)      { return nil, f.do(ctx) }
func (f *failing) MaxItemSize() int                                       { return 100 }
func (f *failing) Name() string                                           { return "failing" }
func (f *failing) Close() error                                           { return nil }

// calls are one call of each Cache method; read says whether it is bounded
// by GetTimeout rather than WriteTimeout.
var calls = []struct {
	name string
	read bool
	call func(ctx context.Context, c *cache.Cache) error
}{
	{"Get", true, func(ctx context.Context, c *cache.Cache) error { _, err := c.Get(ctx, "k"); return err }},
	{"GetMulti", true, func(ctx context.Context, c *cache.Cache) error { _, err := c.GetMulti(ctx, []string{"k"}); return err }},
	{"Stats", true, func(ctx context.Context, c *cache.Cache) error { _, err := c.Stats(ctx); return err }},
	{"Set", false, func(ctx context.Context, c *cache.Cache) error { return c.Set(ctx, cache.Item{Key: "k"}) }},
	{"Add", false, func(ctx context.Context, c *cache.Cache) error { return c.Add(ctx, cache.Item{Key: "k"}) }},
	{"CompareAndSwap", false, func(ctx context.Context, c *cache.Cache) error {
		return c.CompareAndSwap(ctx, cache.Item{Key: "k"})
	}},
	{"Delete", false, func(ctx context.Context, c *cache.Cache) error { return c.Delete(ctx, "k") }},
}

func TestFailOpen(t *testing.T) {
	refused := errors.New("dial tcp 127.0.0.1:11211: connection refused")
	tests := []struct {
		name            string
		backendErr      error
		want            []error // what the error must match
		wantUnavailable bool
		wantErrors      uint64 // counted per call
	}{
		{"backend failure", refused, []error{cache.ErrUnavailable, refused}, true, 1},
		{"backend says unavailable", cache.ErrUnavailable, []error{cache.ErrUnavailable}, true, 1},
		{"miss", cache.ErrMiss, []error{cache.ErrMiss}, false, 0},
		{"not stored", cache.ErrNotStored, []error{cache.ErrNotStored}, false, 0},
		{"invalid", cache.ErrInvalid, []error{cache.ErrInvalid}, false, 0},
		{"too large", cache.ErrTooLarge, []error{cache.ErrTooLarge}, false, 1},
	}
	for _, tt := range tests {
		for _, op := range calls {
			t.Run(tt.name+"/"+op.name, func(t *testing.T) {
				c := cache.New(&failing{err: tt.backendErr}, cache.Options{})
				err := op.call(t.Context(), c)
				for _, w := range tt.want {
					if !errors.Is(err, w) {
						t.Errorf("error = %v, want it to match %v", err, w)
					}
				}
				if got := errors.Is(err, cache.ErrUnavailable); got != tt.wantUnavailable {
					t.Errorf("errors.Is(%v, ErrUnavailable) = %v, want %v", err, got, tt.wantUnavailable)
				}
				if n := c.Counts().Errors; n != tt.wantErrors {
					t.Errorf("Errors = %d, want %d", n, tt.wantErrors)
				}
			})
		}
	}
}

// TestTimeouts checks that every call reaches the backend bounded by the
// right timeout, and that a backend that hangs is cut off.
func TestTimeouts(t *testing.T) {
	const getTimeout, writeTimeout = time.Hour, 2 * time.Hour // distinct, and never reached
	for _, op := range calls {
		t.Run(op.name, func(t *testing.T) {
			f := &failing{}
			c := cache.New(f, cache.Options{GetTimeout: getTimeout, WriteTimeout: writeTimeout})
			before := time.Now()
			op.call(t.Context(), c)
			after := time.Now()
			want := writeTimeout
			if op.read {
				want = getTimeout
			}
			if len(f.deadlines) != 1 {
				t.Fatalf("backend saw %d calls, want 1", len(f.deadlines))
			}
			switch dl := f.deadlines[0]; {
			case dl.IsZero():
				t.Errorf("backend call had no deadline, want %v", want)
			case dl.Before(before.Add(want)) || dl.After(after.Add(want)):
				t.Errorf("backend deadline is %v after the call, want %v", dl.Sub(before), want)
			}
		})
	}

	t.Run("hanging backend", func(t *testing.T) {
		c := cache.New(&failing{block: true}, cache.Options{GetTimeout: time.Millisecond})
		// Should the wrapper not bound the call, this ends it, and the
		// error is then the caller's and not counted.
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		_, err := c.Get(ctx, "k")
		if !errors.Is(err, cache.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error = %v, want it to match %v and %v", err, cache.ErrUnavailable, context.DeadlineExceeded)
		}
		if n := c.Counts().Errors; n != 1 {
			t.Errorf("Errors = %d, want 1", n)
		}
	})

	t.Run("caller's earlier deadline is kept", func(t *testing.T) {
		f := &failing{}
		c := cache.New(f, cache.Options{GetTimeout: time.Hour})
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		c.Get(ctx, "k")
		if want, _ := ctx.Deadline(); !f.deadlines[0].Equal(want) {
			t.Errorf("backend deadline %v, want the caller's %v", f.deadlines[0], want)
		}
	})
}

// TestCallerGone checks that a call cut short by the caller's own context
// fails open but is not counted or logged as the backend's failure.
func TestCallerGone(t *testing.T) {
	var log bytes.Buffer
	c := cache.New(&failing{block: true}, cache.Options{Logger: slog.New(slog.NewTextHandler(&log, nil))})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := c.Get(ctx, "k")
	if !errors.Is(err, cache.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want it to match %v and %v", err, cache.ErrUnavailable, context.Canceled)
	}
	if n := c.Counts().Errors; n != 0 || log.Len() != 0 {
		t.Errorf("Errors = %d, log %q; want 0 and nothing logged", n, log.String())
	}
}

// TestErrorLogRateLimited checks that a failing backend is logged once per
// kind per interval, with the number of lines left out, and that keys never
// reach the log.
func TestErrorLogRateLimited(t *testing.T) {
	var log bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	clock := cachetest.NewClock()
	f := &failing{}
	c := cache.New(f, cache.Options{Logger: logger, LogInterval: 10 * time.Second, Now: clock.Now})
	const secretKey = "session:s3cr3t-token"
	fail := func(err error, n int) {
		f.err = err
		for range n {
			c.Get(t.Context(), secretKey)
		}
	}
	refused := errors.New("connection refused")

	fail(refused, 5)                  // logged, 4 left out
	fail(context.DeadlineExceeded, 2) // another kind: logged, 1 left out
	clock.Advance(5 * time.Second)
	fail(refused, 1) // left out
	clock.Advance(6 * time.Second)
	fail(refused, 1)                  // logged with 5 left out
	fail(context.DeadlineExceeded, 1) // logged with 1 left out

	line := func(kind string, err error, suppressed int) string {
		return `level=WARN msg="cache: backend failed; serving without the cache" backend=failing kind=` + kind +
			` op=get err="cache: get on failing: cache: unavailable: ` + err.Error() + `" suppressed=` + strconv.Itoa(suppressed)
	}
	want := []string{
		line("failure", refused, 0),
		line("timeout", context.DeadlineExceeded, 0),
		line("failure", refused, 5),
		line("timeout", context.DeadlineExceeded, 1),
	}
	got := strings.Split(strings.TrimSpace(log.String()), "\n")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("log lines (-want +got):\n%s", diff)
	}
	if strings.Contains(log.String(), "s3cr3t") {
		t.Error("the log holds a key")
	}
}

// TestTooLargeNeverReachesBackend checks the size check comes first.
func TestTooLargeNeverReachesBackend(t *testing.T) {
	f := &failing{}
	c := cache.New(f, cache.Options{MaxItemSize: 10})
	for _, size := range []int{11, 101} { // over the override; over the backend's limit too
		err := c.Set(t.Context(), cache.Item{Key: "k", Value: make([]byte, size)})
		if !errors.Is(err, cache.ErrTooLarge) {
			t.Errorf("Set of %d bytes: error = %v, want %v", size, err, cache.ErrTooLarge)
		}
	}
	if len(f.deadlines) != 0 {
		t.Errorf("backend saw %d calls, want none", len(f.deadlines))
	}
	if n := c.Counts().Errors; n != 2 {
		t.Errorf("Errors = %d, want 2: the values refused as too large", n)
	}
}

// TestGetMultiNothingAnswered: when the backend fails the whole multi-get,
// every key is listed as unanswered and none counts as a miss.
func TestGetMultiNothingAnswered(t *testing.T) {
	c := cache.New(&failing{err: errors.New("connection refused")}, cache.Options{})
	keys := []string{"a", "b"}
	items, err := c.GetMulti(t.Context(), keys)
	var partial *cache.PartialError
	if len(items) != 0 || !errors.Is(err, cache.ErrUnavailable) || !errors.As(err, &partial) {
		t.Fatalf("GetMulti = %v, %v; want no items and a *cache.PartialError matching ErrUnavailable", items, err)
	}
	if diff := cmp.Diff(keys, partial.Unanswered); diff != "" {
		t.Errorf("Unanswered (-want +got):\n%s", diff)
	}
	s := c.Counts()
	if s.Hits != 0 || s.Misses != 0 || s.Errors != 1 {
		t.Errorf("Hits, Misses, Errors = %d, %d, %d; want 0, 0, 1", s.Hits, s.Misses, s.Errors)
	}
}

// TestPing checks that Cache.Ping fails open like the other calls, within
// GetTimeout, but counts and logs nothing: the health check reports it.
func TestPing(t *testing.T) {
	refused := errors.New("connection refused")
	tests := []struct {
		name       string
		backendErr error
		want       []error // what the error must match; nil: no error
	}{
		{"backend up", nil, nil},
		{"backend failure", refused, []error{cache.ErrUnavailable, refused}},
		{"backend says unavailable", cache.ErrUnavailable, []error{cache.ErrUnavailable}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log bytes.Buffer
			f := &failing{err: tt.backendErr}
			c := cache.New(f, cache.Options{GetTimeout: time.Hour, Logger: slog.New(slog.NewTextHandler(&log, nil))})
			before := time.Now()
			err := c.Ping(t.Context())
			if (err == nil) != (tt.want == nil) {
				t.Errorf("Ping = %v, want an error: %v", err, tt.want != nil)
			}
			for _, w := range tt.want {
				if !errors.Is(err, w) {
					t.Errorf("Ping = %v, want it to match %v", err, w)
				}
			}
			if dl := f.deadlines[0]; dl.Before(before.Add(time.Hour)) || dl.After(time.Now().Add(time.Hour)) {
				t.Errorf("backend deadline is %v after the call, want GetTimeout", dl.Sub(before))
			}
			if n := c.Counts().Errors; n != 0 || log.Len() != 0 {
				t.Errorf("Errors = %d, log %q; want 0 and nothing logged", n, log.String())
			}
		})
	}
}
