package storetest

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/session"
	"github.com/latchkey/latchkey/internal/store"
)

func testResourceServers(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	other := addRealm(t, s, r.TenantID, "Other")
	rs := newResourceServer(r, "https://api.example")
	must(t, s.CreateResourceServer(ctx, rs))
	got, err := s.GetResourceServer(ctx, r.ID, rs.ID)
	must(t, err)
	equal(t, "created resource server", got, rs)

	_, err = s.GetResourceServer(ctx, other.ID, rs.ID)
	wantErr(t, "get from another realm", err, latchkey.ErrNotFound)
	_, err = s.GetResourceServer(ctx, r.ID, "missing")
	wantErr(t, "get missing", err, latchkey.ErrNotFound)
	wantErr(t, "create a taken identifier", s.CreateResourceServer(ctx, newResourceServer(r, rs.Identifier)), latchkey.ErrDuplicate)
	must(t, s.CreateResourceServer(ctx, newResourceServer(other, rs.Identifier))) // another realm: fine
	wantErr(t, "create in a missing realm",
		s.CreateResourceServer(ctx, newResourceServer(directory.Realm{ID: "missing"}, "https://x.example")), latchkey.ErrNoParent)
}

func testApplications(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	other := addRealm(t, s, r.TenantID, "Other")
	rs := newResourceServer(r, "https://api.example")
	must(t, s.CreateResourceServer(ctx, rs))

	confidential := newApplication(r, "client-1")
	confidential.ResourceServerID, confidential.IsManaged = rs.ID, true
	confidential.ProtocolConfig.ClientSecret = "plain secret" // never stored
	must(t, s.CreateApplication(ctx, confidential, "sealed-secret"))
	got, sealed, err := s.GetApplication(ctx, r.ID, confidential.ID)
	must(t, err)
	want := confidential
	want.ProtocolConfig.ClientSecret = ""
	equal(t, "confidential application", got, want)
	equal(t, "sealed secret", sealed, "sealed-secret")

	public := newApplication(r, "client-2")
	public.ProtocolConfig.Confidentiality, public.ProtocolConfig.RedirectURIs = "public", nil
	must(t, s.CreateApplication(ctx, public, ""))
	got, sealed, err = s.GetApplication(ctx, r.ID, public.ID)
	must(t, err)
	equal(t, "public application", got, public)
	equal(t, "no secret", sealed, "")

	_, _, err = s.GetApplication(ctx, other.ID, public.ID)
	wantErr(t, "get from another realm", err, latchkey.ErrNotFound)
	id, err := s.ApplicationIDByClientID(ctx, r.ID, "client-2")
	must(t, err)
	equal(t, "found by client id", id, public.ID)
	_, err = s.ApplicationIDByClientID(ctx, other.ID, "client-2")
	wantErr(t, "find by client id in another realm", err, latchkey.ErrNotFound)
	_, err = s.ApplicationIDByClientID(ctx, r.ID, "client-9")
	wantErr(t, "find an unknown client id", err, latchkey.ErrNotFound)
	_, _, err = s.GetApplication(ctx, r.ID, "missing")
	wantErr(t, "get missing", err, latchkey.ErrNotFound)
	wantErr(t, "create a taken client id", s.CreateApplication(ctx, newApplication(r, "client-1"), ""), latchkey.ErrDuplicate)
	wantErr(t, "create a taken client id in another realm", s.CreateApplication(ctx, newApplication(other, "client-1"), ""), latchkey.ErrDuplicate)
	wantErr(t, "create in a missing realm", s.CreateApplication(ctx, newApplication(directory.Realm{ID: "missing"}, "client-3"), ""), latchkey.ErrNoParent)
	orphan := newApplication(r, "client-4")
	orphan.ResourceServerID = "missing"
	wantErr(t, "create for a missing resource server", s.CreateApplication(ctx, orphan, ""), latchkey.ErrNoParent)
}

func tokenGrant(v oauth.Token) oauth.Grant { return oauth.Grant{Tokens: []oauth.Token{v}} }

