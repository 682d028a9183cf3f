package console_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/server"
)

// TestWebhooks: an administrator creates a webhook (its secret shown once),
// sees a change delivered in its delivery log, sends a test message,
// redelivers, is told what is wrong with a bad URL, and deletes it.
func TestWebhooks(t *testing.T) {
	forEachEngineWith(t, func(cfg *server.Config) { cfg.WebhookAllowPrivate = true }, func(t *testing.T, e *env) {
		arrived := make(chan string, 100)
		rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			arrived <- r.Header.Get("webhook-id") + " " + string(b)
		}))
		t.Cleanup(rc.Close)
		next := func() string {
			select {
			case s := <-arrived:
				return s
			case <-time.After(10 * time.Second):
				t.Fatal("no delivery in 10 s")
				return ""
			}
		}
		realm := e.api(t, "POST", "/realms", map[string]any{"realm": map[string]any{"display_name": "Hooks", "classification": "SECURE_CUSTOMER"}})["id"].(string)
		base := "/console/realms/" + realm + "/webhooks"
		wantPage(t, e.get(t, base), http.StatusOK, "This realm has no webhooks yet", "Create webhook")
		wantPage(t, e.get(t, base+"/new"), http.StatusOK, "identity.*")

		p := e.post(t, base, url.Values{"display_name": {"CRM"}, "url": {"ftp://crm.example/"}, "event_types": {"identity.*"}, "enabled": {"true"}})
		wantPage(t, p, http.StatusUnprocessableEntity, "must be an https URL")

		p = e.post(t, base, url.Values{"display_name": {"CRM"}, "url": {rc.URL + "/in"}, "event_types": {"identity.*\ngroup.create"}, "enabled": {"true"}})
		wantPage(t, p, http.StatusCreated, "shown only this once", "whsec_", "No deliveries yet")
		id := regexp.MustCompile(`/webhooks/([0-9a-f-]{36})/test`).FindStringSubmatch(p.body)
		if id == nil {
			t.Fatalf("no webhook id on %s", excerpt(p.body))
		}
		hook := base + "/" + id[1]
		if page := e.get(t, hook); strings.Contains(page.body, "whsec_") {
			t.Error("the secret is shown again")
		}
		wantPage(t, e.get(t, base), http.StatusOK, "CRM", rc.URL+"/in", "group.create", "Enabled")

		e.api(t, "POST", "/realms/"+realm+"/identities", map[string]any{"identity": map[string]any{"display_name": "Ada",
			"traits": map[string]any{"type": "traits_v0", "username": "ada"}}})
		msg := strings.Fields(next())[0]
		var page page
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if page = e.get(t, hook); strings.Contains(page.body, "delivered") {
				break
			}
		}
		wantPage(t, page, http.StatusOK, msg, "delivered", "Redeliver")

		wantPage(t, e.follow(t, hook+"/deliveries/"+msg+"/redeliver", url.Values{}), http.StatusOK, "will be sent again")
		if again := strings.Fields(next())[0]; again != msg {
			t.Errorf("redelivered %s, want %s", again, msg)
		}
		wantPage(t, e.follow(t, hook+"/test", url.Values{}), http.StatusOK, "webhook.test message is on its way")
		if got := next(); !strings.Contains(got, `"type":"webhook.test"`) {
			t.Errorf("test message %s", got)
		}
		wantPage(t, e.post(t, hook+"/rotate-secret", url.Values{}), http.StatusOK, "shown only this once", "whsec_")

		wantPage(t, e.follow(t, hook, url.Values{"display_name": {"CRM paused"}, "url": {rc.URL + "/in"}, "event_types": {"*"}, "enabled": {"false"}}),
			http.StatusOK, "Saved.", "CRM paused")
		wantPage(t, e.get(t, base), http.StatusOK, "Disabled")

		wantPage(t, e.post(t, hook+"/delete", url.Values{"confirm": {"CRM paused"}}), http.StatusSeeOther)
		wantPage(t, e.get(t, base), http.StatusOK, "This realm has no webhooks yet")
		wantPage(t, e.get(t, hook), http.StatusNotFound)
	})
}
