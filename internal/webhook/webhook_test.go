package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/delivery"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/nodecache"
	"github.com/latchkey/latchkey/internal/secretbox"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
	"github.com/latchkey/latchkey/internal/testenv"
	"github.com/latchkey/latchkey/internal/webhook"
)

var quiet = slog.New(slog.DiscardHandler)

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// fixture is a realm with a webhook service and a delivery worker on one store.
type fixture struct {
	st    *sqlstore.Store
	realm directory.Realm
	clock *testenv.Clock
	svc   *webhook.Service
	box   *secretbox.Box
}

func newFixture(t testing.TB, open func(testing.TB) *sqlstore.Store) *fixture {
	t.Helper()
	st := open(t)
	now := time.Now().UTC().Truncate(time.Microsecond)
	tn := directory.Tenant{ID: latchkey.NewTenantID(), DisplayName: "T", CreateTime: now, UpdateTime: now}
	r := directory.Realm{ID: latchkey.NewID(), TenantID: tn.ID, DisplayName: "Acme",
		Classification: directory.SecureWorkforce, CreateTime: now, UpdateTime: now}
	must(t, st.CreateTenant(t.Context(), tn))
	must(t, st.CreateRealm(t.Context(), r))
	box, err := secretbox.New(secretbox.NewKey())
	must(t, err)
	clock := testenv.NewClock()
	svc := webhook.NewService(st.Webhook(), box)
	svc.Clock, svc.AllowPrivate = clock.Now, true
	return &fixture{st: st, realm: r, clock: clock, svc: svc, box: box}
}

// worker starts a delivery worker named owner that sends webhooks with
// client, until the test ends; configure may change it first.
func (f *fixture) worker(t testing.TB, owner string, client *http.Client, configure ...func(*delivery.Worker)) *delivery.Worker {
	w := &delivery.Worker{Store: f.st.Delivery(), Logger: quiet, Owner: owner, Clock: f.clock.Now,
		PollInterval: 5 * time.Millisecond, Timeout: 2 * time.Second,
		Kinds:       map[string]delivery.Kind{webhook.Kind: f.svc.Request},
		Clients:     map[string]*http.Client{webhook.Kind: client},
		PerTargetOf: map[string]int{webhook.Kind: webhook.PerTarget},
		Failed:      map[string]func(context.Context, delivery.Delivery, delivery.Outcome){webhook.Kind: f.svc.Failed}}
	for _, c := range configure {
		c(w)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return w
}

// create adds a webhook to url for types and returns it with its secret.
func (f *fixture) create(t testing.TB, url string, types ...string) (webhook.Webhook, string) {
	t.Helper()
	name := "Receiver"
	h, secret, err := f.svc.Create(t.Context(), f.realm.TenantID, f.realm.ID, webhook.Patch{DisplayName: &name, URL: &url, EventTypes: &types})
	must(t, err)
	return h, secret
}

// record records an event of the realm in a transaction that commits
// unless fail is set.
func (f *fixture) record(t *testing.T, action, resourceID string, fail error) audit.Event {
	t.Helper()
	e := audit.NewAt(t.Context(), f.clock.Now(), f.realm.TenantID, f.realm.ID, action, "Identity", resourceID)
	err := f.st.Webhook().Update(t.Context(), func(tx webhook.Tx) error {
		if err := tx.RecordEvent(t.Context(), e); err != nil {
			return err
		}
		return fail
	})
	if !errors.Is(err, fail) {
		t.Fatalf("record %s: %v", action, err)
	}
	return e
}

// request is what a receiver got.
type request struct {
	header http.Header
	body   string
	at     time.Time // the test clock's time when it arrived
}

// receiver is a real HTTP server answering by request number from 1.
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	got     []request
	arrived chan struct{}
}

func newReceiver(t *testing.T, clock *testenv.Clock, answer func(n int) int) *receiver {
	rc := &receiver{arrived: make(chan struct{}, 1000)}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, request{r.Header.Clone(), string(b), clock.Now()})
		n := len(rc.got)
		rc.mu.Unlock()
		rc.arrived <- struct{}{}
		w.WriteHeader(answer(n))
	}))
	t.Cleanup(rc.Close)
	return rc
}

func always(code int) func(int) int { return func(int) int { return code } }