// testFinishAuthRequest: a sign-in is finished once, and only by what names
// it (its tenant, realm, application and challenge) before it expires.
func testFinishAuthRequest(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	app := addApplication(t, s, r)
	ar := oauth.AuthRequest{ID: latchkey.RandomString(32), TenantID: r.TenantID, RealmID: r.ID, ApplicationID: app.ID,
		Challenge: "challenge", CreateTime: now, ExpireTime: now.Add(time.Minute)}
	must(t, s.SaveAuthRequest(ctx, ar, nil))
	_, _, err := s.GetSignInByCode(ctx, "")
	wantErr(t, "a pending sign-in by its empty code", err, latchkey.ErrNotFound)
	alice := addIdentity(t, s, r, "alice")
	fin := ar
	fin.IdentityID, fin.CredentialID, fin.AuthTime, fin.CodeHash, fin.ExpireTime = alice.ID, "cred", now, "hash", now.Add(2*time.Minute)
	fin.SessionID, fin.AMR, fin.ACR = "the-session", []string{"pop", "mfa"}, "phr"
	for what, change := range map[string]func(*oauth.AuthRequest){
		"another challenge":   func(a *oauth.AuthRequest) { a.Challenge = "other" },
		"another application": func(a *oauth.AuthRequest) { a.ApplicationID = "other" },
		"another realm":       func(a *oauth.AuthRequest) { a.RealmID = "other" },
		"another tenant":      func(a *oauth.AuthRequest) { a.TenantID = "other" },
		"another sign-in":     func(a *oauth.AuthRequest) { a.ID = "other" },
	} {
		wrong := fin
		change(&wrong)
		wantErr(t, "finish with "+what, s.FinishAuthRequest(ctx, wrong, now), latchkey.ErrNotFound)
	}
	wantErr(t, "finish after it expired", s.FinishAuthRequest(ctx, fin, ar.ExpireTime.Add(time.Microsecond)), latchkey.ErrNotFound)
	must(t, s.FinishAuthRequest(ctx, fin, ar.ExpireTime))
	got, err := s.GetAuthRequest(ctx, ar.ID)
	must(t, err)
	if got.IdentityID != alice.ID || got.CodeHash != "hash" || !got.ExpireTime.Equal(fin.ExpireTime) ||
		got.SessionID != "the-session" || !slices.Equal(got.AMR, fin.AMR) || got.ACR != "phr" {
		t.Errorf("finished sign-in: %+v", got)
	}
	wantErr(t, "finish again", s.FinishAuthRequest(ctx, fin, now), latchkey.ErrNotFound)

	byCode, signer, err := s.GetSignInByCode(ctx, "hash")
	must(t, err)
	equal(t, "sign-in by its code", byCode, got)
	wantAlice, err := s.GetIdentity(ctx, r.ID, alice.ID)
	must(t, err)
	equal(t, "identity of the sign-in by its code", signer, wantAlice)
	_, _, err = s.GetSignInByCode(ctx, "other")
	wantErr(t, "another code", err, latchkey.ErrNotFound)

	// A sign-in in a session is saved finished: it reads back as finished.
	inSession := fin
	inSession.ID, inSession.CodeHash = latchkey.RandomString(32), "hash2"
	must(t, s.SaveAuthRequest(ctx, inSession, nil))
	saved, err := s.GetAuthRequest(ctx, inSession.ID)
	must(t, err)
	equal(t, "a sign-in saved finished", saved, inSession)
	wantErr(t, "finish a sign-in saved finished", s.FinishAuthRequest(ctx, inSession, now), latchkey.ErrNotFound)
	if byCode, _, err := s.GetSignInByCode(ctx, "hash2"); err != nil || byCode.ID != inSession.ID {
		t.Errorf("a sign-in saved finished, by its code: %+v, %v", byCode, err)
	}

	_, err = s.DeleteIdentities(ctx, r.ID, []string{alice.ID})
	must(t, err)
	_, _, err = s.GetSignInByCode(ctx, "hash")
	wantErr(t, "the code of a deleted identity", err, latchkey.ErrNotFound)
}

