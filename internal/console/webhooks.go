package console

import (
	"net/http"
	"strings"

	"github.com/latchkey/latchkey/internal/delivery"
	"github.com/latchkey/latchkey/internal/webhook"
)

const webhookPrefix = realmPrefix + "/webhooks/{webhook}"

func (c *Console) webhookRoutes(mux *http.ServeMux) {
	c.handle(mux, "GET "+realmPrefix+"/webhooks", c.webhooks, "webhooks:read")
	c.handle(mux, "GET "+realmPrefix+"/webhooks/new", c.newWebhook, "webhooks:create")
	c.handle(mux, "POST "+realmPrefix+"/webhooks", c.createWebhook, "webhooks:create")
	c.handle(mux, "GET "+webhookPrefix, c.webhook, "webhooks:read")
	c.handle(mux, "POST "+webhookPrefix, c.updateWebhook, "webhooks:read", "webhooks:update")
	c.handle(mux, "POST "+webhookPrefix+"/test", c.testWebhook, "webhooks:read", "webhooks:update")
	c.handle(mux, "POST "+webhookPrefix+"/rotate-secret", c.rotateWebhookSecret, "webhooks:read", "webhooks:update")
	c.handle(mux, "POST "+webhookPrefix+"/deliveries/{delivery}/redeliver", c.redeliver, "webhooks:read", "webhooks:update")
	c.handle(mux, "GET "+webhookPrefix+"/delete", c.confirmDeleteWebhook, "webhooks:delete")
	c.handle(mux, "POST "+webhookPrefix+"/delete", c.deleteWebhook, "webhooks:delete")
}

var webhookFields = []string{"display_name", "url", "event_types", "enabled"}

// webhookView is the webhook page: its form, its delivery log, and its
// secret right after it was made or rotated. Without a webhook it is the
// form that creates one.
type webhookView struct {
	Webhook    webhook.Webhook
	Form       *form
	Secret     string
	Deliveries []delivery.Delivery
	Options    map[string][]option
}

var webhookOptions = map[string][]option{"enabled": {{"true", "Enabled: events are sent"}, {"false", "Disabled: nothing is sent"}}}

func webhookForm(w webhook.Webhook) *form {
	enabled := "false"
	if w.Enabled {
		enabled = "true"
	}
	return &form{Errors: map[string]string{}, Values: map[string]string{"display_name": w.DisplayName, "url": w.URL,
		"event_types": strings.Join(w.EventTypes, "\n"), "enabled": enabled}}
}

func webhookPatch(f *form) webhook.Patch {
	types, enabled := lines(f.Values["event_types"]), f.Values["enabled"] != "false"
	return webhook.Patch{DisplayName: ptr(f.Values["display_name"]), URL: ptr(f.Values["url"]), EventTypes: &types, Enabled: &enabled}
}

func (q *request) webhookPath(w webhook.Webhook, rest string) string {
	return q.realmPath("/webhooks/" + w.ID + rest)
}

func (q *request) pathWebhook() (webhook.Webhook, error) {
	return q.c.Webhooks.Get(q.Context(), q.tenantID, q.realm.ID, q.PathValue("webhook"))
}

func (c *Console) webhooks(q *request) error {
	hs, err := c.Webhooks.List(q.Context(), q.tenantID, q.realm.ID)
	if err != nil {
		return err
	}
	q.render(http.StatusOK, "webhooks.html", "Webhooks", "webhooks", hs)
	return nil
}

// showWebhook renders the page of w with its delivery log (none for a new one).
func (q *request) showWebhook(status int, w webhook.Webhook, f *form, secret string) error {
	v := webhookView{Webhook: w, Form: f, Secret: secret, Options: webhookOptions}
	title := w.DisplayName
	if w.ID == "" {
		title = "Create webhook"
	} else {
		var err error
		if v.Deliveries, err = q.c.Webhooks.Deliveries(q.Context(), q.tenantID, q.realm.ID, w.ID); err != nil {
			return err
		}
	}
	q.render(status, "webhook.html", title, "webhooks", v)
	return nil
}

