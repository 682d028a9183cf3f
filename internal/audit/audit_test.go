package audit_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/testenv"
)

// TestNewAt: an event carries the actor (with its name), request id,
// client IP and user agent of its context, a lower-case action, and an id
// that sorts by time.
func TestNewAt(t *testing.T) {
	clock := testenv.NewClock()
	ctx := latchkey.WithActor(t.Context(), latchkey.Actor{Type: "identity", ID: "dana", DisplayName: "Dana Scully"})
	ctx = latchkey.WithUserAgent(latchkey.WithClientIP(latchkey.WithRequestID(ctx, "req-1"), "192.0.2.7"), "Mozilla/5.0")
	e := audit.NewAt(ctx, clock.Now(), "t", "r", "Sign_In.Started", "Application", "app")
	if e.Action != "sign_in.started" || e.ActorDisplayName != "Dana Scully" || e.RequestID != "req-1" ||
		e.ClientIP != "192.0.2.7" || e.UserAgent != "Mozilla/5.0" {
		t.Errorf("event %+v", e)
	}
	clock.Advance(time.Microsecond)
	later := audit.NewAt(context.Background(), clock.Now(), "t", "r", "x", "y", "z")
	if later.ID <= e.ID || later.ActorType != "system" {
		t.Errorf("later event %+v: id must sort after %s, actor system", later, e.ID)
	}
	if audit.IDsBefore(clock.Now()) > later.ID || audit.IDsBefore(clock.Now().Add(time.Microsecond)) <= later.ID {
		t.Errorf("IDsBefore does not bound ids by time")
	}
}

// TestDiff: changed fields with old and new values, secrets only marked,
// unchanged fields left out.
func TestDiff(t *testing.T) {
	got := audit.Diff(map[string]any{"display_name": "Dana", "state": "ACTIVE", "secret": "a", "gone": "x"},
		map[string]any{"display_name": "Dana Scully", "state": "ACTIVE", "secret": "b"}, "secret")
	want := map[string]audit.Change{"display_name": {Old: "Dana", New: "Dana Scully"}, "secret": {Redacted: true}, "gone": {Old: "x"}}
	if len(got) != len(want) {
		t.Fatalf("Diff = %+v, want %+v", got, want)
	}
	for k, w := range want {
		if g := got[k]; g != w {
			t.Errorf("%s: %+v, want %+v", k, g, w)
		}
	}
	if audit.Diff(map[string]any{"a": 1}, map[string]any{"a": 1}) != nil {
		t.Error("no change must be nil")
	}
}

// TestPruner: events older than the retention go when the clock has moved
// past it, the others stay; a full batch asks for another step.
func TestPruner(t *testing.T) {
	s := testenv.OpenSQLite(t)
	clock := testenv.NewClock()
	ctx := t.Context()
	for range 3 {
		must(t, s.RecordEvent(ctx, audit.NewAt(ctx, clock.Now(), "t", "r", "identity.create", "Identity", "i")))
		clock.Advance(time.Hour)
	}
	p := &audit.Pruner{Store: s.Audit(), Clock: clock.Now, Retention: 24 * time.Hour}
	more, err := p.Step(ctx)
	must(t, err)
	if more || count(t, s.Audit()) != 3 {
		t.Fatalf("nothing is old yet: more %v, %d left", more, count(t, s.Audit()))
	}
	clock.Advance(22*time.Hour + 30*time.Minute) // the first two are past 24 h
	_, err = p.Step(ctx)
	must(t, err)
	if n := count(t, s.Audit()); n != 1 {
		t.Errorf("%d events left, want 1", n)
	}
}

func count(t *testing.T, s audit.Store) int {
	t.Helper()
	_, total, err := s.ListEvents(t.Context(), "t", "r", latchkey.ListOptions{Limit: 10})
	must(t, err)
	return total
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestChangesOf: two versions of a resource compare by their JSON fields,
// without update_time.
func TestChangesOf(t *testing.T) {
	type app struct {
		Name       string    `json:"display_name"`
		Secret     string    `json:"client_secret"`
		UpdateTime time.Time `json:"update_time"`
	}
	now := time.Now()
	got := audit.ChangesOf(app{"Pay", "s1", now}, app{"Payroll", "s2", now.Add(time.Second)}, "client_secret")
	if len(got) != 2 || got["display_name"] != (audit.Change{Old: "Pay", New: "Payroll"}) || !got["client_secret"].Redacted {
		t.Errorf("ChangesOf = %+v", got)
	}
	if c := audit.ChangesOf(app{"Pay", "s", now}, app{"Pay", "s", now.Add(time.Second)}); c != nil {
		t.Errorf("only update_time changed: %+v", c)
	}

	// Nested objects compare field by field, and a secret stays redacted
	// however deep it is.
	type config struct {
		RedirectURIs []string `json:"redirect_uris"`
		Secret       string   `json:"client_secret"`
		TTL          int      `json:"ttl"`
	}
	type nested struct {
		Name   string `json:"display_name"`
		Config config `json:"protocol_config"`
	}
	got = audit.ChangesOf(nested{"Pay", config{[]string{"https://a"}, "s1", 60}}, nested{"Pay", config{[]string{"https://b"}, "s2", 60}}, "client_secret")
	want := map[string]audit.Change{"protocol_config.redirect_uris": {Old: []any{"https://a"}, New: []any{"https://b"}},
		"protocol_config.client_secret": {Redacted: true}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("nested ChangesOf = %+v, want %+v", got, want)
	}
	e := audit.NewAt(t.Context(), now, "t", "r", "application.update", "Application", "a").
		Changed("Payroll", nested{Name: "Pay"}, nested{Name: "Payroll"})
	if e.ResourceDisplayName != "Payroll" || e.Changes["display_name"] != (audit.Change{Old: "Pay", New: "Payroll"}) {
		t.Errorf("Changed: %+v", e)
	}
}