// testApprove: concurrent approvals (that the store may save together)
// each store all of theirs or nothing: a request finished once, a request
// stored finished in a live session with the session's application, and
// the events; a request no longer pending is latchkey.ErrNotFound and an
// ended session oauth.ErrSessionEnded, and neither leaves a trace.
func testApprove(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	app := addApplication(t, s, r)
	alice, laptop := addSigner(t, s, r, "alice")
	live, renewed := addSession(t, s, r, alice, laptop), addSession(t, s, r, alice, laptop)
	ended := addSession(t, s, r, alice, laptop)
	_, err := s.EndSessions(ctx, session.End{IDs: []string{ended.ID}, At: now, Reason: "sign_out"})
	must(t, err)
	at := now.Add(time.Minute)
	// An approval of a pending request names it (its parameters are
	// read with it, as the embedded SDK's are).
	pending := func() oauth.AuthRequest {
		ar := oauth.AuthRequest{ID: latchkey.RandomString(32), TenantID: r.TenantID, RealmID: r.ID, ApplicationID: app.ID,
			Challenge: "c", CreateTime: now, ExpireTime: now.Add(time.Hour),
			Params: oauth.AuthParams{RedirectURI: "https://app.example.com/cb", Nonce: latchkey.RandomString(8)}}
		must(t, s.SaveAuthRequest(ctx, ar, nil))
		return oauth.AuthRequest{ID: ar.ID, TenantID: ar.TenantID, RealmID: ar.RealmID, ApplicationID: ar.ApplicationID, Challenge: ar.Challenge}
	}
	finished := func(ar oauth.AuthRequest, sessionID string) oauth.AuthRequest {
		ar.IdentityID, ar.CredentialID, ar.AuthTime, ar.CodeHash = alice, laptop, now, latchkey.RandomString(64)
		ar.ExpireTime, ar.SessionID, ar.AMR, ar.ACR = at.Add(time.Minute), sessionID, []string{"hwk"}, "pop"
		return ar
	}
	inSession := func(sessionID string) oauth.AuthRequest {
		return finished(oauth.AuthRequest{ID: latchkey.RandomString(32), TenantID: r.TenantID, RealmID: r.ID,
			ApplicationID: app.ID, Challenge: "c", CreateTime: at}, sessionID)
	}
	contested := pending()
	spent := pending()
	must(t, s.FinishAuthRequest(ctx, finished(spent, ""), now))
	// Sessions that sign-ins began, stored with their approvals.
	begun, begunRefused := newSession(r, alice, laptop), newSession(r, alice, laptop)
	cases := []struct {
		what     string
		approval oauth.Approval
		want     error // nil: stored, unless contested
	}{
		{"a pending request", oauth.Approval{Request: finished(pending(), "")}, nil},
		{"a pending request in a live session", oauth.Approval{Request: finished(pending(), live.ID)}, nil},
		{"a request in a live session", oauth.Approval{Request: inSession(live.ID), New: true}, nil},
		{"another in the same session", oauth.Approval{Request: inSession(live.ID), New: true}, nil},
		{"a request in a session due a touch", oauth.Approval{Request: inSession(renewed.ID), New: true, TouchSession: true}, nil},
		{"a request in an ended session", oauth.Approval{Request: inSession(ended.ID), New: true}, oauth.ErrSessionEnded},
		{"a pending request in an ended session", oauth.Approval{Request: finished(pending(), ended.ID), TouchSession: true}, oauth.ErrSessionEnded},
		{"a request finished before", oauth.Approval{Request: finished(spent, "")}, latchkey.ErrNotFound},
		{"a pending request with the session it began", oauth.Approval{Request: finished(pending(), begun.ID), Session: &begun}, nil},
		{"a request finished before, with the session it began", oauth.Approval{Request: finished(spent, begunRefused.ID), Session: &begunRefused},
			latchkey.ErrNotFound},
		{"a contested request", oauth.Approval{Request: finished(contested, "")}, nil},
		{"a contested request again", oauth.Approval{Request: finished(contested, "")}, nil},
	}
	errs := make([]error, len(cases))
	approved := make([]oauth.AuthRequest, len(cases))
	var wg sync.WaitGroup
	for i := range cases {
		c := &cases[i]
		c.approval.At = at
		c.approval.Events = []audit.Event{newEvent(r.TenantID, r.ID, i, "sign_in.allowed")}
		wg.Go(func() { approved[i], errs[i] = s.Approve(ctx, c.approval) })
	}
	// The other writes of sign-ins, at the same time (the store may save
	// them with the approvals): a grant that spends a code, a new request,
	// a new session.
	redemption := familyGrant(app, spent.ID, alice, laptop, now.Add(time.Hour))
	var grantErr, requestErr error
	wg.Go(func() { grantErr = s.SaveGrant(ctx, redemption) })
	started := oauth.AuthRequest{ID: latchkey.RandomString(32), TenantID: r.TenantID, RealmID: r.ID, ApplicationID: app.ID,
		Challenge: "c", CreateTime: now, ExpireTime: now.Add(time.Hour)}
	wg.Go(func() { requestErr = s.SaveAuthRequest(ctx, started, nil) })
	alone := newSession(r, alice, laptop)
	var sessionErr error
	wg.Go(func() { sessionErr = s.CreateSession(ctx, alone) })
	wg.Wait()
	must(t, grantErr)
	must(t, requestErr)
	must(t, sessionErr)
	stored, err := s.GetSession(ctx, alone.ID)
	must(t, err)
	equal(t, "a session begun meanwhile", stored, alone)
	stored, err = s.GetSession(ctx, begun.ID)
	must(t, err)
	begun.Applications = []string{app.ID}
	equal(t, "a session stored with its approval", stored, begun)
	_, err = s.GetSession(ctx, begunRefused.ID)
	wantErr(t, "a session of an approval refused", err, latchkey.ErrNotFound)
	_, err = s.GetToken(ctx, redemption.Tokens[0].ID)
	must(t, err)
	saved, err := s.GetAuthRequest(ctx, started.ID)
	must(t, err)
	if saved.IdentityID != "" || saved.Challenge != started.Challenge || !saved.ExpireTime.Equal(started.ExpireTime) {
		t.Errorf("a request saved meanwhile: %+v", saved)
	}
	contestWon := 0
	var recorded []string
	for i, c := range cases {
		req := c.approval.Request
		got, getErr := s.GetAuthRequest(ctx, req.ID)
		switch {
		case c.approval.Request.ID == contested.ID && errs[i] == nil:
			contestWon++
		case c.approval.Request.ID == contested.ID:
			wantErr(t, c.what, errs[i], latchkey.ErrNotFound)
			continue
		default:
			wantErr(t, c.what, errs[i], c.want)
		}
		if errs[i] != nil {
			if c.approval.New {
				wantErr(t, c.what+": the request", getErr, latchkey.ErrNotFound)
			} else if getErr == nil && got.CodeHash == req.CodeHash {
				t.Errorf("%s: the request was finished", c.what)
			}
			continue
		}
		recorded = append(recorded, c.approval.Events[0].ID)
		must(t, getErr)
		if got.IdentityID != alice || got.CodeHash != req.CodeHash || got.SessionID != req.SessionID {
			t.Errorf("%s: stored %+v", c.what, got)
		}
		equal(t, c.what+": the request returned, as stored", approved[i], got)
	}
	equal(t, "approvals of the contested request that won", contestWon, 1)
	list, _, err := s.Audit().ListEvents(ctx, r.TenantID, r.ID, all(nil))
	must(t, err)
	sameIDs(t, "events of the approvals stored", slices.Sorted(slices.Values(ids(list, eventID))), slices.Sorted(slices.Values(recorded)))
	for _, v := range []session.Session{live, renewed} {
		got, err := s.GetSession(ctx, v.ID)
		must(t, err)
		equal(t, "applications of a session used", got.Applications, []string{app.ID})
	}
	got, err := s.GetSession(ctx, renewed.ID)
	must(t, err)
	equal(t, "last seen of the session touched", got.LastSeenTime, at)
	got, err = s.GetSession(ctx, live.ID)
	must(t, err)
	equal(t, "last seen of a session not touched", got.LastSeenTime, live.LastSeenTime)
	got, err = s.GetSession(ctx, ended.ID)
	must(t, err)
	equal(t, "applications of the ended session", got.Applications, []string{})
}

