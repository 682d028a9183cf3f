package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/delivery"
	sessions "github.com/latchkey/latchkey/internal/session"
)

// LogoutParams are an end-session request (OpenID Connect RP-Initiated
// Logout 1.0 §2). logout_hint and ui_locales are accepted and not used:
// the browser's session, or the hint's, says who signs out, and the pages
// speak English.
type LogoutParams struct {
	IDTokenHint           string
	ClientID              string
	PostLogoutRedirectURI string
	State                 string
}

// Logout is an end-session request that CheckLogout accepted.
type Logout struct {
	Application Application
	// Hinted is true when id_token_hint is an ID token of the application:
	// the sign-out needs no confirmation.
	Hinted bool
	// SessionID is the hint's sid ("" for none).
	SessionID string
	// Redirect is where the browser goes afterwards: the
	// post_logout_redirect_uri with state, or "" for Latchkey's own page.
	Redirect string
}

// CheckLogout checks an end-session request to an application's issuer.
// A request it refuses is an *Error, which the browser is shown, never
// redirected with: id_token_hint not an ID token of this issuer (expired
// ones are accepted), client_id not the application's, a
// post_logout_redirect_uri not registered exactly.
func (s *Service) CheckLogout(ctx context.Context, tenantID, realmID, appID string, p LogoutParams) (Logout, error) {
	app, err := s.application(ctx, tenantID, realmID, appID)
	if err != nil {
		return Logout{}, err
	}
	l := Logout{Application: app}
	pc := app.ProtocolConfig
	if p.ClientID != "" && p.ClientID != pc.ClientID {
		return l, &Error{"invalid_request", "client_id does not name this application"}
	}
	if p.IDTokenHint != "" {
		c, ok := s.idTokenHint(ctx, app, p.IDTokenHint)
		if !ok {
			return l, &Error{"invalid_request", "id_token_hint is not an ID token of this application"}
		}
		l.Hinted, l.SessionID = true, c.SID
	}
	if p.PostLogoutRedirectURI != "" {
		if !slices.Contains(pc.PostLogoutRedirectURIs, p.PostLogoutRedirectURI) || latchkey.RedirectURIProblem(p.PostLogoutRedirectURI) != "" {
			return l, &Error{"invalid_request", "post_logout_redirect_uri is not registered for this application"}
		}
		v := url.Values{}
		if p.State != "" {
			v.Set("state", p.State)
		}
		l.Redirect = redirect(p.PostLogoutRedirectURI, v)
	}
	return l, nil
}

// SignOut ends what a checked logout names: the hint's session (its sid)
// and the browser's (current; nil for none), unless the two are of
// different identities, when only the hinted one ends. It returns the
// sessions it ended; their applications are told through back-channel
// logout (QueueBackchannelLogouts).
func (s *Service) SignOut(ctx context.Context, l Logout, current *sessions.Session) (ended []sessions.Session, err error) {
	app := l.Application
	err = s.store.Update(ctx, func(tx Tx) error {
		var ids []string
		var hinted sessions.Session
		if l.SessionID != "" {
			v, err := tx.GetSession(ctx, l.SessionID)
			if err != nil && !errors.Is(err, latchkey.ErrNotFound) {
				return err
			}
			if err == nil && v.TenantID == app.TenantID && v.RealmID == app.RealmID {
				hinted = v
				ids = append(ids, v.ID)
			}
		}
		if current != nil && current.ID != hinted.ID && (hinted.IdentityID == "" || hinted.IdentityID == current.IdentityID) {
			ids = append(ids, current.ID)
		}
		if len(ids) == 0 {
			return nil
		}
		ended, err = tx.EndSessions(ctx, sessions.End{At: s.Clock.Now(), Reason: sessions.ReasonSignedOut, IDs: ids})
		return err
	})
	return ended, err
}

// LogoutConfirmation is what the sign-out confirmation page posts back:
// the browser's session id, sealed, which no other site can read from the
// page, so none can make the browser sign out (CSRF).
func (s *Service) LogoutConfirmation(current sessions.Session) string {
	return s.box.Seal([]byte("logout/" + current.ID))
}

// LogoutConfirmed reports whether token is LogoutConfirmation's for current.
func (s *Service) LogoutConfirmed(token string, current sessions.Session) bool {
	plain, err := s.box.Open(token)
	return err == nil && string(plain) == "logout/"+current.ID
}

// KindBackchannelLogout names the deliveries of logout tokens; LogoutToken
// makes them.
const KindBackchannelLogout = "backchannel_logout"

// backchannelEvent is the logout token's event (Back-Channel Logout 1.0 §2.4).
const backchannelEvent = "http://schemas.openid.net/event/backchannel-logout"

// logoutTokenTTL is how long a logout token is valid: it is signed anew
// for every attempt, so a short one does.
const logoutTokenTTL = 2 * time.Minute

// logoutPayload is what a back-channel logout delivery keeps until it is
// sent: the subject is the one the application knew when the session
// ended (its identity may be gone by the time of a retry).
type logoutPayload struct {
	ApplicationID string `json:"application_id"`
	SID           string `json:"sid"`
	Subject       string `json:"sub,omitempty"`
}

