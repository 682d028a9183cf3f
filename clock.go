package latchkey

import "time"

// Clock tells the time to the services, stores, workers and caches, which
// read it nowhere else: a test sets one and checks every TTL, lease and
// expiry without sleeping. The zero Clock is the system clock.
type Clock func() time.Time

// Now is the time as Latchkey keeps it: UTC, to the microsecond that both
// storage engines store.
func (c Clock) Now() time.Time {
	if c == nil {
		return time.Now().UTC().Truncate(time.Microsecond)
	}
	return c().UTC().Truncate(time.Microsecond)
}