// testRedeemCodes: concurrent grants that redeem codes (and that the store
// may save together) each spend their code once, all or nothing: of
// redemptions of one code exactly one stores its records and starts its
// family, the others store nothing, and a grant that cannot be stored
// leaves its code unspent and fails alone.
func testRedeemCodes(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	app := addApplication(t, s, r)
	exp := now.Add(time.Hour)
	alice, laptop := addSigner(t, s, r, "alice")
	signIn := func() string {
		ar := oauth.AuthRequest{ID: latchkey.RandomString(32), TenantID: r.TenantID, RealmID: r.ID, ApplicationID: app.ID,
			Challenge: "c", CreateTime: now, ExpireTime: exp}
		must(t, s.SaveAuthRequest(ctx, ar, nil))
		ar.IdentityID, ar.CredentialID, ar.AuthTime, ar.CodeHash = alice, laptop, now, latchkey.RandomString(64)
		must(t, s.FinishAuthRequest(ctx, ar, now))
		return ar.ID
	}
	grant := func(redeems string, a oauth.Application) oauth.Grant {
		return familyGrant(a, redeems, alice, laptop, exp)
	}
	saveAll := func(grants []oauth.Grant) []error {
		errs := make([]error, len(grants))
		var wg sync.WaitGroup
		for i, g := range grants {
			wg.Go(func() { errs[i] = s.SaveGrant(ctx, g) })
		}
		wg.Wait()
		return errs
	}
	stored := func(g oauth.Grant) bool {
		_, err := s.GetToken(ctx, g.Tokens[0].ID)
		if g.Refresh != nil {
			if _, rerr := s.GetRefreshToken(ctx, g.Refresh.Hash); (rerr == nil) != (err == nil) {
				t.Errorf("grant of %s: token stored %v, refresh token stored %v", g.Redeems, err == nil, rerr == nil)
			}
		}
		return err == nil
	}

	contested, others := signIn(), []string{signIn(), signIn(), signIn(), signIn()}
	var grants []oauth.Grant
	for range 8 {
		grants = append(grants, grant(contested, app))
	}
	for _, id := range others {
		grants = append(grants, grant(id, app))
	}
	grants = append(grants, tokenGrant(newToken(app, "application", app.ID, exp.Unix())))
	winners := 0
	for i, err := range saveAll(grants) {
		g := grants[i]
		switch {
		case g.Redeems == contested && err == nil:
			winners++
			ar, err := s.GetAuthRequest(ctx, contested)
			must(t, err)
			if !ar.CodeUsed || !stored(g) {
				t.Errorf("winning redemption: code used %v, stored %v", ar.CodeUsed, stored(g))
			}
		case g.Redeems == contested:
			wantErr(t, "a redemption of a spent code", err, latchkey.ErrNotFound)
			if stored(g) {
				t.Errorf("a refused redemption stored its records")
			}
		default:
			must(t, err)
			if !stored(g) {
				t.Errorf("grant %d is not stored", i)
			}
		}
	}
	if winners != 1 {
		t.Errorf("%d redemptions of one code succeeded, want 1", winners)
	}

	broken := grant(signIn(), oauth.Application{ID: "missing"})
	fine := []oauth.Grant{grant(signIn(), app), grant(signIn(), app), broken, grant(signIn(), app)}
	for i, err := range saveAll(fine) {
		if fine[i].Redeems != broken.Redeems {
			must(t, err)
			continue
		}
		wantErr(t, "a grant for a missing application", err, latchkey.ErrNoParent)
		if ar, err := s.GetAuthRequest(ctx, broken.Redeems); err != nil || ar.CodeUsed || stored(broken) {
			t.Errorf("a failed grant spent its code (%v, %v) or stored records", ar.CodeUsed, err)
		}
	}
	wantErr(t, "redeem a spent code again", s.SaveGrant(ctx, grant(others[0], app)), latchkey.ErrNotFound)
	err := s.Update(ctx, func(tx store.Tx) error { return tx.SaveGrant(ctx, grant(others[1], app)) })
	wantErr(t, "redeem a spent code in a transaction", err, latchkey.ErrNotFound)
}

