package webhook

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/delivery"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/nodecache"
	"github.com/latchkey/latchkey/internal/secretbox"
)

// Service manages webhooks and makes their deliveries. Every change
// records an audit event in its transaction.
type Service struct {
	store Store
	box   *secretbox.Box
	Clock latchkey.Clock
	// AllowPrivate allows targets on loopback, private and link-local
	// addresses, and http to loopback (--webhook-allow-private).
	AllowPrivate bool
	// Resolver resolves targets' hosts when a webhook is saved; nil is
	// net.DefaultResolver.
	Resolver *net.Resolver
	// Wake, when set, is called after a delivery was queued (the worker's Wake).
	Wake   func()
	Logger *slog.Logger
	// signers are the webhooks Request read in the last nodecache.TTL, by
	// tenant, realm and id, with their secrets unsealed: a burst of events
	// is signed without a read and an unseal each. A change made on this
	// node clears them; one made on another is seen here within the TTL.
	signers nodecache.Cache[signer]
}

// signer is a webhook as Request uses it.
type signer struct {
	enabled     bool
	url, secret string
}

// NewService returns a Service over store whose secrets box seals.
func NewService(store Store, box *secretbox.Box) *Service {
	return &Service{store: store, box: box, Resolver: net.DefaultResolver, Logger: slog.New(slog.DiscardHandler)}
}

func notFound(id string) error { return latchkey.NotFound("Webhook", id, "webhook not found") }

func record(ctx context.Context, tx Tx, w Webhook, now time.Time, action string) error {
	return tx.RecordEvent(ctx, audit.NewAt(ctx, now, w.TenantID, w.RealmID, action, "Webhook", w.ID))
}

// newSecret returns a signing secret: "whsec_" and 32 random bytes in base64.
func newSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

func (s *Service) check(ctx context.Context, w Webhook) error {
	v := validate(w)
	if w.URL == "" {
		v.Add("url", "provided url must not be empty")
	} else if p := checkURL(ctx, s.Resolver, w.URL, s.AllowPrivate); p != "" {
		v.Add("url", p)
	}
	return v.Err()
}

// Create adds a webhook to a realm, enabled unless p says otherwise, and
// returns it with its signing secret, which is shown only here.
func (s *Service) Create(ctx context.Context, tenantID, realmID string, p Patch) (w Webhook, secret string, err error) {
	now := s.Clock.Now()
	w = Webhook{ID: latchkey.NewUUID(), TenantID: tenantID, RealmID: realmID, Enabled: true, CreateTime: now, UpdateTime: now}
	p.apply(&w)
	if err := s.check(ctx, w); err != nil {
		return Webhook{}, "", err
	}
	secret = newSecret()
	w.SecretSealed = s.box.Seal([]byte(secret))
	err = s.store.Update(ctx, func(tx Tx) error {
		if _, err := directory.LookupRealm(ctx, tx, tenantID, realmID); err != nil {
			return err
		}
		if err := tx.CreateWebhook(ctx, w); err != nil {
			return err
		}
		return record(ctx, tx, w, now, "webhook.create")
	})
	if err != nil {
		return Webhook{}, "", err
	}
	return w, secret, nil
}

// List returns a realm's webhooks.
func (s *Service) List(ctx context.Context, tenantID, realmID string) ([]Webhook, error) {
	if _, err := directory.LookupRealm(ctx, s.store, tenantID, realmID); err != nil {
		return nil, err
	}
	return s.store.ListWebhooks(ctx, tenantID, realmID)
}

// Get returns a webhook of a realm.
func (s *Service) Get(ctx context.Context, tenantID, realmID, id string) (Webhook, error) {
	w, err := s.store.GetWebhook(ctx, tenantID, realmID, id)
	return w, latchkey.IfNotFound(err, notFound, id)
}

