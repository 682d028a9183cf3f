package console_test

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/latchkey/latchkey/internal/browsertest"
	"github.com/latchkey/latchkey/internal/loadtest"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/testenv"
)

// browser is one tab of the test's Chromium, in a browser context of its
// own (cookies apart), with its own virtual authenticator: one person's
// device.
type browser struct {
	t   *testing.T
	ctx context.Context
}

func newBrowser(t *testing.T, parent context.Context) browser {
	ctx := parent
	if parent == nil {
		ctx = browsertest.Start(t)
	} else {
		var cancel context.CancelFunc
		ctx, cancel = chromedp.NewContext(parent, chromedp.WithNewBrowserContext())
		t.Cleanup(cancel)
	}
	browsertest.AddAuthenticator(t, ctx)
	browsertest.WithoutAutofill(t, ctx) // the test presses the hosted page's button
	return browser{t: t, ctx: ctx}
}

func (b browser) run(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		_, page := browsertest.WaitFor(b.ctx, "false", 0)
		b.t.Fatalf("%v; the page says %q", err, page)
	}
}

// waitFor waits until the JavaScript predicate holds on the page.
func (b browser) waitFor(what, predicate string) {
	b.t.Helper()
	if ok, page := browsertest.WaitFor(b.ctx, predicate, 30*time.Second); !ok {
		b.t.Fatalf("%s: the page says %q", what, page)
	}
}

// waitForText waits until the page's text contains text.
func (b browser) waitForText(text string) {
	b.t.Helper()
	b.waitFor("waiting for "+text, `document.body && document.body.innerText.includes(`+jsString(text)+`)`)
}

// eval returns the value of a JavaScript expression on the page.
func (b browser) eval(expr string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		b.t.Fatalf("%s: %v", expr, err)
	}
	return v
}

func jsString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// fill types values into the inputs named, then presses the button.
func (b browser) fill(values map[string]string, button string) {
	b.t.Helper()
	var actions []chromedp.Action[chromedp.Void]
	for name, v := range values {
		sel := chromedp.CSS(`main [name="` + name + `"]`)
		actions = append(actions, chromedp.Clear(sel), chromedp.SendKeys(sel, v))
	}
	b.run(append(actions, chromedp.Click(chromedp.CSS(button)))...)
}

// bind opens a binding link and makes the passkey on this device.
func (b browser) bind(link string) {
	b.t.Helper()
	b.run(chromedp.Navigate(link), chromedp.Click(chromedp.CSS("#create")))
	b.waitFor("binding the passkey", `document.getElementById("status").className === "done"`)
}

// signIn starts the console's sign-in and passes the hosted passkey page.
func (b browser) signIn(consoleURL string) {
	b.t.Helper()
	b.run(chromedp.Navigate(consoleURL + "/console/"))
	b.waitForText("Sign in with a passkey")
	b.run(chromedp.Click(chromedp.CSS(`a.button`)))
	b.waitFor("the hosted sign-in page", `document.getElementById("signin") !== null`)
	b.run(chromedp.Click(chromedp.CSS("#signin")))
}