// testConcurrentTokens: records that concurrent requests create (and that
// the store may insert together) are all stored, and a bad one fails alone.
func testConcurrentTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	app := addApplication(t, s, newRealm(t, s))
	exp := now.Add(time.Hour).Unix()
	var tokens []oauth.Token
	for range 300 {
		tokens = append(tokens, newToken(app, "application", app.ID, exp))
	}
	bad := map[int]error{7: latchkey.ErrNoParent, 150: latchkey.ErrDuplicate}
	tokens[7].ApplicationID = "missing"
	tokens[150].ID = tokens[149].ID
	errs := make([]error, len(tokens))
	var wg sync.WaitGroup
	for i, v := range tokens {
		wg.Go(func() { errs[i] = s.SaveGrant(ctx, tokenGrant(v)) })
	}
	wg.Wait()
	stored := 0
	for i, err := range errs {
		if i == 149 || i == 150 { // one of the two with the same id wins
			if err == nil {
				stored++
			} else {
				wantErr(t, "create a taken id", err, latchkey.ErrDuplicate)
			}
			continue
		}
		if want := bad[i]; want != nil {
			wantErr(t, fmt.Sprintf("create token %d", i), err, want)
			continue
		}
		must(t, err)
		got, err := s.GetToken(ctx, tokens[i].ID)
		must(t, err)
		equal(t, "stored token", got, tokens[i])
		stored++
	}
	if _, total, err := s.ListTokens(ctx, app.ID, oauth.TokenFilter{}, all(nil)); err != nil || total != stored || stored != len(tokens)-2 {
		t.Errorf("%d tokens listed (err %v), %d created, want %d", total, err, stored, len(tokens)-2)
	}
}

func testTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	app, otherApp := addApplication(t, s, r), addApplication(t, s, r)
	exp := now.Add(time.Hour).Unix()
	var mine []oauth.Token
	for i := range 6 {
		principalType, principalID := "identity", "alice"
		switch i {
		case 1:
			principalID = "bob"
		case 4, 5:
			principalType, principalID = "application", app.ID
		}
		mine = append(mine, newToken(app, principalType, principalID, exp))
	}
	// A referential token's record keeps its claims.
	mine[2].TokenFormat, mine[2].Claims = "referential", `{"sub":"alice","scope":"pets:read"}`
	for _, v := range mine {
		must(t, s.SaveGrant(ctx, tokenGrant(v)))
	}
	got, err := s.GetToken(ctx, mine[2].ID)
	must(t, err)
	equal(t, "created referential token", got, mine[2])
	theirs := newToken(otherApp, "identity", "alice", exp)
	must(t, s.SaveGrant(ctx, tokenGrant(theirs)))

	got, err = s.GetToken(ctx, mine[0].ID)
	must(t, err)
	equal(t, "created token", got, mine[0])
	_, err = s.GetToken(ctx, "missing")
	wantErr(t, "get missing", err, latchkey.ErrNotFound)
	wantErr(t, "create a taken id", s.SaveGrant(ctx, tokenGrant(mine[0])), latchkey.ErrDuplicate)
	wantErr(t, "create for a missing application", s.SaveGrant(ctx, tokenGrant(newToken(oauth.Application{ID: "missing"}, "identity", "x", exp))), latchkey.ErrNoParent)

	list, total, err := s.ListTokens(ctx, app.ID, oauth.TokenFilter{}, all(nil))
	must(t, err)
	equal(t, "tokens of the application", list, sortedBy(mine, tokenID))
	wantTotal(t, "tokens of the application", total, 6)
	checkPaging(t, func(o latchkey.ListOptions) ([]string, int, error) {
		list, total, err := s.ListTokens(ctx, app.ID, oauth.TokenFilter{}, o)
		return ids(list, tokenID), total, err
	}, ids(sortedBy(mine, tokenID), tokenID))

	filters := []struct {
		f    oauth.TokenFilter
		want []oauth.Token
	}{
		{oauth.TokenFilter{PrincipalType: "identity"}, mine[:4]},
		{oauth.TokenFilter{PrincipalType: "identity", PrincipalID: "alice"}, []oauth.Token{mine[0], mine[2], mine[3]}},
		{oauth.TokenFilter{PrincipalID: "bob"}, mine[1:2]},
		{oauth.TokenFilter{PrincipalType: "application", PrincipalID: app.ID}, mine[4:]},
		{oauth.TokenFilter{PrincipalType: "application", PrincipalID: "alice"}, nil},
	}
	for _, c := range filters {
		what := fmt.Sprintf("tokens of %+v", c.f)
		list, total, err := s.ListTokens(ctx, app.ID, c.f, all(nil))
		must(t, err)
		sameIDs(t, what, ids(list, tokenID), ids(sortedBy(c.want, tokenID), tokenID))
		wantTotal(t, what, total, len(c.want))
	}

	wantErr(t, "delete through another application", s.DeleteToken(ctx, otherApp.ID, mine[0].ID), latchkey.ErrNotFound)
	must(t, s.DeleteToken(ctx, app.ID, mine[0].ID))
	_, err = s.GetToken(ctx, mine[0].ID)
	wantErr(t, "get deleted", err, latchkey.ErrNotFound)
	wantErr(t, "delete again", s.DeleteToken(ctx, app.ID, mine[0].ID), latchkey.ErrNotFound)
	_, total, err = s.ListTokens(ctx, app.ID, oauth.TokenFilter{}, all(nil))
	must(t, err)
	wantTotal(t, "tokens after a delete", total, 5)
	_, err = s.GetToken(ctx, theirs.ID)
	must(t, err)
}

func testDeleteExpiredTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	app, otherApp := addApplication(t, s, r), addApplication(t, s, r)
	cutoff := now.Truncate(time.Second)
	long := newToken(app, "identity", "a", cutoff.Add(-time.Hour).Unix())
	just := newToken(otherApp, "identity", "a", cutoff.Add(-time.Second).Unix())
	atCutoff := newToken(app, "identity", "a", cutoff.Unix())
	later := newToken(otherApp, "identity", "a", cutoff.Add(time.Hour).Unix())
	for _, v := range []oauth.Token{long, just, atCutoff, later} {
		must(t, s.SaveGrant(ctx, tokenGrant(v)))
	}
	n, err := s.DeleteExpiredTokens(ctx, cutoff)
	must(t, err)
	if n != 2 {
		t.Errorf("deleted %d, want 2", n)
	}
	for _, v := range []oauth.Token{long, just} {
		_, err := s.GetToken(ctx, v.ID)
		wantErr(t, "get expired", err, latchkey.ErrNotFound)
	}
	for _, v := range []oauth.Token{atCutoff, later} {
		if _, err := s.GetToken(ctx, v.ID); err != nil {
			t.Errorf("token expiring at the cutoff or later: %v", err)
		}
	}
	n, err = s.DeleteExpiredTokens(ctx, cutoff)
	must(t, err)
	if n != 0 {
		t.Errorf("deleted %d again, want 0", n)
	}
}

func testSigningKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	keys, err := s.ListSigningKeys(ctx)
	must(t, err)
	if len(keys) != 0 {
		t.Errorf("a new store has %d signing keys", len(keys))
	}
	key := func(id string, age time.Duration) oauth.SigningKey {
		return oauth.SigningKey{ID: id, Algorithm: "RS256", PrivateKeySealed: "sealed-" + id, CreateTime: now.Add(-age)}
	}
	oldest, middle, newest := key("k-c", 2*time.Hour), key("k-a", time.Hour), key("k-b", 0)
	for _, k := range []oauth.SigningKey{middle, newest, oldest} {
		must(t, s.CreateSigningKey(ctx, k))
	}
	wantErr(t, "create a taken id", s.CreateSigningKey(ctx, key("k-a", 0)), latchkey.ErrDuplicate)
	keys, err = s.ListSigningKeys(ctx)
	must(t, err)
	keyID := func(k oauth.SigningKey) string { return k.ID }
	equal(t, "keys", sortedBy(keys, keyID), sortedBy([]oauth.SigningKey{oldest, middle, newest}, keyID))
}

// testAuthRequestsTogether: the requests that concurrent sign-ins save are
// stored with exactly their events; of two saves of one id, one succeeds
// and the other is a duplicate, without failing the others' saves.
func testAuthRequestsTogether(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	app := addApplication(t, s, r)
	const n = 40
	saved := make([]oauth.AuthRequest, 2*n)
	outcomes := make([]error, 2*n)
	var wg sync.WaitGroup
	for i := range 2 * n {
		// Requests i and i+n have the same id.
		saved[i] = oauth.AuthRequest{ID: fmt.Sprintf("request-%d", i%n), TenantID: r.TenantID, RealmID: r.ID, ApplicationID: app.ID,
			Params: oauth.AuthParams{State: fmt.Sprint(i)}, Challenge: fmt.Sprint("challenge-", i), AMR: []string{},
			AuthTime:   time.UnixMicro(0).UTC(), // a pending sign-in's, as stored
			CreateTime: now, ExpireTime: now.Add(time.Minute)}
		e := newEvent(r.TenantID, r.ID, i, "sign_in.started")
		wg.Go(func() { outcomes[i] = s.SaveAuthRequest(ctx, saved[i], &e) })
	}
	wg.Wait()
	for i := range n {
		a, b := outcomes[i], outcomes[i+n]
		if (a == nil) == (b == nil) || !errors.Is(cmp.Or(a, b), latchkey.ErrDuplicate) {
			t.Fatalf("the two saves of request-%d: %v, %v; want one nil and one latchkey.ErrDuplicate", i, a, b)
		}
		kept := saved[i]
		if a != nil {
			kept = saved[i+n]
		}
		got, err := s.GetAuthRequest(ctx, kept.ID)
		must(t, err)
		equal(t, "a saved request", got, kept)
	}
	_, total, err := s.Audit().ListEvents(ctx, r.TenantID, r.ID, all(nil))
	must(t, err)
	if total != n {
		t.Errorf("%d events for %d requests saved", total, n)
	}
}
