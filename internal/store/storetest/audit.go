package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/store"
)

func testEvents(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	other := addRealm(t, s, r.TenantID, "Other")
	var inRealm []audit.Event
	for i := range 6 {
		action := "identity.create"
		if i%3 == 2 {
			action = "identity.delete"
		}
		inRealm = append(inRealm, newEvent(r.TenantID, r.ID, i, action))
	}
	noise := []audit.Event{
		newEvent(r.TenantID, other.ID, 10, "identity.create"),
		newEvent(r.TenantID, "", 11, "realm.create"),
		newEvent(latchkey.NewTenantID(), r.ID, 12, "identity.create"),
	}
	// Recorded out of order: the list orders them.
	for _, e := range append(noise, inRealm[3], inRealm[0], inRealm[5], inRealm[1], inRealm[4], inRealm[2]) {
		must(t, s.RecordEvent(ctx, e))
	}
	wantErr(t, "record a taken id", s.RecordEvent(ctx, inRealm[0]), latchkey.ErrDuplicate)

	events := s.Audit()
	list, total, err := events.ListEvents(ctx, r.TenantID, r.ID, all(nil))
	must(t, err)
	newestFirst := slices.Clone(inRealm)
	slices.Reverse(newestFirst)
	equal(t, "events, newest first", list, newestFirst)
	wantTotal(t, "events", total, 6)

	checkPaging(t, func(o latchkey.ListOptions) ([]string, int, error) {
		list, total, err := events.ListEvents(ctx, r.TenantID, r.ID, o)
		return ids(list, eventID), total, err
	}, ids(newestFirst, eventID))

	// No realm: every event of the tenant, whatever its realm.
	list, total, err = events.ListEvents(ctx, r.TenantID, "", all(nil))
	must(t, err)
	tenantWide := slices.Sorted(slices.Values(append(ids(inRealm, eventID), noise[0].ID, noise[1].ID)))
	slices.Reverse(tenantWide)
	sameIDs(t, "tenant events, newest first", ids(list, eventID), tenantWide)
	wantTotal(t, "tenant events", total, len(tenantWide))
	for raw, want := range map[string][]audit.Event{
		`action eq "identity.delete"`:                              {inRealm[5], inRealm[2]},
		`resource_id eq "resource-1" or request_id eq "request-4"`: {inRealm[4], inRealm[1]},
		`actor_id eq "actor-1" and not (action sw "identity.c")`:   {inRealm[5], inRealm[2]},
		`resource_type eq "Realm"`:                                 nil,
		`client_ip eq "192.0.2.3"`:                                 {inRealm[3]},
	} {
		list, total, err := events.ListEvents(ctx, r.TenantID, r.ID, all(parse(t, raw, audit.FilterAttributes)))
		must(t, err)
		sameIDs(t, raw, ids(list, eventID), ids(want, eventID))
		wantTotal(t, raw, total, len(want))
	}
}

// testEventsTotalUpTo: the events' total counts up to audit.MaxTotal+1
// matches (more than MaxTotal), filtered or not; at MaxTotal it is exact.
func testEventsTotalUpTo(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	es := make([]audit.Event, audit.MaxTotal+5)
	for i := range es {
		es[i] = newEvent(r.TenantID, r.ID, i, map[bool]string{true: audit.SignInStarted, false: "identity.update"}[i < audit.MaxTotal])
	}
	must(t, s.Update(ctx, func(tx store.Tx) error { return tx.RecordEvents(ctx, es) }))
	// A page of 3 for the 5 identity.update events: its total is counted, not its length.
	for raw, want := range map[string]int{"": audit.MaxTotal + 1, `action sw "sign_in."`: audit.MaxTotal, `action eq "identity.update"`: 5} {
		o := latchkey.ListOptions{Limit: 3}
		if raw != "" {
			o.Filter = parse(t, raw, audit.FilterAttributes)
		}
		list, total, err := s.Audit().ListEvents(ctx, r.TenantID, r.ID, o)
		must(t, err)
		if len(list) != 3 {
			t.Errorf("%q: a page of %d, want 3", raw, len(list))
		}
		wantTotal(t, raw, total, want)
	}
}