// screenshot saves the page as docs/screenshots/name.png when
// LATCHKEY_SCREENSHOTS names the directory to write (see the README).
func (b browser) screenshot(name string) {
	dir := os.Getenv("LATCHKEY_SCREENSHOTS")
	if dir == "" {
		return
	}
	b.run(chromedp.EmulateViewport(1280, 800))
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// checkUsable fails unless every control of the page has a label (or an
// aria-label) and, on a phone-sized screen, the page needs no sideways
// scrolling.
func (b browser) checkUsable(name string) {
	b.t.Helper()
	unlabelled := b.eval(`[...document.querySelectorAll("input:not([type=hidden]), select, textarea, button")]
		.filter(el => !(el.labels && el.labels.length) && !el.getAttribute("aria-label") && !el.innerText.trim())
		.map(el => el.outerHTML.slice(0, 120)).join("\n")`)
	if unlabelled != "" {
		b.t.Errorf("%s: controls without a label:\n%s", name, unlabelled)
	}
	b.run(chromedp.EmulateViewport(375, 740))
	if wide := b.eval(`String(document.documentElement.scrollWidth > window.innerWidth ? document.documentElement.scrollWidth : "")`); wide != "" {
		b.t.Errorf("%s: %spx wide on a 375px screen", name, wide)
	}
	b.run(chromedp.EmulateViewport(1280, 800))
}

var linkInMail = regexp.MustCompile(`https?://\S+:invokeAuthenticator\?token=\S+`)

// TestConsoleInBrowser walks an administrator through the console in
// Chromium: the first passkey from the bootstrap link and the first
// sign-in, a realm, manual entry, a CSV upload with a bad row, an edit,
// group membership, "Proceed & send email" read back from a real SMTP
// capture and bound on the user's device, the binding job COMPLETE after
// "Refresh list", a passkey revoked, a non-administrator of the admin realm
// refused by policy with the reason, and Test access explaining why.
func TestConsoleInBrowser(t *testing.T) {
	for _, engine := range testenv.Engines() {
		t.Run(engine.Name, func(t *testing.T) {
			mail := testenv.StartSMTP(t)
			n := testenv.StartNode(t, engine.Name, func(c *server.Config) {
				c.SMTPURL = mail.URL
				c.AdminEmail = "root@example.com"
			})
			if n.AdminLink == "" {
				t.Fatal("the first start printed no binding link for the administrator")
			}
			admin := newBrowser(t, nil)
			admin.bind(n.AdminLink)
			admin.signIn(n.URL)
			admin.waitFor("the console after sign-in", `location.pathname.endsWith("/identities") && document.querySelector("form.who") !== null`)
			admin.screenshot("identities")

			// A realm, made in the console.
			admin.run(chromedp.Navigate(n.URL + "/console/realms"))
			admin.fill(map[string]string{"display_name": "Staff"}, `form[action="/console/realms"] button[type=submit]`)
			admin.waitForText("Realm Staff created, with the authenticator config Hosted sign-in.")
			realmPath := admin.eval(`location.pathname.replace(/\/start$/, "")`)

			// Manual entry: a refused e-mail address, then the identity.
			admin.run(chromedp.Navigate(n.URL + realmPath + "/identities/new"))
			admin.fill(map[string]string{"display_name": "Ada Lovelace", "traits.username": "ada", "traits.primary_email_address": "ada@"}, `main form button[type=submit]`)
			admin.waitFor("the e-mail error", `document.getElementById("e-traits.primary_email_address") !== null`)
			admin.screenshot("add-identity-error")
			admin.fill(map[string]string{"traits.primary_email_address": "ada@example.com"}, `main form button[type=submit]`)
			admin.waitForText("Identity ada created.")
			adaPath := admin.eval(`location.pathname`)

			// CSV upload: the preview shows the bad row; the import makes the rest.
			csv := filepath.Join(t.TempDir(), "people.csv")
			os.WriteFile(csv, []byte("username,email,display_name\nalan,alan@example.com,Alan Turing\nbroken,not-an-address,Broken Row\ngrace,grace@example.com,Grace Hopper\n"), 0o644)
			admin.run(chromedp.Navigate(n.URL+realmPath+"/imports/new"), chromedp.SetUploadFiles(chromedp.CSS("#f-file"), []string{csv}),
				chromedp.Click(chromedp.CSS(`button[value=dry]`)))
			admin.waitFor("the dry run", `document.querySelector("#job [data-job-state=SUCCEEDED]") !== null`)
			admin.waitForText("Rows with errors")
			admin.screenshot("csv-preview")
			admin.run(chromedp.Click(chromedp.CSS(`button[value=run]`)))
			admin.waitFor("the import", `document.querySelector("#job [data-job-state=SUCCEEDED] h2").innerText.startsWith("Import")`)
			admin.waitForText("Download the error report")
			admin.run(chromedp.Navigate(n.URL + realmPath + "/identities"))
			admin.waitForText("Grace Hopper")

			// Edit a trait: Edit opens the form, whose Name section opens on a click.
			admin.run(chromedp.Navigate(n.URL+adaPath), chromedp.Click(chromedp.CSS(`main a[href$="?edit=1"]`)))
			admin.waitFor("the edit form", `document.querySelector("details.section") !== null`)
			admin.run(chromedp.Click(chromedp.CSS(`details:has([name="traits.family_name"]) summary`)))
			admin.fill(map[string]string{"traits.family_name": "Lovelace"}, `main form button[type=submit]`)
			admin.waitForText("Saved.")
			admin.screenshot("identity")

			// Group membership through the identity's Groups tab.
			realmID := strings.TrimPrefix(realmPath, "/console/realms/")
			adaID := strings.TrimPrefix(adaPath, realmPath+"/identities/")
			e := &env{node: n}
			e.api(t, "POST", "/realms/"+realmID+"/groups", map[string]any{"group": map[string]any{"display_name": "Engineers"}})
			admin.run(chromedp.Navigate(n.URL+adaPath+"/groups"), chromedp.Click(chromedp.CSS(`form[action$="/groups"] button[type=submit]`)))
			admin.waitForText("ada added to Engineers.")

			// "Add a passkey" > "Proceed & send email"; Ada binds on her device.
			e.api(t, "POST", "/realms/"+realmID+"/authenticator-configs", map[string]any{"authenticator_config": map[string]any{
				"display_name": "Hosted", "config": map[string]any{"type": "hosted_web",
					"authentication_methods": []any{map[string]any{"type": "webauthn_passkey"}}, "trusted_origins": []any{n.URL}}}})
			admin.run(chromedp.Navigate(n.URL + adaPath + "/binding-jobs/new"))
			admin.screenshot("add-passkey")
			admin.run(chromedp.Click(chromedp.CSS(`button[value=email]`)))
			admin.waitForText("Binding link e-mailed to ada@example.com.")
			var link string
			for _, m := range mail.Wait(t, 1) {
				if strings.Contains(strings.Join(m.To, ","), "ada@example.com") {
					link = linkInMail.FindString(m.Text)
				}
			}
			if link == "" {
				t.Fatalf("no binding link e-mailed to ada: %+v", mail.Messages())
			}
			ada := newBrowser(t, admin.ctx)
			ada.bind(link)
			admin.waitFor("the job still open before refreshing", `document.querySelector("[data-state=COMPLETE]") === null`)
			admin.run(chromedp.Click(chromedp.CSS(`a[hx-get$="/binding-jobs"]`)))
			admin.waitFor("COMPLETE after Refresh list", `document.querySelector("#jobs [data-state=COMPLETE]") !== null`)
			admin.screenshot("binding-jobs")

			// The Passkeys tab names the passkey and its kind; the administrator renames it.
			admin.run(chromedp.Click(chromedp.CSS(`#jobs a[href*="/passkeys#passkey-"]`)))
			admin.waitForText("Active") // states are written one way on every page
			admin.waitForText("Device-bound")
			admin.waitForText("Never")
			admin.fill(map[string]string{"display_name": "Ada's laptop"}, `form[action$="/rename"] button`)
			admin.waitForText("Passkey renamed to Ada's laptop.")
			admin.checkUsable("passkeys")
			admin.screenshot("passkeys")

			// Revoke the passkey from the Passkeys tab.
			// The revoke form asks to confirm: the administrator says yes.
			admin.eval(`window.confirm = () => true, ""`)
			admin.run(chromedp.Click(chromedp.CSS(`form[action$="/revoke"] button`)))
			admin.waitForText("Passkey revoked")
			creds := e.api(t, "GET", "/realms/"+realmID+"/identities/"+adaID+"/credentials", nil)["credentials"].([]any)
			if len(creds) != 1 || creds[0].(map[string]any)["state"] != "REVOKED" || creds[0].(map[string]any)["display_name"] != "Ada's laptop" {
				t.Fatalf("credentials after revoke: %v", creds)
			}

			// A non-administrator of the admin realm binds a passkey, and
			// policy refuses them the console.
			admin.run(chromedp.Navigate(n.URL + "/console/realms/" + n.Console.RealmID + "/identities/new"))
			admin.fill(map[string]string{"traits.username": "mallory"}, `main form button[type=submit]`)
			admin.waitForText("Identity mallory created.")
			malloryPath := admin.eval(`location.pathname`)
			admin.run(chromedp.Navigate(n.URL+malloryPath+"/binding-jobs/new"), chromedp.Click(chromedp.CSS(`button[value=link]`)))
			admin.waitFor("the link", `document.getElementById("binding-link") !== null`)
			malloryLink := admin.eval(`document.getElementById("binding-link").innerText`)
			mallory := newBrowser(t, admin.ctx)
			mallory.bind(strings.TrimSpace(malloryLink))
			mallory.signIn(n.URL)
			// Latchkey's refusal page tells it in words (never the policy's
			// rules), and its button takes the refusal back to the console.
			mallory.waitForText("You do not have access to this application")
			mallory.run(chromedp.Click(chromedp.CSS("#back")))
			mallory.waitForText("Access to the console was refused")
			mallory.screenshot("refused")

			// Test access explains both decisions of the admin realm's policy.
			testAccess := func(username string) {
				admin.run(chromedp.Navigate(n.URL+"/console/realms/"+n.Console.RealmID+"/policy"),
					chromedp.SendKeys(chromedp.CSS(`#test [name=username]`), username),
					chromedp.SetValue(chromedp.CSS(`#test [name=application]`), n.Console.ApplicationID), chromedp.Click(chromedp.CSS(`#test button[type=submit]`)))
				admin.waitFor("the decision for "+username, `document.querySelector("#test .decision") !== null`)
			}
			testAccess("mallory")
			admin.waitForText("Denied")
			admin.waitForText("no rule matches; the realm's default is deny")
			testAccess("admin")
			admin.waitForText("Allowed")
			admin.waitForText("Rule 1: allow group Latchkey Administrators to access Latchkey Admin Console")
			admin.screenshot("policy")
			// The answer is in view where it was asked; rules are ticked, not
			// ctrl-clicked; Save follows the rules; a disabled button looks it.
			if got := admin.eval(`String(document.querySelector("#test .decision").getBoundingClientRect().bottom <= innerHeight)`); got != "true" {
				t.Error("the Test access answer is below the fold")
			}
			if got := admin.eval(`String(document.querySelectorAll("select[multiple]").length)`); got != "0" {
				t.Errorf("the policy editor has %s multi-selects", got)
			}
			if got := admin.eval(`String(document.querySelector("button[value=save]:not(.visually-hidden)").compareDocumentPosition(document.querySelector("fieldset.rule")) & Node.DOCUMENT_POSITION_PRECEDING)`); got == "0" {
				t.Error("Save policy is above the rules")
			}
			if got := admin.eval(`getComputedStyle(document.querySelector("button[value='up:0']")).opacity`); got == "1" {
				t.Error("the disabled Move up looks enabled")
			}
			for _, page := range []string{"start", "identities", "identities/new", "imports/new", "groups", "applications", "authenticator-configs",
				"policy", "branding", "email", "tokens", "events", "settings"} {
				admin.run(chromedp.Navigate(n.URL + "/console/realms/" + n.Console.RealmID + "/" + page))
				admin.waitFor(page, `document.querySelector("nav.side [aria-current=page]") !== null`)
				admin.checkUsable(page)
				if !strings.Contains(page, "/") && page != "identities" && page != "policy" && page != "start" && page != "email" { // taken above, or by TestGuidedConsoleInBrowser
					admin.screenshot(page)
				}
			}

			// Signing out ends the session.
			admin.run(chromedp.Navigate(n.URL+"/console/realms"), chromedp.Click(chromedp.CSS(`form.who button`)))
			admin.waitForText("You are signed out.")
			admin.run(chromedp.Navigate(n.URL + "/console/realms"))
			admin.waitForText("Sign in with a passkey")
		})
	}
}

// TestBulkSuspendInBrowser: an administrator searches 1,000 identities,
// ticks "all that match", presses Suspend, confirms, and watches the job's
// progress to its end; the API then lists all 1,000 as suspended.
func TestBulkSuspendInBrowser(t *testing.T) {
	for _, engine := range testenv.Engines() {
		t.Run(engine.Name, func(t *testing.T) {
			n := testenv.StartNode(t, engine.Name, nil)
			e := &env{node: n}
			realm := e.api(t, "POST", "/realms", map[string]any{"realm": map[string]any{"display_name": "Crowd", "classification": "SECURE_CUSTOMER"}})["id"].(string)
			if _, err := loadtest.SeedIdentities(t.Context(), n.Store, e.tenant(), realm, 1000); err != nil {
				t.Fatal(err)
			}
			admin := newBrowser(t, nil)
			admin.bind(n.AdminLink)
			admin.signIn(n.URL)
			admin.waitFor("the console after sign-in", `document.querySelector("form.who") !== null`)

			admin.run(chromedp.Navigate(n.URL + "/console/realms/" + realm + "/identities?q=load+user"))
			admin.waitForText("1000 matches")
			admin.checkUsable("identities with bulk actions")
			admin.run(chromedp.Click(chromedp.CSS("#bulk-all")), chromedp.Click(chromedp.CSS(`button[value=suspend]`)))
			admin.waitForText("Suspend 1000 identities")
			admin.screenshot("bulk-suspend")
			admin.run(chromedp.Click(chromedp.CSS(`main form button[type=submit]`)))
			admin.waitFor("the job's end", `document.querySelector("#job [data-job-state=SUCCEEDED]") !== null`)
			if got := admin.eval(`document.querySelector("[data-count=updated]").innerText`); got != "1000" {
				t.Fatalf("the job page says %s suspended", got)
			}
			admin.screenshot("bulk-suspend-done")
			list := e.api(t, "GET", "/realms/"+realm+"/identities?page_size=1&filter="+url.QueryEscape(`status eq "suspended"`), nil)
			if list["total_size"] != float64(1000) {
				t.Fatalf("the API counts %v suspended", list["total_size"])
			}
		})
	}
}
