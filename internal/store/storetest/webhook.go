package storetest

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/delivery"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/webhook"
)

// testWebhooks: webhooks round-trip within their realm; recording events
// queues, in the same transaction, one delivery per enabled webhook of the
// event's realm that subscribes to it (none on a rollback); the delivery
// log lists a webhook's deliveries newest first; only a finished delivery
// is redelivered.
func testWebhooks(t *testing.T, s store.Store) {
	ctx := t.Context()
	r, other := newRealm(t, s), newRealm(t, s)
	hook := func(realmID, url string, enabled bool, types ...string) webhook.Webhook {
		w := webhook.Webhook{ID: latchkey.NewUUID(), TenantID: r.TenantID, RealmID: realmID, DisplayName: "H", URL: url,
			EventTypes: types, Enabled: enabled, SecretSealed: "sealed", CreateTime: now, UpdateTime: now}
		must(t, s.CreateWebhook(ctx, w))
		return w
	}
	a := hook(r.ID, "https://a.example/", true, "identity.*")
	off := hook(r.ID, "https://off.example/", false, "*")
	elsewhere := hook(other.ID, "https://other.example/", true, "*")
	got, err := s.GetWebhook(ctx, r.TenantID, r.ID, a.ID)
	must(t, err)
	equal(t, "stored webhook", got, a)
	_, err = s.GetWebhook(ctx, r.TenantID, other.ID, a.ID)
	wantErr(t, "a webhook of another realm", err, latchkey.ErrNotFound)
	a.Failing, a.UpdateTime = true, now.Add(time.Second)
	must(t, s.UpdateWebhook(ctx, a))
	got, err = s.GetWebhook(ctx, r.TenantID, r.ID, a.ID)
	must(t, err)
	equal(t, "updated webhook", got, a)
	list, err := s.ListWebhooks(ctx, r.TenantID, r.ID)
	must(t, err)
	if len(list) != 2 || list[0].ID == list[1].ID || (list[0].ID != a.ID && list[1].ID != a.ID) || (list[0].ID != off.ID && list[1].ID != off.ID) {
		t.Errorf("webhooks of the realm: %+v", list)
	}

	record := func(action string, at time.Time, fail error) {
		err := s.Update(ctx, func(tx store.Tx) error {
			if err := tx.RecordEvent(ctx, audit.NewAt(ctx, at, r.TenantID, r.ID, action, "Identity", "i")); err != nil {
				return err
			}
			return fail
		})
		if !errors.Is(err, fail) {
			t.Fatalf("record %s: %v", action, err)
		}
	}
	rollback := errors.New("rolled back")
	record("identity.create", now, nil)
	record("identity.update", now.Add(time.Second), nil)
	record("identity.delete", now.Add(2*time.Second), rollback)
	record("group.create", now.Add(3*time.Second), nil)
	ds, err := s.ListDeliveries(ctx, webhook.Ref(a.ID), 10)
	must(t, err)
	if len(ds) != 2 || !ds[0].CreateTime.After(ds[1].CreateTime) || ds[0].URL != a.URL || ds[0].Kind != webhook.Kind {
		t.Fatalf("deliveries of the webhook, newest first: %+v", ds)
	}
	if ds, err := s.ListDeliveries(ctx, webhook.Ref(off.ID), 10); err != nil || len(ds) != 0 {
		t.Errorf("a disabled webhook got %+v (%v)", ds, err)
	}

	wantErr(t, "redeliver a pending delivery", s.RedeliverDelivery(ctx, ds[0].ID, now), latchkey.ErrNotFound)
	claimed := claimDeliveries(t, s, "node", now.Add(time.Hour), 10)
	for _, d := range claimed {
		must(t, s.Delivery().FinishAttempt(ctx, d.ID, "node", delivery.Outcome{State: delivery.StateFailed, Time: now, Status: 400}))
	}
	later := now.Add(2 * time.Hour)
	must(t, s.RedeliverDelivery(ctx, ds[0].ID, later))
	d := getDelivery(t, s, ds[0].ID)
	if d.State != delivery.StatePending || d.Attempts != 0 || !d.NextAttemptTime.Equal(later) {
		t.Errorf("redelivered: %+v", d)
	}

	// Events of two realms and of none, recorded together: each realm's
	// webhooks get theirs.
	at := now.Add(5 * time.Second)
	must(t, s.Update(ctx, func(tx store.Tx) error {
		return tx.RecordEvents(ctx, []audit.Event{
			audit.NewAt(ctx, at, r.TenantID, r.ID, "identity.create", "Identity", "j"),
			audit.NewAt(ctx, at, r.TenantID, other.ID, "group.create", "Group", "g"),
			audit.NewAt(ctx, at, r.TenantID, "", "realm.create", "Realm", other.ID),
			audit.NewAt(ctx, at, r.TenantID, r.ID, "group.create", "Group", "h"),
		})
	}))
	ds, err = s.ListDeliveries(ctx, webhook.Ref(a.ID), 10)
	must(t, err)
	if fresh := slices.IndexFunc(ds, func(d delivery.Delivery) bool { return d.CreateTime.Equal(at) }); len(ds) != 3 || fresh < 0 ||
		!strings.Contains(ds[fresh].Payload, `"identity.create"`) {
		t.Errorf("deliveries of the webhook (identity.*) after events of two realms: %+v", ds)
	}
	if ds, err := s.ListDeliveries(ctx, webhook.Ref(elsewhere.ID), 10); err != nil || len(ds) != 1 || ds[0].URL != elsewhere.URL {
		t.Errorf("deliveries of the other realm's webhook: %+v (%v)", ds, err)
	}

	must(t, s.DeleteWebhook(ctx, r.TenantID, r.ID, a.ID))
	wantErr(t, "delete again", s.DeleteWebhook(ctx, r.TenantID, r.ID, a.ID), latchkey.ErrNotFound)
}