// change applies fn to a webhook in a transaction that records action.
func (s *Service) change(ctx context.Context, tenantID, realmID, id, action string, fn func(tx Tx, w *Webhook) error) (w Webhook, err error) {
	err = s.store.Update(ctx, func(tx Tx) error {
		if w, err = tx.GetWebhook(ctx, tenantID, realmID, id); err != nil {
			return latchkey.IfNotFound(err, notFound, id)
		}
		old := w
		if err := fn(tx, &w); err != nil {
			return err
		}
		w.UpdateTime = s.Clock.Now()
		if err := tx.UpdateWebhook(ctx, w); err != nil {
			return err
		}
		e := audit.NewAt(ctx, w.UpdateTime, w.TenantID, w.RealmID, action, "Webhook", w.ID).Changed(w.DisplayName, old, w)
		if w.SecretSealed != old.SecretSealed { // never in the JSON: only that it changed
			if e.Changes == nil {
				e.Changes = map[string]audit.Change{}
			}
			e.Changes["secret"] = audit.Change{Redacted: true}
		}
		return tx.RecordEvent(ctx, e)
	})
	s.signers.Clear()
	return w, err
}

// Update changes a webhook; enabling it clears its failing state.
func (s *Service) Update(ctx context.Context, tenantID, realmID, id string, p Patch) (Webhook, error) {
	return s.change(ctx, tenantID, realmID, id, "webhook.update", func(_ Tx, w *Webhook) error {
		p.apply(w)
		return s.check(ctx, *w)
	})
}

// RotateSecret gives a webhook a new signing secret, returned only here;
// deliveries from now on are signed with it.
func (s *Service) RotateSecret(ctx context.Context, tenantID, realmID, id string) (Webhook, string, error) {
	secret := newSecret()
	w, err := s.change(ctx, tenantID, realmID, id, "webhook.rotate_secret", func(_ Tx, w *Webhook) error {
		w.SecretSealed = s.box.Seal([]byte(secret))
		return nil
	})
	if err != nil {
		return Webhook{}, "", err
	}
	return w, secret, nil
}

// Delete removes a webhook; its pending deliveries are not sent.
func (s *Service) Delete(ctx context.Context, tenantID, realmID, id string) error {
	err := s.store.Update(ctx, func(tx Tx) error {
		w, err := tx.GetWebhook(ctx, tenantID, realmID, id)
		if err != nil {
			return latchkey.IfNotFound(err, notFound, id)
		}
		if err := tx.DeleteWebhook(ctx, tenantID, realmID, id); err != nil {
			return err
		}
		return record(ctx, tx, w, s.Clock.Now(), "webhook.delete")
	})
	s.signers.Clear()
	return err
}

// MaxDeliveries is how many deliveries Deliveries lists.
const MaxDeliveries = 100

// Deliveries returns a webhook's latest deliveries, newest first.
func (s *Service) Deliveries(ctx context.Context, tenantID, realmID, id string) ([]delivery.Delivery, error) {
	if _, err := s.Get(ctx, tenantID, realmID, id); err != nil {
		return nil, err
	}
	return s.store.ListDeliveries(ctx, Ref(id), MaxDeliveries)
}

func deliveryNotFound(id string) error {
	return latchkey.NotFound("Delivery", id, "delivery not found")
}

// Redeliver makes a delivered or failed delivery of a webhook due again now,
// with the same webhook-id (receivers may deduplicate on it). A pending
// one is a conflict: it is already going to be sent.
func (s *Service) Redeliver(ctx context.Context, tenantID, realmID, id, deliveryID string) (d delivery.Delivery, err error) {
	err = s.store.Update(ctx, func(tx Tx) error {
		w, err := tx.GetWebhook(ctx, tenantID, realmID, id)
		if err != nil {
			return latchkey.IfNotFound(err, notFound, id)
		}
		if d, err = tx.GetDelivery(ctx, deliveryID); err != nil || d.Ref != Ref(w.ID) {
			return deliveryNotFound(deliveryID)
		}
		if d.State == delivery.StatePending {
			return latchkey.Errorf(latchkey.CodeConflict, "the delivery is pending: it will be sent")
		}
		if err := tx.RedeliverDelivery(ctx, d.ID, s.Clock.Now()); err != nil {
			return err
		}
		d, err = tx.GetDelivery(ctx, d.ID)
		return err
	})
	if err == nil && s.Wake != nil {
		s.Wake()
	}
	return d, err
}

