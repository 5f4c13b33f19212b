package cache

import (
	"context"
	"errors"
	"sync"
	"time"
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

// DeleteRetrying deletes keys, in order, and retries those whose delete
// failed, with backoff (10 ms doubling to 250 ms), until ctx ends; a
// rejection (ErrRejected, such as wrong credentials) is not retried. Every
// key gets every attempt: one that keeps failing does not keep the others
// from being deleted. It is for invalidations that must land: a write's.
// It is safe for concurrent use.
func (c *Cache) DeleteRetrying(ctx context.Context, keys ...string) error {
	for wait := 10 * time.Millisecond; ; wait = min(2*wait, 250*time.Millisecond) {
		var (
			failed []string
			errs   []error
		)
		for _, key := range keys {
			err := c.Delete(ctx, key)
			if errors.Is(err, ErrRejected) {
				return err
			}
			if err != nil {
				failed = append(failed, key)
				errs = append(errs, err)
			}
		}
		if len(failed) == 0 {
			return nil
		}
		keys = failed
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return errors.Join(errs...)
		}
	}
}