// wait waits for the n-th request and returns it.
func (rc *receiver) wait(t *testing.T, n int) request {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		rc.mu.Lock()
		if len(rc.got) >= n {
			r := rc.got[n-1]
			rc.mu.Unlock()
			return r
		}
		rc.mu.Unlock()
		select {
		case <-rc.arrived:
		case <-deadline:
			t.Fatalf("request %d did not arrive in 10 s", n)
		}
	}
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.got)
}

// waitDelivery waits until a delivery satisfies ok.
func waitDelivery(t *testing.T, f *fixture, id string, ok func(delivery.Delivery) bool) delivery.Delivery {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		d, err := f.st.Delivery().GetDelivery(t.Context(), id)
		must(t, err)
		if ok(d) {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivery %s: still %+v after 10 s", id, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// finished waits until the worker recorded the n-th attempt, whose request
// r arrived, so that moving the clock then makes the next one due.
func finished(t *testing.T, f *fixture, r request, n int) {
	t.Helper()
	waitDelivery(t, f, r.header.Get("webhook-id"), func(d delivery.Delivery) bool {
		return d.Attempts == n && !d.LastAttemptTime.Before(r.at.Truncate(time.Microsecond))
	})
}

// verifyGo checks a delivery's signature as a Go receiver does.
func verifyGo(t *testing.T, secret string, r request) {
	t.Helper()
	ts, err := time.Parse(time.RFC3339, "1970-01-01T00:00:00Z")
	must(t, err)
	var sec int64
	fmt.Sscan(r.header.Get("webhook-timestamp"), &sec)
	want, err := webhook.Sign(secret, r.header.Get("webhook-id"), ts.Add(time.Duration(sec)*time.Second), []byte(r.body))
	must(t, err)
	if got := r.header.Get("webhook-signature"); got != want {
		t.Errorf("webhook-signature %q, want %q", got, want)
	}
}

// verifyNPM checks a delivery with the official standardwebhooks npm
// package and returns the payload it verified.
func verifyNPM(t *testing.T, secret string, r request) map[string]any {
	t.Helper()
	dir := filepath.Join("testdata", "npm")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "standardwebhooks")); err != nil {
		testenv.Unavailable(t, "run npm ci --prefix internal/webhook/testdata/npm to verify with the standardwebhooks package")
	}
	in, _ := json.Marshal(map[string]any{"body": r.body, "headers": map[string]string{
		"webhook-id": r.header.Get("webhook-id"), "webhook-timestamp": r.header.Get("webhook-timestamp"),
		"webhook-signature": r.header.Get("webhook-signature")}})
	cmd := exec.Command("node", filepath.Join(dir, "verify.js"), secret)
	cmd.Stdin = strings.NewReader(string(in))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("standardwebhooks refused the delivery: %v: %s", err, out)
	}
	var payload map[string]any
	must(t, json.Unmarshal(out, &payload))
	return payload
}

func forEachEngine(t *testing.T, fn func(t *testing.T, f *fixture)) {
	for _, e := range testenv.Engines() {
		t.Run(e.Name, func(t *testing.T) { fn(t, newFixture(t, e.Open)) })
	}
}

