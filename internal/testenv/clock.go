package testenv

import (
	"sync"
	"time"
)

// Clock is a clock that a test moves: it stands still between Advance
// calls, so a test reaches an expiry, a lease's end or a cache's TTL without
// sleeping. Give its Now as a latchkey.Clock.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock that reads the time of the call until it is
// moved (real time, so that what other code checks against the system
// clock, as a browser or an OIDC library does, still agrees at first).
func NewClock() *Clock { return &Clock{t: time.Now()} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
