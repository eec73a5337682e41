// Package slicepool recycles the row buffers of streaming workers (the
// converter's, the checkpoint synthesizer's): a sync.Pool of slices of one
// element type, handed out at the length asked for.
package slicepool

import "sync"

// Pool is a pool of []T. The zero value is ready; it is safe for concurrent
// use.
type Pool[T any] struct{ p sync.Pool }

// Get returns a slice of length n: a recycled one when one of enough
// capacity is at hand (its contents are not cleared), else a new one.
func (p *Pool[T]) Get(n int) []T {
	if b, ok := p.p.Get().(*[]T); ok && cap(*b) >= n {
		return (*b)[:n]
	}
	return make([]T, n)
}

// Put gives b back for reuse; the caller must not use it afterwards.
func (p *Pool[T]) Put(b []T) { p.p.Put(&b) }