// SessionsEnded is what every ending of sessions does in its transaction
// (the store calls it from Tx.EndSessions): a session.ended event for each
// session that did not simply expire, and the back-channel logouts. Expiry
// records nothing: it follows from the session's lifetime, and the sweep
// that ends expired sessions stays one statement.
func (s *Service) SessionsEnded(ctx context.Context, tx Tx, ended []sessions.Session) error {
	var events []audit.Event
	for _, v := range ended {
		if v.EndReason == sessions.ReasonExpired {
			continue
		}
		e := audit.NewAt(ctx, s.Clock.Now(), v.TenantID, v.RealmID, audit.SessionEnded, "Session", v.ID)
		e.IdentityID, e.CredentialID, e.Reason = v.IdentityID, v.CredentialID, v.EndReason
		events = append(events, e)
	}
	if err := tx.RecordEvents(ctx, events); err != nil {
		return err
	}
	return s.QueueBackchannelLogouts(ctx, tx, ended)
}

// QueueBackchannelLogouts queues in tx a logout token for every
// application that the ended sessions signed in to and that has a
// back-channel logout URI. The store calls it in the transaction of every
// ending of sessions, so none is lost or sent for an ending that rolled
// back. A session that expired tells no one: its applications' own
// sessions have lifetimes of their own.
func (s *Service) QueueBackchannelLogouts(ctx context.Context, tx Tx, ended []sessions.Session) error {
	apps := map[string]*Application{} // read once per ending
	queued := false
	for _, v := range ended {
		if v.EndReason == sessions.ReasonExpired {
			continue
		}
		var sub *string // read once per session, when an application needs it
		for _, appID := range v.Applications {
			app, read := apps[appID]
			if !read {
				a, _, err := tx.GetApplication(ctx, v.RealmID, appID)
				if err != nil && !errors.Is(err, latchkey.ErrNotFound) {
					return err
				}
				if err == nil && a.TenantID == v.TenantID && a.ProtocolConfig.BackchannelLogoutURI != "" {
					app = &a
				}
				apps[appID] = app
			}
			if app == nil {
				continue
			}
			if sub == nil {
				sub = new(string)
				i, err := tx.GetIdentity(ctx, v.RealmID, v.IdentityID)
				if err != nil && !errors.Is(err, latchkey.ErrNotFound) {
					return err
				}
				if err == nil { // a deleted identity's token names its session only
					*sub = subject(app.ProtocolConfig.TokenConfiguration.SubjectField, i)
				}
			}
			payload, _ := json.Marshal(logoutPayload{ApplicationID: appID, SID: v.ID, Subject: *sub})
			d := delivery.New(s.Clock.Now(), v.TenantID, v.RealmID, KindBackchannelLogout, "application:"+appID,
				app.ProtocolConfig.BackchannelLogoutURI, string(payload))
			if err := tx.EnqueueDelivery(ctx, d); err != nil {
				return err
			}
			queued = true
		}
	}
	if queued && s.DeliveryQueued != nil {
		s.DeliveryQueued()
	}
	return nil
}

// logoutClaims are a logout token's (Back-Channel Logout 1.0 §2.4).
type logoutClaims struct {
	jwt.Claims
	Events map[string]struct{} `json:"events"`
	SID    string              `json:"sid"`
}

// LogoutToken is the delivery.Kind of back-channel logouts: the form body
// logout_token=<JWT>, signed with our keys at the time of the attempt, so
// that a retry's token is not expired. A delivery whose application is
// gone, or no longer has that back-channel logout URI, is not sent
// (latchkey.ErrNotFound).
func (s *Service) LogoutToken(ctx context.Context, d delivery.Delivery, now time.Time) (map[string]string, []byte, error) {
	var p logoutPayload
	if err := json.Unmarshal([]byte(d.Payload), &p); err != nil {
		return nil, nil, err
	}
	app, _, err := s.store.GetApplication(ctx, d.RealmID, p.ApplicationID)
	if err == nil && (app.TenantID != d.TenantID || app.ProtocolConfig.BackchannelLogoutURI != d.URL) {
		err = latchkey.ErrNotFound
	}
	if err != nil {
		return nil, nil, fmt.Errorf("application %s with that back-channel logout URI: %w", p.ApplicationID, err)
	}
	now = now.Truncate(time.Second)
	issuer := s.Issuer(app.TenantID, app.RealmID, app.ID)
	c := logoutClaims{
		Claims: jwt.Claims{Issuer: issuer, Subject: p.Subject, Audience: jwt.Audience{app.ProtocolConfig.ClientID},
			IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(logoutTokenTTL)), ID: latchkey.RandomString(32)},
		Events: map[string]struct{}{backchannelEvent: {}}, SID: p.SID,
	}
	raw, err := s.signTyped(tokenAlgorithm(app), "logout+jwt", issuer, c)
	if err != nil {
		return nil, nil, err
	}
	return map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, []byte(url.Values{"logout_token": {raw}}.Encode()), nil
}
