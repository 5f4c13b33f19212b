// Package reqtrace records what served one request: the outcome of each
// caching layer it went through (hit, miss or bypass) and the database
// queries it waited for. The web server puts a Trace in every request's
// context; the page, fragment and query caches and the database store
// record into it; the server reports it in the Server-Timing header and in
// the request's log line, so that anyone can see why a page was fast or
// slow.
//
// It is on the hot path, so it is cheap: one small allocation per request,
// a few atomic stores, and nothing at all where a context carries no Trace.
package reqtrace

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Layer is a caching layer a request can go through.
type Layer uint8

// The layers, outermost first: the order in which Summary names them.
const (
	Page Layer = iota
	Fragment
	Query
	Session
	numLayers
)

var layerNames = [numLayers]string{Page: "page", Fragment: "fragment", Query: "query", Session: "session"}

// String names the layer: "page", "fragment", "query", "session".
func (l Layer) String() string { return layerNames[l] }

// Outcome says where a layer got what it served; package fill's Get
// returns one (fill.Outcome is this type).
type Outcome uint8

// The outcomes, from the best to the worst.
const (
	// Hit: from the cache.
	Hit Outcome = iota
	// Miss: loaded from the source, and stored.
	Miss
	// Bypass: loaded from the source without the cache (it failed).
	Bypass
	numOutcomes
)

var outcomes = [numOutcomes]string{Hit: "hit", Miss: "miss", Bypass: "bypass"}

// String names the outcome as Server-Timing and the logs show it.
func (o Outcome) String() string {
	if o < numOutcomes {
		return outcomes[o]
	}
	return "unknown"
}

// Trace is one request's record. The zero value is empty and ready; a nil
// *Trace records nothing. It is safe for concurrent use: a cache fill that
// the request started may record into it from another goroutine.
type Trace struct {
	// outcomes holds, for each layer, 1 + the index in outcomes of the
	// worst outcome it recorded (a miss outranks a hit, a bypass a miss);
	// 0 for a layer not used.
	outcomes  [numLayers]atomic.Uint32
	dbQueries atomic.Uint32
	dbNanos   atomic.Int64
	// dbDown is set by DBUnavailable.
	dbDown atomic.Bool
}

type key struct{}

// With returns ctx carrying t.
func With(ctx context.Context, t *Trace) context.Context { return context.WithValue(ctx, key{}, t) }

// From returns the Trace ctx carries, or nil.
func From(ctx context.Context) *Trace {
	t, _ := ctx.Value(key{}).(*Trace)
	return t
}

// Detach returns a background context that carries ctx's Trace and nothing
// else of ctx: no deadline, no cancellation, no other value. A cache fill
// shared by several requests runs under it, so the database time it spends
// is recorded for the request that started it, while nothing personal to
// that request (a session, say) reaches what the fill stores for everyone.
func Detach(ctx context.Context) context.Context {
	if t := From(ctx); t != nil {
		return With(context.Background(), t)
	}
	return context.Background()
}

// Cache records that layer l served the request with outcome o; of
// several, the worst is kept.
func (t *Trace) Cache(l Layer, o Outcome) {
	if t == nil || o >= numOutcomes {
		return
	}
	v := uint32(o) + 1
	for {
		old := t.outcomes[l].Load()
		if old >= v || t.outcomes[l].CompareAndSwap(old, v) {
			return
		}
	}
}

// DB records one database query that took d.
func (t *Trace) DB(d time.Duration) {
	if t == nil {
		return
	}
	t.dbQueries.Add(1)
	t.dbNanos.Add(int64(d))
}

// DBUnavailable records that the database could not serve the request,
// or that the request was served from the cache while the database is
// known to be unavailable: what it shows may be older than the database.
func (t *Trace) DBUnavailable() {
	if t != nil {
		t.dbDown.Store(true)
	}
}

// Outcome returns the worst outcome layer l recorded, or "" for none.
func (t *Trace) Outcome(l Layer) string {
	if t == nil {
		return ""
	}
	if v := t.outcomes[l].Load(); v != 0 {
		return outcomes[v-1]
	}
	return ""
}

// DBTime returns the number of database queries recorded and their total
// time.
func (t *Trace) DBTime() (queries int, d time.Duration) {
	if t == nil {
		return 0, 0
	}
	return int(t.dbQueries.Load()), time.Duration(t.dbNanos.Load())
}

// Summary names each layer used and its outcome, outermost first: "page
// hit", "page miss, fragment miss, query hit". It is "none" when no layer
// recorded anything (caching off, or a route that is not cached). Every
// possible summary is made once, at start, so that a request's costs no
// allocation.
func (t *Trace) Summary() string {
	if t == nil {
		return summaries[0]
	}
	i := 0
	for l := range numLayers {
		i = i<<2 | int(t.outcomes[l].Load())
	}
	return summaries[i]
}

// summaries holds the summary of every combination of outcomes, indexed by
// the layers' outcome codes (see Trace.outcomes), two bits each, the
// outermost layer highest.
var summaries = func() []string {
	out := make([]string, 1<<(2*numLayers))
	for i := range out {
		var b strings.Builder
		for l := range numLayers {
			v := i >> (2 * (numLayers - 1 - l)) & 3
			if v == 0 {
				continue
			}
			if b.Len() > 0 {
				b.WriteString(", ")
			}
			b.WriteString(l.String() + " " + outcomes[v-1])
		}
		if b.Len() == 0 {
			b.WriteString("none")
		}
		out[i] = b.String()
	}
	return out
}()

// ServerTiming is the value of a Server-Timing header for a response
// written total after the request arrived: what the caches did, the
// database time and the total, in milliseconds, e.g.
//
//	cache;desc="page hit", db;desc="0 queries";dur=0, total;dur=0.213
//
// and, after DBUnavailable, the database's description begins with
// "unavailable" (a page served from the cache through an outage):
//
//	cache;desc="page hit", db;desc="unavailable, 0 queries";dur=0, total;dur=0.213
func (t *Trace) ServerTiming(total time.Duration) string {
	n, d := t.DBTime()
	b := make([]byte, 0, 96)
	b = append(b, `cache;desc="`...)
	b = append(b, t.Summary()...)
	b = append(b, `", db;desc="`...)
	if t != nil && t.dbDown.Load() {
		b = append(b, "unavailable, "...)
	}
	b = strconv.AppendInt(b, int64(n), 10)
	if n == 1 {
		b = append(b, ` query";dur=`...)
	} else {
		b = append(b, ` queries";dur=`...)
	}
	b = appendMillis(b, d)
	b = append(b, ", total;dur="...)
	b = appendMillis(b, total)
	return string(b)
}

// appendMillis appends d in milliseconds with three decimals at most,
// without trailing zeros ("1.2", "0.005", "3"): integer arithmetic, as
// every response formats two of these (a float's shortest form cost
// several times more).
func appendMillis(b []byte, d time.Duration) []byte {
	us := d.Microseconds()
	if us < 0 {
		b, us = append(b, '-'), -us
	}
	b = strconv.AppendInt(b, us/1000, 10)
	frac := us % 1000
	if frac == 0 {
		return b
	}
	digits := [3]byte{byte('0' + frac/100), byte('0' + frac/10%10), byte('0' + frac%10)}
	n := 3
	for digits[n-1] == '0' {
		n--
	}
	return append(append(b, '.'), digits[:n]...)
}
