// Package browsertest runs headless Chromium for tests that need a real
// browser: the hosted pages with a virtual WebAuthn authenticator, and the
// official embedded SDK. It is the one package that imports chromedp.
//
// Only tests import it.
package browsertest

import (
	"context"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/latchkey/latchkey/internal/testenv"
)

// chromium finds the browser: LATCHKEY_TEST_CHROMIUM, else Debian's.
func chromium() string {
	if p := os.Getenv("LATCHKEY_TEST_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Start returns the context of a new tab for the test, closed when it ends,
// in a browser context of its own (its own cookies, storage and
// authenticators) of the Chromium this test process shares: starting a
// Chromium costs 3–5 s of CPU, and the tests of a package start dozens.
// Without Chromium the test is skipped (or fails in CI, see
// testenv.Unavailable).
func Start(t testing.TB) context.Context {
	t.Helper()
	path := chromium()
	if path == "" {
		testenv.Unavailable(t, "Chromium is not installed (apt-get install chromium, or set LATCHKEY_TEST_CHROMIUM)")
	}
	parent, err := shared(path)
	if err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	ctx, cancel := chromedp.NewContext(parent, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("open a tab of %s: %v", path, err)
	}
	return ctx
}

// browser is the Chromium of this test process, started by the first
// Start and stopped with the process (chromedp has the kernel kill it when
// its parent exits).
var browser struct {
	sync.Mutex
	ctx context.Context // its first tab's, which keeps it running
}

// shared returns the context of the shared Chromium's first tab, starting
// it when no test has or when it has stopped.
func shared(path string) (context.Context, error) {
	browser.Lock()
	defer browser.Unlock()
	if browser.ctx != nil && browser.ctx.Err() == nil {
		return browser.ctx, nil
	}
	home, err := os.MkdirTemp("", "latchkey-chromium-")
	if err != nil {
		return nil, err
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // tests run as root in CI
		chromedp.DisableGPU,
		chromedp.IgnoreCertErrors, // the node's self-signed certificate
		chromedp.UserDataDir(home+"/profile"),
		chromedp.Env("XDG_CONFIG_HOME="+home+"/config", "XDG_CACHE_HOME="+home+"/cache"),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-sync", true),
	)
	alloc, _ := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, _ := chromedp.NewContext(alloc)
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		return nil, err
	}
	browser.ctx = ctx
	return ctx, nil
}

// AddAuthenticator gives the tab a virtual platform authenticator that
// keeps discoverable credentials and verifies its user without asking.
func AddAuthenticator(t testing.TB, ctx context.Context) {
	t.Helper()
	addAuthenticator(t, ctx, true, webauthn.AuthenticatorTransportInternal)
}

// AddHybridAuthenticator gives the tab a virtual authenticator reached
// over hybrid transport (caBLE): a phone's passkeys, used from another
// device. It keeps discoverable credentials and verifies its user.
func AddHybridAuthenticator(t testing.TB, ctx context.Context) {
	t.Helper()
	addAuthenticator(t, ctx, true, webauthn.AuthenticatorTransportCable)
}

// AddAuthenticatorWithoutUV gives the tab a virtual authenticator that
// keeps discoverable credentials but cannot verify its user (a security
// key without a PIN): its passkeys say UV = 0.
func AddAuthenticatorWithoutUV(t testing.TB, ctx context.Context) {
	t.Helper()
	addAuthenticator(t, ctx, false, webauthn.AuthenticatorTransportInternal)
}

// AddAuthenticatorWithPasskey gives the tab a virtual authenticator as
// AddAuthenticator does, holding a discoverable passkey made elsewhere for
// rpID: its credential id, its P-256 private key (PKCS #8) and the user
// handle it was created with. The test knows its public key, to import it.
func AddAuthenticatorWithPasskey(t testing.TB, ctx context.Context, rpID string, credentialID, pkcs8, userHandle []byte) {
	t.Helper()
	id := addAuthenticator(t, ctx, true, webauthn.AuthenticatorTransportInternal)
	// Sent as a map: cdproto's Credential always sends
	// generateCmtgKeyOnNextOperation, which Chromium refuses ("CMTG is not
	// supported by this authenticator").
	addCredential := cdp.Command[map[string]any, cdp.Empty]{Method: webauthn.CommandAddCredential}
	_, err := chromedp.Run(ctx, func(ctx context.Context, tg *chromedp.Target) (cdp.Empty, error) {
		return cdp.Call(ctx, tg, addCredential, map[string]any{"authenticatorId": id, "credential": map[string]any{
			"credentialId": base64.StdEncoding.EncodeToString(credentialID), "isResidentCredential": true, "rpId": rpID,
			"privateKey": base64.StdEncoding.EncodeToString(pkcs8), "userHandle": base64.StdEncoding.EncodeToString(userHandle), "signCount": 0}})
	})
	if err != nil {
		t.Fatalf("add a passkey to the virtual authenticator: %v", err)
	}
}

func addAuthenticator(t testing.TB, ctx context.Context, verifies bool, transport webauthn.AuthenticatorTransport) webauthn.AuthenticatorID {
	t.Helper()
	res, err := chromedp.Run(ctx, func(ctx context.Context, tg *chromedp.Target) (webauthn.AddVirtualAuthenticatorResult, error) {
		if _, err := cdp.Call(ctx, tg, webauthn.Enable, webauthn.EnableParams{}); err != nil {
			return webauthn.AddVirtualAuthenticatorResult{}, err
		}
		return cdp.Call(ctx, tg, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
			Options: &webauthn.VirtualAuthenticatorOptions{
				Protocol: webauthn.AuthenticatorProtocolCtap2, Ctap2version: webauthn.Ctap2versionCtap21,
				Transport: transport, HasResidentKey: true, HasUserVerification: verifies,
				IsUserVerified: verifies, AutomaticPresenceSimulation: true,
			},
		})
	})
	if err != nil {
		t.Fatalf("add virtual authenticator: %v", err)
	}
	return res.AuthenticatorID
}

