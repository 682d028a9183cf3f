package latchkey_test

import (
	"github.com/latchkey/latchkey"
	"testing"
	"time"
)

func TestClock(t *testing.T) {
	set := time.Date(2026, 12, 6, 10, 0, 0, 1234567, time.FixedZone("CET", 3600))
	if got, want := latchkey.Clock(func() time.Time { return set }).Now(), time.Date(2026, 12, 6, 9, 0, 0, 1234000, time.UTC); !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("a set clock: %v, want %v", got, want)
	}
	var system latchkey.Clock
	if got := system.Now(); time.Since(got) > time.Minute || got.Location() != time.UTC || got.Nanosecond()%1000 != 0 {
		t.Errorf("the zero clock: %v", got)
	}
}
