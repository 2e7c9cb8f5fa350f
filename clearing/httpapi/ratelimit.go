package httpapi

import (
	"math"
	"sync"
	"time"
)

// rateLimiter is a token bucket per key: each verified community key may
// make Rate CXP calls a second on average and Burst at once (the arbiter:
// each party key its resolve requests); the excess is refused with 429
// before any work is done for it. Only verified keys get a bucket, and
// buckets that are full again are forgotten when the map grows past
// maxBuckets.
type rateLimiter struct {
	rate  float64 // tokens a second; 0 disables the limit
	burst float64
	mu    sync.Mutex
	seen  map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newRateLimiter(rate float64, burst int) *rateLimiter {
	if burst < 1 {
		burst = int(math.Max(1, math.Ceil(rate)))
	}
	return &rateLimiter{rate: rate, burst: float64(burst), seen: map[string]*bucket{}}
}

// allow takes a token of key's bucket at now, or says how long until one
// is there.
func (l *rateLimiter) allow(key string, now time.Time) (bool, time.Duration) {
	if l.rate <= 0 {
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
func (l *rateLimiter) prune(now time.Time) {
	for k, b := range l.seen {
		if b.tokens+now.Sub(b.at).Seconds()*l.rate >= l.burst {
			delete(l.seen, k)
		}
	}
}
