// Package dbstats counts and times the task store's database queries by
// kind, for the statistics pages and Prometheus (as stats.Query), and
// records each one in the request's trace (package reqtrace), so that a
// response can say how much database time it took. Seeing every call's
// outcome, it also knows whether the database is unavailable: whether its
// last call failed. It wraps the store rather than changing it: the store
// stays about SQL, and the counting sits in one place.
package dbstats

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/tasklist/tasklist/internal/reqtrace"
	"github.com/tasklist/tasklist/internal/stats"
	"github.com/tasklist/tasklist/internal/tasks"
)

// kind is a kind of query.
type kind int

const (
	kindList kind = iota
	kindPage
	kindHead
	kindAdd
	kindSetDone
	kindRemove
	kindRestore
	numKinds
)

var kindNames = [numKinds]string{
	kindList: "list", kindPage: "page", kindHead: "revision",
	kindAdd: "add", kindSetDone: "toggle", kindRemove: "remove", kindRestore: "restore",
}

// Store is the task store with every call counted and timed: it has the
// store's methods (what the caching layers read the database through) and
// is a stats.Queries. It is safe for concurrent use.
type Store struct {
	src *tasks.Store
	// count, errors and nanos are, by kind, the queries sent, those that
	// failed, and their total duration: what QueryStats reports as
	// stats.Query, kept as atomics so that a query takes no lock.
	count, errors [numKinds]atomic.Uint64
	nanos         [numKinds]atomic.Int64
	// down is set while the database is unavailable (see Unavailable).
	down atomic.Bool
}

// New wraps src, the database side of the caching layers.
func New(src *tasks.Store) *Store { return &Store{src: src} }

// measure counts one query of kind k that began at start and ended with
// err, and records it in ctx's trace. A task not found, a full list, a
// task restored already and a task changed since it was shown are
// answers, not failures.
func (s *Store) measure(ctx context.Context, k kind, start time.Time, err error) {
	d := time.Since(start)
	s.count[k].Add(1)
	s.nanos[k].Add(int64(d))
	if err != nil && !answer(err) {
		s.errors[k].Add(1)
	}
	reqtrace.From(ctx).DB(d)
	s.note(ctx, err)
}

// answer reports whether err is the database's answer to a call (no such
// task, a full list, ...) rather than a failure.
func answer(err error) bool {
	return errors.Is(err, tasks.ErrNotFound) || errors.Is(err, tasks.ErrFull) || errors.Is(err, tasks.ErrExists) || errors.Is(err, tasks.ErrChanged)
}

// note keeps what a call that ended with err says of the database: up
// when it answered, unavailable when it failed. A caller that went away
// says nothing. A failure is recorded in ctx's trace.
func (s *Store) note(ctx context.Context, err error) {
	switch {
	case err == nil || answer(err):
		s.down.Store(false)
	case errors.Is(ctx.Err(), context.Canceled):
	default:
		s.down.Store(true)
		reqtrace.From(ctx).DBUnavailable()
	}
}

// Unavailable reports whether the database failed the last call that
// reached it (a query, or Ping): the caches then serve what they hold of
// the last version known. It is a load of one flag.
func (s *Store) Unavailable() bool { return s.down.Load() }

// Ping checks that the database answers, for /healthz. Its outcome is
// kept as a query's is (see Unavailable); it is not counted as a query.
func (s *Store) Ping(ctx context.Context) error {
	err := s.src.Ping(ctx)
	s.note(ctx, err)
	return err
}

// List reads the whole list (the query cache's fill).
func (s *Store) List(ctx context.Context) (tasks.Snapshot, error) {
	start := time.Now()
	snap, err := s.src.List(ctx)
	s.measure(ctx, kindList, start, err)
	return snap, err
}

// Page reads one page of the list.
func (s *Store) Page(ctx context.Context, after int64, n int) (tasks.Page, error) {
	start := time.Now()
	p, err := s.src.Page(ctx, after, n)
	s.measure(ctx, kindPage, start, err)
	return p, err
}

// Head reads the database's version (the version's fill, the periodic
// check).
func (s *Store) Head(ctx context.Context) (tasks.Version, error) {
	start := time.Now()
	v, err := s.src.Head(ctx)
	s.measure(ctx, kindHead, start, err)
	return v, err
}

// Identity is the database's identity as read last; it reads nothing.
func (s *Store) Identity() string { return s.src.Identity() }

// Add adds a task.
func (s *Store) Add(ctx context.Context, name string) (tasks.Task, tasks.Version, error) {
	start := time.Now()
	t, v, err := s.src.Add(ctx, name)
	s.measure(ctx, kindAdd, start, err)
	return t, v, err
}

// SetDone marks a task done or open.
func (s *Store) SetDone(ctx context.Context, id int64, done bool, seen string) (tasks.Task, tasks.Version, error) {
	start := time.Now()
	t, v, err := s.src.SetDone(ctx, id, done, seen)
	s.measure(ctx, kindSetDone, start, err)
	return t, v, err
}

// Remove deletes a task.
func (s *Store) Remove(ctx context.Context, id int64, seen string) (tasks.Task, tasks.Version, error) {
	start := time.Now()
	t, v, err := s.src.Remove(ctx, id, seen)
	s.measure(ctx, kindRemove, start, err)
	return t, v, err
}

// Restore puts a removed task back.
func (s *Store) Restore(ctx context.Context, db string, t tasks.Task) (tasks.Task, tasks.Version, error) {
	start := time.Now()
	t, v, err := s.src.Restore(ctx, db, t)
	s.measure(ctx, kindRestore, start, err)
	return t, v, err
}

// QueryStats returns the counts of every kind, in a fixed order.
func (s *Store) QueryStats() []stats.Query {
	out := make([]stats.Query, numKinds)
	for k := range numKinds {
		d := time.Duration(s.nanos[k].Load())
		out[k] = stats.Query{Kind: kindNames[k], Count: s.count[k].Load(), Errors: s.errors[k].Load(), Time: d, Seconds: d.Seconds()}
	}
	return out
}
