package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/delivery"
	"github.com/latchkey/latchkey/internal/directory"
)

// Kind names webhook deliveries in the outbox; Service.Request makes them.
const Kind = "webhook"

// PerTarget is how many webhook deliveries a node sends to one target at
// once (its delivery.Worker's PerTargetOf[Kind]): more than a back-channel
// logout's, as one receiver takes every event of a realm it subscribes to.
const PerTarget = 16

// Webhook is a realm's subscription of a URL to some of its events.
type Webhook struct {
	ID          string `json:"id"`
	TenantID    string `json:"tenant_id"`
	RealmID     string `json:"realm_id"`
	DisplayName string `json:"display_name"`
	URL         string `json:"url"`
	// EventTypes are actions ("identity.create"), prefixes ("identity.*")
	// or "*" for every event.
	EventTypes []string `json:"event_types"`
	Enabled    bool     `json:"enabled"`
	// Failing is set when a delivery failed for good, and cleared when the
	// webhook is enabled again by an update.
	Failing    bool      `json:"failing"`
	CreateTime time.Time `json:"create_time"`
	UpdateTime time.Time `json:"update_time"`
	// SecretSealed is the signing secret ("whsec_…") sealed by secretbox.
	SecretSealed string `json:"-"`
}

// Matches reports whether the webhook subscribes to action.
func (w Webhook) Matches(action string) bool {
	return slices.ContainsFunc(w.EventTypes, func(t string) bool {
		return t == "*" || t == action || (strings.HasSuffix(t, ".*") && strings.HasPrefix(action, t[:len(t)-1]))
	})
}

// Patch changes the fields it sets.
type Patch struct {
	DisplayName *string
	URL         *string
	EventTypes  *[]string
	Enabled     *bool
}

func (p Patch) apply(w *Webhook) {
	if p.DisplayName != nil {
		w.DisplayName = *p.DisplayName
	}
	if p.URL != nil {
		w.URL = *p.URL
	}
	if p.EventTypes != nil {
		w.EventTypes = *p.EventTypes
	}
	if p.Enabled != nil {
		w.Enabled = *p.Enabled
		if w.Enabled {
			w.Failing = false
		}
	}
}

var eventType = regexp.MustCompile(`^(\*|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\.\*)?)$`)

// validate checks the fields other than the URL's address (see checkURL).
func validate(w Webhook) latchkey.Violations {
	var v latchkey.Violations
	if p := directory.NameProblem(w.DisplayName, true, 100); p != "" {
		v.Add("display_name", p)
	}
	if len(w.EventTypes) == 0 || len(w.EventTypes) > 50 {
		v.Add("event_types", "must list 1 to 50 event types")
	}
	for _, t := range w.EventTypes {
		if !eventType.MatchString(t) {
			v.Add("event_types", `"`+t+`" is not an event type: an action such as "identity.create", a prefix such as "identity.*", or "*"`)
			break
		}
	}
	return v
}

// message is a delivery's body in the Standard Webhooks format.
type message struct {
	Type      string      `json:"type"`
	Timestamp time.Time   `json:"timestamp"`
	Data      audit.Event `json:"data"`
}

// Deliveries returns the deliveries of e to those of hooks that are
// enabled and subscribe to its action; the store queues them in the
// transaction that records e. The body is made now, the signature at each
// attempt.
func Deliveries(hooks []Webhook, e audit.Event, now time.Time) ([]delivery.Delivery, error) {
	var out []delivery.Delivery
	var body []byte
	for _, h := range hooks {
		if !h.Enabled || h.RealmID != e.RealmID || !h.Matches(e.Action) {
			continue
		}
		if body == nil {
			var err error
			if body, err = json.Marshal(message{Type: e.Action, Timestamp: e.CreateTime, Data: e}); err != nil {
				return nil, err
			}
		}
		out = append(out, newDelivery(h, now, string(body)))
	}
	return out, nil
}

func newDelivery(h Webhook, now time.Time, body string) delivery.Delivery {
	d := delivery.New(now, h.TenantID, h.RealmID, Kind, Ref(h.ID), h.URL, body)
	d.ID = "msg_" + d.ID
	return d
}

// Ref is the delivery.Delivery Ref of a webhook's deliveries.
func Ref(webhookID string) string { return "webhook:" + webhookID }

// Sign returns the webhook-signature header of a message with secret
// ("whsec_" + base64): "v1," and the base64 HMAC-SHA256, keyed by the
// decoded secret, of "{id}.{timestamp}.{body}".
func Sign(secret, id string, timestamp time.Time, body []byte) (string, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + strconv.FormatInt(timestamp.Unix(), 10) + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// Tx is what webhooks need inside one transaction.
type Tx interface {
	delivery.Tx
	// CreateWebhook returns latchkey.ErrNoParent when the realm is gone.
	CreateWebhook(ctx context.Context, w Webhook) error
	// GetWebhook returns latchkey.ErrNotFound when the realm has no such webhook.
	GetWebhook(ctx context.Context, tenantID, realmID, id string) (Webhook, error)
	// ListWebhooks lists a realm's webhooks, oldest first.
	ListWebhooks(ctx context.Context, tenantID, realmID string) ([]Webhook, error)
	// UpdateWebhook and DeleteWebhook return latchkey.ErrNotFound for an unknown webhook.
	UpdateWebhook(ctx context.Context, w Webhook) error
	DeleteWebhook(ctx context.Context, tenantID, realmID, id string) error
	// ListDeliveries returns up to limit deliveries whose Ref is ref, newest first.
	ListDeliveries(ctx context.Context, ref string, limit int) ([]delivery.Delivery, error)
	// RedeliverDelivery makes a delivery that is not pending due again at
	// now, with no attempts; latchkey.ErrNotFound when there is none such.
	RedeliverDelivery(ctx context.Context, id string, now time.Time) error
	GetDelivery(ctx context.Context, id string) (delivery.Delivery, error)
	GetRealm(ctx context.Context, tenantID, id string) (directory.Realm, error)
	RecordEvent(ctx context.Context, e audit.Event) error
}

// Store is the webhooks.
type Store interface {
	Tx
	// Update runs fn in one read-write transaction, committed when fn returns nil.
	Update(ctx context.Context, fn func(Tx) error) error
}