// TestDelivery: a committed event reaches the webhooks subscribed to it,
// signed as Standard Webhooks says (checked by the npm package and in Go);
// a retry after a 500 carries a fresh timestamp and signature under the
// same id; a rolled-back change and an unsubscribed event send nothing.
func TestDelivery(t *testing.T) {
	forEachEngine(t, func(t *testing.T, f *fixture) {
		rc := newReceiver(t, f.clock, func(n int) int { return map[bool]int{true: 500, false: 204}[n == 1] })
		h, secret := f.create(t, rc.URL+"/hook", "identity.*", "sign_in.denied")
		if !strings.HasPrefix(secret, "whsec_") || h.SecretSealed == "" || strings.Contains(h.SecretSealed, secret[6:]) {
			t.Fatalf("secret %q sealed as %q", secret, h.SecretSealed)
		}
		f.worker(t, "node-a", webhook.Client(true))

		f.record(t, "identity.create", "rolled-back", errors.New("rolled back"))
		f.record(t, "group.create", "not-subscribed", nil)
		e := f.record(t, "identity.create", "id-1", nil)

		first := rc.wait(t, 1)
		verifyGo(t, secret, first)
		payload := verifyNPM(t, secret, first)
		data, _ := payload["data"].(map[string]any)
		if payload["type"] != "identity.create" || data["id"] != e.ID || data["resource_id"] != "id-1" {
			t.Errorf("payload %v, want the event %+v", payload, e)
		}
		if got := first.header.Get("webhook-timestamp"); got != fmt.Sprint(first.at.Unix()) {
			t.Errorf("webhook-timestamp %s, want the time of the attempt %d", got, first.at.Unix())
		}

		id := first.header.Get("webhook-id")
		finished(t, f, first, 1)
		f.clock.Advance(time.Minute) // past the first backoff (30 s)
		second := rc.wait(t, 2)
		verifyGo(t, secret, second)
		verifyNPM(t, secret, second)
		if second.header.Get("webhook-id") != id || second.body != first.body ||
			second.header.Get("webhook-timestamp") == first.header.Get("webhook-timestamp") {
			t.Errorf("retry: id %s body %s ts %s; want id %s, the same body, a new timestamp",
				second.header.Get("webhook-id"), second.body, second.header.Get("webhook-timestamp"), id)
		}
		waitDelivery(t, f, id, func(d delivery.Delivery) bool { return d.State == delivery.StateDelivered })

		ds, err := f.svc.Deliveries(t.Context(), f.realm.TenantID, f.realm.ID, h.ID)
		must(t, err)
		if len(ds) != 1 || ds[0].ID != id || ds[0].Attempts != 2 || ds[0].LastStatus != 204 {
			t.Errorf("deliveries %+v, want one delivered in two attempts", ds)
		}
		if n := rc.count(); n != 2 {
			t.Errorf("the receiver got %d requests, want 2 (nothing for the rolled-back or unsubscribed events)", n)
		}

		// Redeliver sends it again under the same id.
		_, err = f.svc.Redeliver(t.Context(), f.realm.TenantID, f.realm.ID, h.ID, id)
		must(t, err)
		if third := rc.wait(t, 3); third.header.Get("webhook-id") != id {
			t.Errorf("redelivery id %s, want %s", third.header.Get("webhook-id"), id)
		}
		waitDelivery(t, f, id, func(d delivery.Delivery) bool { return d.State == delivery.StateDelivered })
		if _, err := f.svc.Redeliver(t.Context(), f.realm.TenantID, f.realm.ID, h.ID, "msg_unknown"); latchkey.ErrorCode(err) != latchkey.CodeNotFound {
			t.Errorf("redeliver an unknown delivery: %v", err)
		}

		// A rotated secret signs the next message (a test message).
		_, rotated, err := f.svc.RotateSecret(t.Context(), f.realm.TenantID, f.realm.ID, h.ID)
		must(t, err)
		_, err = f.svc.Test(t.Context(), f.realm.TenantID, f.realm.ID, h.ID)
		must(t, err)
		test := rc.wait(t, 4)
		if p := verifyNPM(t, rotated, test); p["type"] != "webhook.test" {
			t.Errorf("test message %v", p)
		}
	})
}