// Test queues a "webhook.test" message to a webhook, whether or not it
// subscribes to that type; its data is the event of this test.
func (s *Service) Test(ctx context.Context, tenantID, realmID, id string) (d delivery.Delivery, err error) {
	err = s.store.Update(ctx, func(tx Tx) error {
		w, err := tx.GetWebhook(ctx, tenantID, realmID, id)
		if err != nil {
			return latchkey.IfNotFound(err, notFound, id)
		}
		now := s.Clock.Now()
		e := audit.NewAt(ctx, now, tenantID, realmID, "webhook.test", "Webhook", w.ID)
		w.Enabled, w.EventTypes = true, []string{"webhook.test"}
		ds, err := Deliveries([]Webhook{w}, e, now)
		if err != nil {
			return err
		}
		d = ds[0]
		return tx.EnqueueDelivery(ctx, d)
	})
	if err == nil && s.Wake != nil {
		s.Wake()
	}
	return d, err
}

// Request is the delivery.Kind of webhooks: the queued body with the
// Standard Webhooks headers, signed now with the webhook's current secret.
// A delivery whose webhook is gone, disabled or has another URL now is not
// sent (latchkey.ErrNotFound).
func (s *Service) Request(ctx context.Context, d delivery.Delivery, now time.Time) (map[string]string, []byte, error) {
	w, err := s.signer(ctx, d.TenantID, d.RealmID, d.Ref[len(Ref("")):])
	if err == nil && (!w.enabled || w.url != d.URL) {
		err = latchkey.ErrNotFound
	}
	if err != nil {
		return nil, nil, fmt.Errorf("enabled webhook with that URL: %w", err)
	}
	body := []byte(d.Payload)
	sig, err := Sign(w.secret, d.ID, now, body)
	if err != nil {
		return nil, nil, err
	}
	return map[string]string{
		"Content-Type":      "application/json",
		"Webhook-Id":        d.ID,
		"Webhook-Timestamp": strconv.FormatInt(now.Unix(), 10),
		"Webhook-Signature": sig,
	}, body, nil
}

// signer returns a webhook as read in the last nodecache.TTL, or reads it.
func (s *Service) signer(ctx context.Context, tenantID, realmID, id string) (signer, error) {
	key, now := tenantID+"/"+realmID+"/"+id, s.Clock.Now()
	if v, ok := s.signers.Get(key, now); ok {
		return v, nil
	}
	w, err := s.store.GetWebhook(ctx, tenantID, realmID, id)
	if err != nil {
		return signer{}, err
	}
	secret, err := s.box.Open(w.SecretSealed)
	if err != nil {
		return signer{}, err
	}
	v := signer{enabled: w.Enabled, url: w.URL, secret: string(secret)}
	s.signers.Put(key, v, now)
	return v, nil
}

// Failed is told of a delivery that failed for good: a 410 answer disables
// its webhook ("webhook.disable"); any other failure marks it failing
// ("webhook.failing"), until it is enabled again. A webhook that is gone,
// disabled, or has another URL since the delivery was queued is left as it is.
func (s *Service) Failed(ctx context.Context, d delivery.Delivery, o delivery.Outcome) {
	gone := o.Status == http.StatusGone
	_, err := s.change(ctx, d.TenantID, d.RealmID, d.Ref[len(Ref("")):], map[bool]string{true: "webhook.disable", false: "webhook.failing"}[gone],
		func(_ Tx, w *Webhook) error {
			// A delivery to a URL the webhook no longer has (not sent) says nothing of it.
			if !w.Enabled || w.URL != d.URL || (w.Failing && !gone) {
				return errUnchanged
			}
			w.Enabled, w.Failing = !gone, !gone
			return nil
		})
	if err != nil && !errors.Is(err, errUnchanged) && latchkey.ErrorCode(err) != latchkey.CodeNotFound {
		s.Logger.Warn("mark webhook failing", "webhook_ref", d.Ref, "err", err)
	}
}

var errUnchanged = errors.New("unchanged")
