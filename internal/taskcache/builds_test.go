package taskcache_test

import (
	"encoding/binary"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/taskcache"
)

// TestOtherBuildsValues: during a rolling change another build may have
// stored, at the keys this build reads, values in an encoding this build
// does not know: without the fill's framing, or framed with a list of
// another format or a version that is not a number. Each must be taken for
// a miss and replaced — never decoded into a wrong list — so that List
// returns the database's list, and once the foreign value is replaced (by
// the second List at the latest) a List is a hit, without a query.
func TestOtherBuildsValues(t *testing.T) {
	framed := func(data string) []byte { // the fill's framing: 'v', read time, data
		b := binary.BigEndian.AppendUint64([]byte{'v'}, uint64(time.Now().UnixNano()))
		return append(b, data...)
	}
	values := map[string][]byte{
		"unframed":               []byte("T\x05\x01\x01\x01x\x00\x00\x00"),
		"list of another format": framed("U\x05\x01\x01\x01x\x00\x00\x00"),
		"version not a number":   framed("v7"),
		"empty":                  {},
	}
	for _, strategy := range append(slices.Clone(strategies), taskcache.Expire) {
		for name, value := range values {
			t.Run(string(strategy)+"/"+name, func(t *testing.T) {
				src := newSource(t, "", 0)
				c := newLocalCache(t, nil)
				s := newStore(t, src, c, taskcache.Options{Strategy: strategy})
				for _, n := range []string{"one", "two"} {
					if _, _, err := s.Add(t.Context(), n); err != nil {
						t.Fatal(err)
					}
				}
				want, err := src.Store.List(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				for _, key := range []string{"tasks:all", "tasks:version", "tasks:version:ttl", "tasks:all:v" + strconv.FormatInt(want.Revision, 10)} {
					if err := c.Set(t.Context(), cache.Item{Key: key, Value: value, TTL: time.Hour}); err != nil {
						t.Fatal(err)
					}
				}
				var queries int64
				for i := range 3 {
					got, err := s.List(t.Context())
					if err != nil || got.Revision != want.Revision || !slices.Equal(names(got), names(want)) {
						t.Fatalf("List %d = revision %d %v (%v); want revision %d %v", i, got.Revision, names(got), err, want.Revision, names(want))
					}
					if i == 1 {
						queries = src.queries.Load()
					}
				}
				if n := src.queries.Load() - queries; n != 0 {
					t.Errorf("the third List queried the database %d times: the foreign value was not replaced", n)
				}
			})
		}
	}
}
