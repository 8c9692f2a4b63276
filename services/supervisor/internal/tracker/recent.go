package tracker

import (
	"container/list"
	"time"
)

// recent maps ids to the latest value heard of each, kept in the order
// heard, oldest first: the count cap finds the oldest entry in O(1)
// however full the map is, so a flood of new ids costs the same per
// message as a quiet fleet. Not safe for concurrent use: the Tracker's
// lock guards it.
type recent[V any] struct {
	order *list.List // of *item[V], least recently heard first
	byKey map[string]*list.Element
}

type item[V any] struct {
	key string
	at  time.Time // when it was last heard, by the supervisor's clock
	v   V
}

func newRecent[V any]() *recent[V] {
	return &recent[V]{order: list.New(), byKey: map[string]*list.Element{}}
}

func (r *recent[V]) len() int { return len(r.byKey) }

func (r *recent[V]) has(key string) bool { _, ok := r.byKey[key]; return ok }

// put stores v as key's latest, heard at at, and makes it the newest.
func (r *recent[V]) put(key string, v V, at time.Time) {
	if el, ok := r.byKey[key]; ok {
		it := el.Value.(*item[V])
		it.v, it.at = v, at
		r.order.MoveToBack(el)
		return
	}
	r.byKey[key] = r.order.PushBack(&item[V]{key: key, at: at, v: v})
}

func (r *recent[V]) get(key string) (V, bool) {
	el, ok := r.byKey[key]
	if !ok {
		var zero V
		return zero, false
	}
	return el.Value.(*item[V]).v, true
}

func (r *recent[V]) remove(key string) {
	if el, ok := r.byKey[key]; ok {
		r.order.Remove(el)
		delete(r.byKey, key)
	}
}

// oldest is the entry heard least recently; ok is false when empty.
func (r *recent[V]) oldest() (key string, at time.Time, ok bool) {
	el := r.order.Front()
	if el == nil {
		return "", time.Time{}, false
	}
	it := el.Value.(*item[V])
	return it.key, it.at, true
}

// each calls fn on every entry, oldest first; fn must not change r.
func (r *recent[V]) each(fn func(key string, v V, at time.Time)) {
	for el := r.order.Front(); el != nil; el = el.Next() {
		it := el.Value.(*item[V])
		fn(it.key, it.v, it.at)
	}
}

// dropHeardBefore removes every entry last heard before cutoff and says
// how many. It looks at them all rather than stopping at the first young
// one: a clock stepped back can leave an old entry behind a newer one.
func (r *recent[V]) dropHeardBefore(cutoff time.Time) int {
	n := 0
	for el := r.order.Front(); el != nil; {
		next := el.Next()
		if it := el.Value.(*item[V]); it.at.Before(cutoff) {
			r.order.Remove(el)
			delete(r.byKey, it.key)
			n++
		}
		el = next
	}
	return n
}
