package httpapi_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/testenv"
	"github.com/latchkey/latchkey/internal/webhook"
)

// TestWebhooks: a realm's webhooks through the API (the secret shown only on
// create and rotation), a change delivered signed to a real receiver and
// listed in the delivery log, redelivery, test messages, and who may call.
func TestWebhooks(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(cfg *server.Config) { cfg.WebhookAllowPrivate = true }, func(t *testing.T, e *env) {
		type got struct {
			header http.Header
			body   string
		}
		arrived := make(chan got, 100)
		rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			arrived <- got{r.Header.Clone(), string(b)}
		}))
		t.Cleanup(rc.Close)
		next := func(t *testing.T) got {
			t.Helper()
			select {
			case g := <-arrived:
				return g
			case <-time.After(10 * time.Second):
				t.Fatal("no delivery in 10 s")
				return got{}
			}
		}
		verify := func(t *testing.T, secret string, g got, wantType string) {
			t.Helper()
			ts, _ := strconv.ParseInt(g.header.Get("webhook-timestamp"), 10, 64)
			sig, err := webhook.Sign(secret, g.header.Get("webhook-id"), time.Unix(ts, 0), []byte(g.body))
			if err != nil || sig != g.header.Get("webhook-signature") || !strings.Contains(g.body, `"type":"`+wantType+`"`) {
				t.Errorf("delivery %v %s: signature %s (%v), want type %s", g.header, g.body, sig, err, wantType)
			}
		}

		realm := newRealm(t, e.api, "Hooked")
		hooks := "/realms/" + realm + "/webhooks"
		created := e.api.post(t, hooks, map[string]any{"webhook": map[string]any{
			"display_name": "CRM sync", "url": rc.URL + "/in", "event_types": []string{"identity.*"}}})
		assertKeys(t, created, "id", "tenant_id", "realm_id", "display_name", "url", "event_types", "enabled", "failing",
			"create_time", "update_time", "secret")
		id, secret := str(t, created, "id"), str(t, created, "secret")
		if !strings.HasPrefix(secret, "whsec_") || created["enabled"] != true || created["failing"] != false {
			t.Errorf("created %v", created)
		}
		hook := hooks + "/" + id
		fetched := e.api.get(t, hook)
		if _, ok := fetched["secret"]; ok || fetched["url"] != rc.URL+"/in" {
			t.Errorf("fetched %v: the secret is shown only once", fetched)
		}
		if l := e.api.get(t, hooks); num(t, l, "total_size") != 1 || items(t, l, "webhooks")[0]["id"] != id {
			t.Errorf("list %v", l)
		}

		ada := str(t, newIdentity(t, e.api, realm, "ada"), "id")
		g := next(t)
		verify(t, secret, g, "identity.create")
		if !strings.Contains(g.body, ada) {
			t.Errorf("delivery %s does not name the identity %s", g.body, ada)
		}
		var log []map[string]any
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if log = items(t, e.api.get(t, hook+"/deliveries"), "deliveries"); len(log) == 1 && log[0]["status"] == "delivered" {
				break
			}
		}
		if len(log) != 1 || log[0]["id"] != g.header.Get("webhook-id") || log[0]["type"] != "identity.create" ||
			log[0]["attempts"] != 1.0 || log[0]["last_status_code"] != 200.0 || log[0]["last_attempt_time"] == nil {
			t.Errorf("delivery log %v", log)
		}

		redelivered := e.api.post(t, hook+"/deliveries/"+str(t, log[0], "id")+":redeliver", nil)
		if redelivered["status"] != "pending" {
			t.Errorf("redelivered %v", redelivered)
		}
		if again := next(t); again.header.Get("webhook-id") != g.header.Get("webhook-id") {
			t.Errorf("redelivery under id %s", again.header.Get("webhook-id"))
		}

		rotated := e.api.post(t, hook+":rotateSecret", nil)
		newSecret := str(t, rotated, "secret")
		if newSecret == secret {
			t.Error("rotation kept the secret")
		}
		e.api.post(t, hook+":test", nil)
		verify(t, newSecret, next(t), "webhook.test")

		patched := e.api.patch(t, hook, map[string]any{"webhook": map[string]any{"enabled": false, "display_name": "Paused"}})
		if patched["enabled"] != false || patched["display_name"] != "Paused" || patched["url"] != rc.URL+"/in" {
			t.Errorf("patched %v", patched)
		}
		newIdentity(t, e.api, realm, "bob")

		assertInvalid(t, e.api.do(t, "POST", hooks, map[string]any{"webhook": map[string]any{
			"display_name": "X", "url": "ftp://example.com/", "event_types": []string{"*"}}}), "webhook.url", "must be an https URL")
		assertInvalid(t, e.api.do(t, "POST", hooks, map[string]any{"webhook": map[string]any{
			"display_name": "X", "url": "http://10.0.0.1/", "event_types": []string{"*"}}}), "webhook.url", "must be https…")
		assertInvalid(t, e.api.do(t, "PATCH", hook, map[string]any{"webhook": map[string]any{"event_types": []string{}}}),
			"webhook.event_types", "must list 1 to 50 event types")

		n := e.node
		other := newRealm(t, e.api, "Elsewhere")
		for what, r := range map[string]testenv.Response{
			"webhooks:read, create": e.api.withToken(n.Token(t, "webhooks:read")).do(t, "POST", hooks, map[string]any{"webhook": map[string]any{}}),
			"webhooks:read, update": e.api.withToken(n.Token(t, "webhooks:read")).do(t, "PATCH", hook, map[string]any{"webhook": map[string]any{}}),
			"webhooks:read, rotate": e.api.withToken(n.Token(t, "webhooks:read")).do(t, "POST", hook+":rotateSecret", nil),
			"webhooks:read, delete": e.api.withToken(n.Token(t, "webhooks:read")).do(t, "DELETE", hook, nil),
			"events:read, list":     e.api.withToken(n.Token(t, "events:read")).do(t, "GET", hooks, nil),
			"events:read, log":      e.api.withToken(n.Token(t, "events:read")).do(t, "GET", hook+"/deliveries", nil),
			"another tenant":        client{base: n.URL, tenant: "0001ffffffffffff", token: e.api.token}.do(t, "GET", hooks, nil),
		} {
			if r.Status != http.StatusForbidden {
				t.Errorf("%s: %d %s, want 403", what, r.Status, r.Body)
			}
		}
		if r := e.api.withToken(n.Token(t, "webhooks:read")).do(t, "GET", hook+"/deliveries", nil); r.Status != http.StatusOK {
			t.Errorf("webhooks:read, log: %d", r.Status)
		}
		assertNotFound(t, e.api.do(t, "GET", "/realms/"+other+"/webhooks/"+id, nil), "Webhook", id, "webhook not found")
		assertNotFound(t, e.api.do(t, "GET", "/realms/"+other+"/webhooks/"+id+"/deliveries", nil), "Webhook", id, "webhook not found")
		assertNotFound(t, e.api.do(t, "POST", "/realms/"+other+"/webhooks/"+id+":test", nil), "Webhook", id, "webhook not found")
		assertNotFound(t, e.api.do(t, "POST", hook+"/deliveries/nope:redeliver", nil), "Delivery", "nope", "delivery not found")

		e.api.del(t, hook)
		assertNotFound(t, e.api.do(t, "GET", hook, nil), "Webhook", id, "webhook not found")
		select {
		case g := <-arrived:
			t.Errorf("a disabled webhook got %s", g.body)
		default:
		}
	})
}
