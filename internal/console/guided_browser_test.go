package console_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/latchkey/latchkey/internal/testenv"
)

// TestGuidedConsoleInBrowser walks a new administrator through what issue
// 19 made obvious, in Chromium, on a server without SMTP: a new realm's
// Getting started checklist, the empty Add identity form focusing its one
// error, a refused CSV file saying why and rows that fail alike grouped,
// the e-mail warnings, an application's Connect panel whose issuer go-oidc
// discovers, the one click that allows sign-ins, and Try sign-in showing
// the ID token's claims, which ticks the checklist's last step.
func TestGuidedConsoleInBrowser(t *testing.T) {
	for _, engine := range testenv.Engines() {
		t.Run(engine.Name, func(t *testing.T) {
			n := testenv.StartNode(t, engine.Name, nil)
			admin := newBrowser(t, nil)
			admin.bind(n.AdminLink)
			admin.signIn(n.URL)
			admin.waitFor("the console after sign-in", `document.querySelector("form.who") !== null`)

			// A realm made in the console starts with its checklist.
			admin.run(chromedp.Navigate(n.URL + "/console/realms"))
			admin.fill(map[string]string{"display_name": "Shop"}, `form[action="/console/realms"] button[type=submit]`)
			admin.waitForText("with the authenticator config Hosted sign-in")
			admin.waitForText("0 of 5 steps done")
			realmPath := admin.eval(`location.pathname.replace(/\/start$/, "")`)
			admin.checkUsable("start")
			admin.screenshot("getting-started")

			// The empty form flags the username alone and focuses it.
			admin.run(chromedp.Navigate(n.URL+realmPath+"/identities/new"), chromedp.Click(chromedp.CSS(`main form button[type=submit]`)))
			admin.waitFor("the username's error focused", `document.activeElement && document.activeElement.id === "f-traits.username"`)
			if got := admin.eval(`document.getElementById("e-traits.username").getAttribute("role") + " " + String(document.getElementById("e-display_name"))`); got != "alert null" {
				t.Fatalf("errors on the empty form: %s", got)
			}

			// A refused file says why, where the job would appear.
			dir := t.TempDir()
			bad := filepath.Join(dir, "misspelt.csv")
			os.WriteFile(bad, []byte("username,emial\nalan,alan@example.com\n"), 0o644)
			admin.run(chromedp.Navigate(n.URL+realmPath+"/imports/new"), chromedp.SetUploadFiles(chromedp.CSS("#f-file"), []string{bad}),
				chromedp.Click(chromedp.CSS(`button[value=dry]`)))
			admin.waitFor("the refusal", `document.querySelector("#job [role=alert]") !== null`)
			admin.waitForText(`unknown column "emial"`)
			admin.screenshot("csv-refused")
			// Rows that fail alike are one problem, named by the checkbox.
			groups := filepath.Join(dir, "groups.csv")
			os.WriteFile(groups, []byte("username,groups\nann,Staff\nbob,Staff\ncid,Staff\n"), 0o644)
			admin.run(chromedp.SetUploadFiles(chromedp.CSS("#f-file"), []string{groups}), chromedp.Click(chromedp.CSS(`button[value=dry]`)))
			admin.waitFor("the dry run", `document.querySelector("#job [data-outcome]") !== null && document.querySelector("#job [data-job-state=SUCCEEDED]") !== null`)
			if got := admin.eval(`document.querySelector("#job [data-outcome]").innerText`); got != "all rows failed" {
				t.Fatalf("the dry run is badged %q", got)
			}
			admin.waitForText("3 rows")
			admin.waitForText("tick “Create the groups that rows name”")
			admin.screenshot("csv-problems")

			// No SMTP: the e-mail page and Add a passkey say so.
			admin.run(chromedp.Navigate(n.URL + realmPath + "/email"))
			admin.waitForText("E-mail is not configured.")
			admin.checkUsable("email")
			admin.screenshot("email-settings")
			admin.run(chromedp.Navigate(n.URL + realmPath + "/identities/new"))
			admin.fill(map[string]string{"traits.username": "ada", "traits.primary_email_address": "ada@example.com"}, `main form button[type=submit]`)
			admin.waitForText("Identity ada created.")
			admin.run(chromedp.Navigate(n.URL + admin.eval(`location.pathname`) + "/binding-jobs/new"))
			admin.waitFor("the e-mail warning", `document.querySelector("[data-no-email]") !== null && document.querySelector("button[value=email]").disabled`)

			// An application of the admin realm: connect it, allow it, try it.
			adminRealm := "/console/realms/" + n.Console.RealmID
			admin.run(chromedp.Navigate(n.URL+adminRealm+"/applications/new"),
				chromedp.SendKeys(chromedp.CSS(`main [name="protocol_config.redirect_uris"]`), "https://demo.example/cb"))
			admin.fill(map[string]string{"display_name": "Demo"}, `main form button[type=submit]`)
			admin.waitForText("Client secret: shown only now.")
			issuer := strings.TrimSpace(admin.eval(`document.getElementById("issuer").innerText`))
			if _, err := oidc.NewProvider(context.Background(), issuer); err != nil {
				t.Fatalf("go-oidc discovery of the issuer shown, %s: %v", issuer, err)
			}
			admin.waitForText("Nobody may sign in yet")
			admin.run(chromedp.Click(chromedp.CSS(`form[action$="/allow-everyone"] button`)))
			admin.waitForText("may now sign in to Demo")
			admin.screenshot("connect-app")
			admin.run(chromedp.Click(chromedp.CSS(`form[action$="/try"] button`)))
			admin.waitFor("the hosted sign-in page", `document.getElementById("signin") !== null`)
			admin.run(chromedp.Click(chromedp.CSS("#signin")))
			admin.waitFor("the ID token's claims", `document.querySelector("[data-try=signed-in]") !== null`)
			if got := admin.eval(`document.querySelector("[data-claim=preferred_username] td").innerText`); got != `"admin"` {
				t.Fatalf("preferred_username claim %s", got)
			}
			if got := admin.eval(`document.querySelector("[data-claim=iss] td").innerText`); got != `"`+issuer+`"` {
				t.Fatalf("iss claim %s, want the issuer shown %s", got, issuer)
			}
			admin.screenshot("try-sign-in")

			// The admin realm has done every step now.
			admin.run(chromedp.Navigate(n.URL + adminRealm + "/start"))
			admin.waitForText("5 of 5 steps done")
		})
	}
}
