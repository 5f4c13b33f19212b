package cache

import (
	"context"
	"sync"
)

// setParallel bounds the concurrent stores of one SetMulti.
const setParallel = 8

// SetMulti stores items with Set, several at a time, so that storing many
// small values (the rows of a page) costs about one round trip of waiting
// rather than one each. It returns the first error; the other items may
// still have been stored. It is safe for concurrent use.
func (c *Cache) SetMulti(ctx context.Context, items []Item) error {
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
		sem   = make(chan struct{}, setParallel)
	)
	for _, it := range items {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := c.Set(ctx, it); err != nil {
				once.Do(func() { first = err })
			}
		})
	}
	wg.Wait()
	return first
}

// Lookup returns what a Get of key would have: the entry of a GetMulti's
// result, or ErrMiss. For reading several keys in one round trip and then
// handling each as if read alone.
func Lookup(items map[string]Item, key string) (Item, error) {
	if it, ok := items[key]; ok {
		return it, nil
	}
	return Item{}, ErrMiss
}
