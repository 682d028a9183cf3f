package storetest

import (
	"cmp"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/saml"
	"github.com/latchkey/latchkey/internal/store"
)

// testSAMLCertificates: a realm's SAML certificates round-trip, oldest
// activation first, within their realm; a second one with the same
// activation time is a duplicate (of nodes racing to make a realm's first,
// one wins); deleting one of another realm deletes nothing.
func testSAMLCertificates(t *testing.T, s store.Store) {
	ctx := t.Context()
	r, other := newRealm(t, s), newRealm(t, s)
	cert := func(realm string, activate time.Time) saml.Certificate {
		return saml.Certificate{ID: latchkey.NewUUID(), TenantID: r.TenantID, RealmID: realm, DER: []byte{0x30, 0x82, 0x01},
			PrivateKeySealed: "sealed", ActivateTime: activate, CreateTime: now}
	}
	next, first := cert(r.ID, now.Add(time.Hour)), cert(r.ID, time.Unix(0, 0).UTC())
	must(t, s.CreateSAMLCertificate(ctx, next))
	must(t, s.CreateSAMLCertificate(ctx, first))
	wantErr(t, "a second certificate activated at the same time", s.CreateSAMLCertificate(ctx, cert(r.ID, first.ActivateTime)), latchkey.ErrDuplicate)
	must(t, s.CreateSAMLCertificate(ctx, cert(other.ID, first.ActivateTime)))
	wantErr(t, "a certificate of a realm that is not there", s.CreateSAMLCertificate(ctx, cert("no-realm", now)), latchkey.ErrNoParent)
	got, err := s.ListSAMLCertificates(ctx, r.TenantID, r.ID)
	must(t, err)
	equal(t, "the realm's certificates", got, []saml.Certificate{first, next})
	wantErr(t, "deleting through another realm", s.DeleteSAMLCertificate(ctx, r.TenantID, other.ID, first.ID), latchkey.ErrNotFound)
	must(t, s.Update(ctx, func(tx store.Tx) error { return tx.DeleteSAMLCertificate(ctx, r.TenantID, r.ID, first.ID) }))
	got, err = s.ListSAMLCertificates(ctx, r.TenantID, r.ID)
	must(t, err)
	equal(t, "after the delete", got, []saml.Certificate{next})
}

// testSAMLRequests: a SAML sign-in round-trips within its realm; a second
// one with the same request id for the config is a duplicate (a replayed
// AuthnRequest), for another config it is not; it is spent once, never
// after it expired; expired ones are deleted.
func testSAMLRequests(t *testing.T, s store.Store) {
	ctx := t.Context()
	r, other := newRealm(t, s), newRealm(t, s)
	req := func(config, requestID string, expire time.Time) saml.Request {
		return saml.Request{ID: latchkey.NewUUID(), TenantID: r.TenantID, RealmID: r.ID, ConfigID: config, RequestID: requestID,
			ACSURL: "https://sp.example/acs", RelayState: "rs", Challenge: "c", ForceAuthn: true, CreateTime: now, ExpireTime: expire}
	}
	a := req("config-1", "id-1", now.Add(10*time.Minute))
	must(t, s.SaveSAMLRequest(ctx, a, nil))
	wantErr(t, "the same AuthnRequest again", s.SaveSAMLRequest(ctx, req("config-1", "id-1", now.Add(time.Hour)), nil), latchkey.ErrDuplicate)
	b := req("config-2", "id-1", now.Add(time.Minute))
	must(t, s.SaveSAMLRequest(ctx, b, nil))
	got, err := s.GetSAMLRequest(ctx, r.TenantID, r.ID, a.ID)
	must(t, err)
	equal(t, "stored request", got, a)
	_, err = s.GetSAMLRequest(ctx, r.TenantID, other.ID, a.ID)
	wantErr(t, "a request of another realm", err, latchkey.ErrNotFound)

	must(t, s.SpendSAMLRequest(ctx, a.ID, now))
	wantErr(t, "spending it again", s.SpendSAMLRequest(ctx, a.ID, now), latchkey.ErrNotFound)
	got, err = s.GetSAMLRequest(ctx, r.TenantID, r.ID, a.ID)
	must(t, err)
	if !got.Spent {
		t.Error("the request is not spent")
	}
	wantErr(t, "spending an expired request", s.SpendSAMLRequest(ctx, b.ID, now.Add(time.Minute)), latchkey.ErrNotFound)
	n, err := s.DeleteExpiredSAMLRequests(ctx, now.Add(5*time.Minute))
	must(t, err)
	if n != 1 {
		t.Errorf("deleted %d expired requests, want 1", n)
	}
	_, err = s.GetSAMLRequest(ctx, r.TenantID, r.ID, b.ID)
	wantErr(t, "an expired request after the sweep", err, latchkey.ErrNotFound)
	_, err = s.GetSAMLRequest(ctx, r.TenantID, r.ID, a.ID)
	must(t, err)
}

// testSAMLRequestsTogether: requests that concurrent sign-ins save, some
// with the event of their Response, are stored with exactly their events;
// of the saves of one AuthnRequest, one succeeds and the others are
// duplicates (replays), without failing the others' saves.
func testSAMLRequestsTogether(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	const n = 40
	var wg sync.WaitGroup
	outcomes := make([]error, 2*n)
	saved := make([]saml.Request, 2*n)
	for i := range 2 * n {
		// Requests i and i+n carry the same AuthnRequest ID.
		saved[i] = saml.Request{ID: latchkey.NewUUID(), TenantID: r.TenantID, RealmID: r.ID, ConfigID: "config-1",
			RequestID: fmt.Sprintf("id-%d", i%n), ACSURL: "https://sp.example/acs", Spent: i%2 == 0, CreateTime: now, ExpireTime: now.Add(time.Hour)}
		var e *audit.Event
		if saved[i].Spent {
			ev := newEvent(r.TenantID, r.ID, i, "sign_in.allowed")
			e = &ev
		}
		wg.Go(func() { outcomes[i] = s.SaveSAMLRequest(ctx, saved[i], e) })
	}
	wg.Wait()
	var events int
	for i := range n {
		a, b := outcomes[i], outcomes[i+n]
		if (a == nil) == (b == nil) || !errors.Is(cmp.Or(a, b), latchkey.ErrDuplicate) {
			t.Fatalf("the two saves of id-%d: %v, %v; want one nil and one latchkey.ErrDuplicate", i, a, b)
		}
		kept, lost := saved[i], saved[i+n]
		if a != nil {
			kept, lost = lost, kept
		}
		got, err := s.GetSAMLRequest(ctx, r.TenantID, r.ID, kept.ID)
		must(t, err)
		equal(t, "a saved request", got, kept)
		_, err = s.GetSAMLRequest(ctx, r.TenantID, r.ID, lost.ID)
		wantErr(t, "a replay", err, latchkey.ErrNotFound)
		if kept.Spent {
			events++
		}
	}
	list, total, err := s.Audit().ListEvents(ctx, r.TenantID, r.ID, all(nil))
	must(t, err)
	if total != events || len(list) != events {
		t.Errorf("%d events (%d listed) for %d requests answered at once", total, len(list), events)
	}
}
