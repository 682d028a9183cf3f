package httpapi_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/latchkey/latchkey/internal/browsertest"
	"github.com/latchkey/latchkey/internal/testenv"
)

// TestFormPostInBrowser: with response_mode=form_post, Chromium posts the
// response to the app's redirect URI, from the hosted page after a passkey
// signs in (the code), and from the auto-submitting page of an error; the
// pages' CSP lets them post there and nowhere else; and from the refusal
// page's button back to the app.
func TestFormPostInBrowser(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		n, c := e.node, e.api
		ctx, realm, _ := adaWithPasskey(t, c, "Posts")
		browsertest.WithoutAutofill(t, ctx) // the test presses the hosted page's button
		c.ok(t, "PUT", "/realms/"+realm+"/policy", map[string]any{"default_effect": "allow"})

		// The app: its callback takes the posted response.
		ln, base := testenv.Listen(t)
		callback := base + "/callback"
		posted := make(chan url.Values, 1)
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost || r.ParseForm() != nil {
				http.Error(w, "want a form post", http.StatusBadRequest)
				return
			}
			w.Write([]byte("received"))
			posted <- r.PostForm
		})}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		app, clientID, secret := oidcClient(t, n, realm, callback)
		issuer := n.URL + "/v1/tenants/" + c.tenant + "/realms/" + realm + "/applications/" + app
		q := signInQuery(clientID, callback)
		q.Set("response_mode", "form_post")
		receive := func() url.Values {
			t.Helper()
			select {
			case v := <-posted:
				return v
			case <-time.After(30 * time.Second):
				_, page := browsertest.WaitFor(ctx, "false", 0)
				t.Fatalf("the app received no post; the page says %q", page)
			}
			return nil
		}

		if err := chromedp.Do(ctx, chromedp.Navigate(issuer+"/authorize?"+q.Encode())); err != nil {
			t.Fatal(err)
		}
		if ok, page := browsertest.WaitFor(ctx, `document.getElementById("signin") !== null`, 10*time.Second); !ok {
			t.Fatalf("no sign-in page; the browser shows %q", page)
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("signin"))); err != nil {
			t.Fatal(err)
		}
		got := receive()
		if got.Get("state") != "st" || got.Get("code") == "" || len(got) != 2 {
			t.Fatalf("posted %v", got)
		}
		status, tokens := redeem(t, issuer, clientID, secret, url.Values{"grant_type": {"authorization_code"},
			"code": {got.Get("code")}, "redirect_uri": {callback}, "code_verifier": {sdkVerifier}})
		if status != http.StatusOK || tokens["id_token"] == nil {
			t.Errorf("the posted code: %d %v", status, tokens)
		}

		q.Set("request_uri", "https://app.example/request.jwt")
		if err := chromedp.Do(ctx, chromedp.Navigate(issuer+"/authorize?"+q.Encode())); err != nil {
			t.Fatal(err)
		}
		if got := receive(); got.Get("error") != "request_uri_not_supported" || got.Get("state") != "st" {
			t.Errorf("posted error %v", got)
		}

		// A refusal: its page's button posts access_denied to the app.
		q.Del("request_uri")
		c.ok(t, "PUT", "/realms/"+realm+"/policy", map[string]any{"default_effect": "deny"})
		if err := chromedp.Do(ctx, chromedp.Navigate(issuer+"/authorize?"+q.Encode())); err != nil {
			t.Fatal(err)
		}
		if ok, page := browsertest.WaitFor(ctx, `document.getElementById("back") !== null`, 10*time.Second); !ok {
			t.Fatalf("no refusal page; the browser shows %q", page)
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("back"))); err != nil {
			t.Fatal(err)
		}
		if got := receive(); got.Get("error") != "access_denied" || got.Get("state") != "st" {
			t.Errorf("posted refusal %v", got)
		}
	})
}