// TestGone: a 410 disables the webhook (and an event says so); a delivery
// that fails for a day marks its webhook failing (and an event says so),
// until it is enabled again.
func TestGone(t *testing.T) {
	forEachEngine(t, func(t *testing.T, f *fixture) {
		gone := newReceiver(t, f.clock, always(http.StatusGone))
		down := newReceiver(t, f.clock, always(http.StatusServiceUnavailable))
		g, _ := f.create(t, gone.URL, "identity.create")
		d, _ := f.create(t, down.URL, "identity.create")
		w := f.worker(t, "node-a", webhook.Client(true))
		w.RetryFor, w.Backoff = 2*time.Minute, func(int) time.Duration { return time.Minute }

		f.record(t, "identity.create", "id-1", nil)
		// Its outcome recorded before the clock moves: an attempt still
		// under way when its lease runs out would be sent again.
		finished(t, f, gone.wait(t, 1), 1)
		finished(t, f, down.wait(t, 1), 1)
		f.clock.Advance(time.Minute)
		finished(t, f, down.wait(t, 2), 2)
		f.clock.Advance(time.Minute) // the next would be past RetryFor: failed for good
		down.wait(t, 3)
		deadline := time.Now().Add(10 * time.Second)
		for {
			gh, err := f.svc.Get(t.Context(), f.realm.TenantID, f.realm.ID, g.ID)
			must(t, err)
			dh, err := f.svc.Get(t.Context(), f.realm.TenantID, f.realm.ID, d.ID)
			must(t, err)
			if !gh.Enabled && !gh.Failing && dh.Enabled && dh.Failing {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after 410: %+v; after a day of 503: %+v", gh, dh)
			}
			time.Sleep(5 * time.Millisecond)
		}
		events, _, err := f.st.Audit().ListEvents(t.Context(), f.realm.TenantID, f.realm.ID, latchkey.ListOptions{Limit: 50})
		must(t, err)
		var actions []string
		for _, e := range events {
			if e.ResourceType == "Webhook" {
				actions = append(actions, e.Action+" "+e.ResourceID)
			}
		}
		for _, want := range []string{"webhook.disable " + g.ID, "webhook.failing " + d.ID} {
			if !strings.Contains(strings.Join(actions, ","), want) {
				t.Errorf("events %v lack %s", actions, want)
			}
		}
		f.record(t, "identity.create", "id-2", nil)
		if down.wait(t, 4); gone.count() != 1 {
			t.Errorf("the disabled webhook got %d requests, want 1", gone.count())
		}
		enable := true
		dh, err := f.svc.Update(t.Context(), f.realm.TenantID, f.realm.ID, d.ID, webhook.Patch{Enabled: &enable})
		must(t, err)
		if dh.Failing {
			t.Errorf("enabled again, still failing: %+v", dh)
		}
	})
}

// TestTwoNodes: two workers on one database send each message once, and a
// slow target holds up no other.
func TestTwoNodes(t *testing.T) {
	forEachEngine(t, func(t *testing.T, f *fixture) {
		release := make(chan struct{})
		slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		t.Cleanup(slow.Close)
		t.Cleanup(func() { close(release) })
		fast := newReceiver(t, f.clock, always(204))
		// Subscribed to the test's events only: with "*" a webhook also gets
		// its own webhook.create, which may arrive before or after the 40th.
		f.create(t, slow.URL, "identity.update")
		f.create(t, fast.URL, "identity.update")
		f.worker(t, "node-a", webhook.Client(true))
		f.worker(t, "node-b", webhook.Client(true))

		const n = 40
		for i := range n {
			f.record(t, "identity.update", fmt.Sprint("id-", i), nil)
		}
		fast.wait(t, n)
		ids := map[string]int{}
		fast.mu.Lock()
		for _, r := range fast.got {
			ids[r.header.Get("webhook-id")]++
		}
		fast.mu.Unlock()
		if len(ids) != n {
			t.Errorf("%d distinct messages, want %d", len(ids), n)
		}
		for id, c := range ids {
			if c != 1 {
				t.Errorf("message %s delivered %d times", id, c)
			}
		}
	})
}

// TestSecretRotatedOnAnotherNode: a node signs with the webhook and secret
// it read in the last nodecache.TTL; a rotation made on another node
// signs this node's messages once that has passed (one made on this node
// does at once: TestDelivery).
func TestSecretRotatedOnAnotherNode(t *testing.T) {
	forEachEngine(t, func(t *testing.T, f *fixture) {
		rc := newReceiver(t, f.clock, always(204))
		h, secret := f.create(t, rc.URL, "identity.*")
		f.worker(t, "node-a", webhook.Client(true))
		f.record(t, "identity.update", "id-1", nil)
		verifyGo(t, secret, rc.wait(t, 1))

		other := webhook.NewService(f.st.Webhook(), f.box)
		other.Clock = f.clock.Now
		_, rotated, err := other.RotateSecret(t.Context(), f.realm.TenantID, f.realm.ID, h.ID)
		must(t, err)
		f.record(t, "identity.update", "id-2", nil)
		verifyGo(t, secret, rc.wait(t, 2))
		f.clock.Advance(nodecache.TTL + time.Microsecond)
		f.record(t, "identity.update", "id-3", nil)
		verifyGo(t, rotated, rc.wait(t, 3))
	})
}