// WithoutAutofill makes the tab's pages, from the next navigation on, a
// browser without passkey autofill (conditional mediation): the virtual
// authenticator answers an autofill request by itself, at once, so a test
// that presses a page's passkey button must first take autofill away.
func WithoutAutofill(t testing.TB, ctx context.Context) {
	t.Helper()
	_, err := chromedp.Run(ctx, func(ctx context.Context, tg *chromedp.Target) (struct{}, error) {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
			Source: `if (window.PublicKeyCredential) PublicKeyCredential.isConditionalMediationAvailable = async () => false;`})
		return struct{}{}, err
	})
	if err != nil {
		t.Fatalf("take autofill away: %v", err)
	}
}

// WaitFor polls the tab with the JavaScript predicate until it is true,
// across navigations, for up to timeout. On failure it returns the text of
// the page's body, to show why.
func WaitFor(ctx context.Context, predicate string, timeout time.Duration) (ok bool, page string) {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if done, err := chromedp.Run(ctx, chromedp.Evaluate[bool](predicate)); err == nil && done {
			return true, ""
		}
	}
	page, _ = chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	return false, page
}

// sdkDir holds the npm project of the official embedded SDK; .ci/run (or
// `npm ci --prefix internal/browsertest/testdata/sdk`) installs it.
const sdkDir = "testdata/sdk"

// SDKScript returns the official embedded SDK's browser bundle
// (@beyondidentity/bi-sdk-js, dist/bi-embedded.js, which defines the global
// embeddedsdk). Without it the test is skipped (or fails in CI).
func SDKScript(t testing.TB) []byte {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), sdkDir)
	b, err := os.ReadFile(filepath.Join(dir, "node_modules/@beyondidentity/bi-sdk-js/dist/bi-embedded.js"))
	if err != nil {
		testenv.Unavailable(t, "the embedded SDK is not installed: run npm ci --prefix "+dir)
	}
	return b
}