func (c *Console) newWebhook(q *request) error {
	return q.showWebhook(http.StatusOK, webhook.Webhook{}, webhookForm(webhook.Webhook{Enabled: true, EventTypes: []string{"identity.*"}}), "")
}

// createWebhook shows the new webhook with its secret, once: no redirect,
// so that the secret is in no flash or history entry that can be reloaded.
func (c *Console) createWebhook(q *request) error {
	f := q.newForm(webhookFields...)
	w, secret, err := c.Webhooks.Create(q.Context(), q.tenantID, q.realm.ID, webhookPatch(f))
	if err != nil {
		if !f.refused(err, "") {
			return err
		}
		return q.showWebhook(http.StatusUnprocessableEntity, webhook.Webhook{}, f, "")
	}
	return q.showWebhook(http.StatusCreated, w, webhookForm(w), secret)
}

func (c *Console) webhook(q *request) error {
	w, err := q.pathWebhook()
	if err != nil {
		return err
	}
	return q.showWebhook(http.StatusOK, w, webhookForm(w), "")
}

func (c *Console) updateWebhook(q *request) error {
	f := q.newForm(webhookFields...)
	w, err := c.Webhooks.Update(q.Context(), q.tenantID, q.realm.ID, q.PathValue("webhook"), webhookPatch(f))
	if err != nil {
		current, gerr := q.pathWebhook()
		if gerr != nil || !f.refused(err, "") {
			return err
		}
		return q.showWebhook(http.StatusUnprocessableEntity, current, f, "")
	}
	q.redirect(q.webhookPath(w, ""), "Saved.")
	return nil
}

func (c *Console) testWebhook(q *request) error {
	w, err := q.pathWebhook()
	if err != nil {
		return err
	}
	if _, err := c.Webhooks.Test(q.Context(), q.tenantID, q.realm.ID, w.ID); err != nil {
		return err
	}
	q.redirect(q.webhookPath(w, ""), "A webhook.test message is on its way; its delivery is listed below.")
	return nil
}

func (c *Console) rotateWebhookSecret(q *request) error {
	w, secret, err := c.Webhooks.RotateSecret(q.Context(), q.tenantID, q.realm.ID, q.PathValue("webhook"))
	if err != nil {
		return err
	}
	return q.showWebhook(http.StatusOK, w, webhookForm(w), secret)
}

func (c *Console) redeliver(q *request) error {
	w, err := q.pathWebhook()
	if err != nil {
		return err
	}
	if _, err := c.Webhooks.Redeliver(q.Context(), q.tenantID, q.realm.ID, w.ID, q.PathValue("delivery")); err != nil {
		return err
	}
	q.redirect(q.webhookPath(w, ""), "Delivery "+q.PathValue("delivery")+" will be sent again.")
	return nil
}

func (q *request) webhookDeletion(w webhook.Webhook) confirmation {
	return confirmation{Title: "Delete " + w.DisplayName + "?", Name: w.DisplayName, Section: "webhooks",
		Warning: "This deletes the webhook " + w.DisplayName + ": its pending deliveries are not sent. It cannot be undone.",
		Action:  q.webhookPath(w, "/delete"), Button: "Delete webhook", Cancel: q.webhookPath(w, "")}
}

func (c *Console) confirmDeleteWebhook(q *request) error {
	w, err := q.pathWebhook()
	if err != nil {
		return err
	}
	q.confirm(http.StatusOK, q.webhookDeletion(w))
	return nil
}

func (c *Console) deleteWebhook(q *request) error {
	w, err := q.pathWebhook()
	if err != nil {
		return err
	}
	done, err := q.confirmed(q.webhookDeletion(w), func() error {
		return c.Webhooks.Delete(q.Context(), q.tenantID, q.realm.ID, w.ID)
	})
	if done {
		q.redirect(q.realmPath("/webhooks"), "Webhook "+w.DisplayName+" deleted.")
	}
	return err
}
