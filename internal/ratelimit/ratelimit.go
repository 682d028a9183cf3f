// Package ratelimit keeps token buckets per key (an access token, a client
// IP) in memory. Limits are per node: a cluster of N nodes admits up to N
// times the rate.
//
// It must not import other Latchkey packages.
package ratelimit

import (
	"math"
	"sync"
	"time"
)

// Limiter admits up to Burst requests at once per key, refilled at Rate per second.
type Limiter struct {
	Rate  float64
	Burst int

	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
	now     func() time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

// New returns a limiter; a rate of zero or less admits everything.
func New(rate float64, burst int) *Limiter {
	return &Limiter{Rate: rate, Burst: max(burst, 1), buckets: map[string]*bucket{}, now: time.Now}
}

// Decision is the outcome of Allow, with what the RateLimit-* headers show.
type Decision struct {
	Allowed    bool
	Limit      int
	Remaining  int
	Reset      time.Duration // until the bucket is full again
	RetryAfter time.Duration // until the next request is admitted, when refused
}

// Allow takes one token from key's bucket, if there is one.
func (l *Limiter) Allow(key string) Decision {
	if l == nil || l.Rate <= 0 {
		return Decision{Allowed: true, Limit: math.MaxInt32, Remaining: math.MaxInt32}
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: float64(l.Burst), last: now}
		l.buckets[key] = b
	}
	b.tokens = math.Min(float64(l.Burst), b.tokens+now.Sub(b.last).Seconds()*l.Rate)
	b.last = now
	d := Decision{Limit: l.Burst}
	if b.tokens >= 1 {
		b.tokens--
		d.Allowed = true
	} else {
		d.RetryAfter = seconds((1 - b.tokens) / l.Rate)
	}
	d.Remaining = int(b.tokens)
	d.Reset = seconds((float64(l.Burst) - b.tokens) / l.Rate)
	return d
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// sweep forgets buckets that have refilled completely, once a minute, so
// that memory follows the number of active keys.
func (l *Limiter) sweep(now time.Time) {
	if now.Sub(l.swept) < time.Minute {
		return
	}
	l.swept = now
	full := time.Duration(float64(l.Burst)/l.Rate*float64(time.Second)) + time.Second
	for k, b := range l.buckets {
		if now.Sub(b.last) > full {
			delete(l.buckets, k)
		}
	}
}