// TestPrivateTargets: without --webhook-allow-private, a URL that is not
// https or whose host is loopback, private, link-local or a metadata
// address is refused when saved, and a connection to such an address is
// refused after DNS even for a webhook saved earlier.
func TestPrivateTargets(t *testing.T) {
	f := newFixture(t, testenv.OpenSQLite)
	rc := newReceiver(t, f.clock, always(204))
	saved, _ := f.create(t, rc.URL, "identity.*") // allowed while the fixture allows private targets
	f.svc.AllowPrivate = false
	name, types := "X", []string{"*"}
	for _, url := range []string{"http://example.com/hook", rc.URL, "https://127.0.0.1/", "https://localhost/",
		"https://10.1.2.3/", "https://192.168.0.1/", "https://169.254.169.254/latest/meta-data", "https://[::1]/",
		"https://[fd00:ec2::254]/", "https://100.64.0.1/", "https://0.0.0.0/", "ftp://example.com/", "not a url",
		"https://user:pass@example.com/"} {
		_, _, err := f.svc.Create(t.Context(), f.realm.TenantID, f.realm.ID, webhook.Patch{DisplayName: &name, URL: &url, EventTypes: &types})
		if latchkey.ErrorCode(err) != latchkey.CodeBadRequest {
			t.Errorf("create to %s: %v, want invalid", url, err)
		}
	}
	f.svc.AllowPrivate = true
	local := "http://localhost:1/x"
	if _, _, err := f.svc.Create(t.Context(), f.realm.TenantID, f.realm.ID, webhook.Patch{DisplayName: &name, URL: &local, EventTypes: &types}); err != nil {
		t.Errorf("http to loopback with the flag: %v", err)
	}
	private := "http://10.1.2.3/"
	if _, _, err := f.svc.Create(t.Context(), f.realm.TenantID, f.realm.ID, webhook.Patch{DisplayName: &name, URL: &private, EventTypes: &types}); latchkey.ErrorCode(err) != latchkey.CodeBadRequest {
		t.Errorf("http to a private host with the flag: %v, want invalid", err)
	}

	f.worker(t, "node-a", webhook.Client(false))
	f.record(t, "identity.create", "id-1", nil)
	ds, err := f.svc.Deliveries(t.Context(), f.realm.TenantID, f.realm.ID, saved.ID)
	must(t, err)
	if len(ds) != 1 {
		t.Fatalf("deliveries %+v", ds)
	}
	d := waitDelivery(t, f, ds[0].ID, func(d delivery.Delivery) bool { return d.Attempts == 1 && d.LastError != "" })
	if !strings.Contains(d.LastError, "refused") || rc.count() != 0 {
		t.Errorf("a connection to loopback: %q, %d requests", d.LastError, rc.count())
	}
}

// TestValidation: what a webhook must be.
func TestValidation(t *testing.T) {
	f := newFixture(t, testenv.OpenSQLite)
	url, name := "https://example.com/hook", "Hook"
	for _, p := range []webhook.Patch{
		{URL: &url, EventTypes: &[]string{"*"}},
		{DisplayName: &name, EventTypes: &[]string{"*"}},
		{DisplayName: &name, URL: &url},
		{DisplayName: &name, URL: &url, EventTypes: &[]string{"Identity.Create"}},
		{DisplayName: &name, URL: &url, EventTypes: &[]string{"identity.*.create"}},
	} {
		if _, _, err := f.svc.Create(t.Context(), f.realm.TenantID, f.realm.ID, p); latchkey.ErrorCode(err) != latchkey.CodeBadRequest {
			t.Errorf("create %+v: %v, want invalid", p, err)
		}
	}
	if _, _, err := f.svc.Create(t.Context(), f.realm.TenantID, "other", webhook.Patch{DisplayName: &name, URL: &url, EventTypes: &[]string{"*"}}); latchkey.ErrorCode(err) != latchkey.CodeNotFound {
		t.Errorf("create in an unknown realm: %v", err)
	}
	for types, want := range map[string]map[string]bool{
		"identity.*":        {"identity.create": true, "identity.update": true, "identityx.create": false, "group.create": false},
		"*":                 {"identity.create": true, "sign_in.denied": true},
		"sign_in.denied":    {"sign_in.denied": true, "sign_in.allowed": false},
		"sign_in.*,token.*": {"token.issued": true, "sign_in.started": true, "session.ended": false},
	} {
		h := webhook.Webhook{EventTypes: strings.Split(types, ",")}
		for action, ok := range want {
			if h.Matches(action) != ok {
				t.Errorf("%s matches %s: %v, want %v", types, action, !ok, ok)
			}
		}
	}
}