// testEventDetails: sign-in and readable-audit fields come back as
// recorded, and the filters on them (case-insensitive action and
// resource_type, sw, times, ids, ip) select the right events.
func testEventDetails(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	started := newEvent(r.TenantID, r.ID, 0, audit.SignInStarted)
	started.ResourceType, started.ResourceID = "AuthRequest", "req-1"
	started.CorrelationID, started.ApplicationID, started.UserAgent = "req-1", "app-1", "Mozilla/5.0 (X11; Linux x86_64)"
	denied := newEvent(r.TenantID, r.ID, 1, audit.SignInDenied)
	denied.ResourceType, denied.ResourceID = "AuthRequest", "req-1"
	denied.CorrelationID, denied.ApplicationID, denied.IdentityID, denied.CredentialID = "req-1", "app-1", "dana", "cred-1"
	denied.Outcome, denied.Reason = audit.Denied, "no rule of the realm's policy allows this identity"
	issued := newEvent(r.TenantID, r.ID, 2, audit.TokenIssued)
	issued.ResourceType, issued.CorrelationID, issued.IdentityID, issued.GrantType = "Token", "req-2", "erin", "authorization_code"
	update := newEvent(r.TenantID, r.ID, 3, "identity.update")
	update.ActorDisplayName, update.ResourceDisplayName = "Console admin", "Dana Scully"
	update.Changes = map[string]audit.Change{"display_name": {Old: "Dana", New: "Dana Scully"}, "secret": {Redacted: true}}
	recorded := []audit.Event{started, denied, issued, update}
	for _, e := range recorded {
		must(t, s.RecordEvent(ctx, e))
	}
	list, _, err := s.Audit().ListEvents(ctx, r.TenantID, r.ID, all(nil))
	must(t, err)
	newestFirst := slices.Clone(recorded)
	slices.Reverse(newestFirst)
	equal(t, "events with their details", list, newestFirst)

	for raw, want := range map[string][]audit.Event{
		`action sw "SIGN_IN."`:                              {denied, started},
		`action eq "Sign_In.Denied"`:                        {denied},
		`resource_type eq "identity"`:                       {update},
		`resource_type eq "AUTHREQUEST"`:                    {denied, started},
		`correlation_id eq "req-1"`:                         {denied, started},
		`identity_id eq "dana" or identity_id eq "erin"`:    {issued, denied},
		`application_id eq "app-1" and outcome eq "DENIED"`: {denied},
		`ip eq "192.0.2.2"`:                                 {issued},
		`create_time ge "` + denied.CreateTime.Format(time.RFC3339Nano) + `" and create_time le "` +
			issued.CreateTime.Format(time.RFC3339Nano) + `"`: {issued, denied},
	} {
		list, total, err := s.Audit().ListEvents(ctx, r.TenantID, r.ID, all(parse(t, raw, audit.FilterAttributes, audit.OrderedAttributes...)))
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		sameIDs(t, raw, ids(list, eventID), ids(want, eventID))
		wantTotal(t, raw, total, len(want))
	}
	_, _, err = s.Audit().ListEvents(ctx, r.TenantID, r.ID, all(parse(t, `create_time ge "yesterday"`, audit.FilterAttributes, audit.OrderedAttributes...)))
	if e, ok := errors.AsType[*latchkey.Error](err); !ok || e.Code != latchkey.CodeBadRequest {
		t.Errorf("a time that is not RFC 3339: got %v, want a 400", err)
	}
}

// testPruneEvents: events older than the cutoff go, at most limit at a
// time, oldest first, whatever their tenant; newer ones stay.
func testPruneEvents(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	other := newRealm(t, s)
	var es []audit.Event
	for i := range 5 {
		e := newEvent(r.TenantID, r.ID, i, "identity.create")
		if i == 1 {
			e.TenantID, e.RealmID = other.TenantID, other.ID
		}
		e.ID = audit.IDsBefore(now.Add(time.Duration(i)*time.Hour)) + e.ID[13:]
		e.CreateTime = now.Add(time.Duration(i) * time.Hour)
		es = append(es, e)
		must(t, s.RecordEvent(ctx, e))
	}
	cutoff := now.Add(3 * time.Hour) // events 0, 1 and 2 are older
	n, err := s.Audit().DeleteEventsBefore(ctx, cutoff, 2)
	must(t, err)
	wantTotal(t, "deleted in the first batch", n, 2)
	n, err = s.Audit().DeleteEventsBefore(ctx, cutoff, 2)
	must(t, err)
	wantTotal(t, "deleted in the second batch", n, 1)
	n, err = s.Audit().DeleteEventsBefore(ctx, cutoff, 2)
	must(t, err)
	wantTotal(t, "deleted once none is older", n, 0)
	list, _, err := s.Audit().ListEvents(ctx, r.TenantID, r.ID, all(nil))
	must(t, err)
	sameIDs(t, "events left", ids(list, eventID), []string{es[4].ID, es[3].ID})
	list, _, err = s.Audit().ListEvents(ctx, other.TenantID, other.ID, all(nil))
	must(t, err)
	sameIDs(t, "events left in the other tenant", ids(list, eventID), nil)
}
