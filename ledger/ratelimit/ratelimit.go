// Package ratelimit is a token bucket per key, for the servers' edges: the
// clearing house limits each community key's CXP calls and each party
// key's arbiter requests, a community server each peer's federation
// requests. It sits under ledger/, the base layer of domain-free building
// blocks every package may import (see package ledger).
package ratelimit

import (
	"math"
	"sync"
	"time"
)

// Limiter is a token bucket per key: each key may make rate requests a
// second on average and burst at once; the caller refuses the excess (429)
// before doing any work for it. Give buckets only to verified keys; buckets
// that are full again are forgotten when the map grows past maxBuckets. A
// nil *Limiter allows everything.
type Limiter struct {
	rate  float64 // tokens a second; 0 disables the limit
	burst float64
	mu    sync.Mutex
	seen  map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// New returns a limiter of rate tokens a second (0: no limit) and burst at once.
func New(rate float64, burst int) *Limiter {
	if burst < 1 {
		burst = int(math.Max(1, math.Ceil(rate)))
	}
	return &Limiter{rate: rate, burst: float64(burst), seen: map[string]*bucket{}}
}

// Allow takes a token of key's bucket at now, or says how long until one
// is there.
func (l *Limiter) Allow(key string, now time.Time) (bool, time.Duration) {
	if l == nil || l.rate <= 0 {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.seen[key]
	if !ok {
		if len(l.seen) >= maxBuckets {
			l.prune(now)
		}
		b = &bucket{tokens: l.burst, at: now}
		l.seen[key] = b
	}
	if elapsed := now.Sub(b.at).Seconds(); elapsed > 0 {
		b.tokens = math.Min(l.burst, b.tokens+elapsed*l.rate)
		b.at = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

const maxBuckets = 10000

// prune forgets the buckets that are full again.
func (l *Limiter) prune(now time.Time) {
	for k, b := range l.seen {
		if b.tokens+now.Sub(b.at).Seconds()*l.rate >= l.burst {
			delete(l.seen, k)
		}
	}
}
