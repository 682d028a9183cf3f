package saml

import (
	"cmp"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"time"

	crewsaml "github.com/crewjam/saml"
	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/nodecache"
	"github.com/latchkey/latchkey/internal/secretbox"
	"github.com/latchkey/latchkey/internal/session"
	dsig "github.com/russellhaering/goxmldsig"
)

// requestTTL is how long a SAML sign-in waits for a passkey on the hosted
// page. It outlives the time an AuthnRequest is accepted
// (crewsaml.MaxIssueDelay), so a request's ID stays spent while the request
// could be replayed.
const requestTTL = 10 * time.Minute

// Service is the SAML identity provider of every realm.
type Service struct {
	store Store
	box   *secretbox.Box
	// Providers are the SSO configs that are SAML service providers.
	Providers ServiceProviders
	// BaseURL is Latchkey's public URL, the base of the IdP's entity IDs
	// and endpoints.
	BaseURL string
	Clock   latchkey.Clock
	cache   keyCache
	// certs are the realms' certificates as this node read them.
	certs nodecache.Cache[[]Certificate]
}

// NewService returns the SAML service.
func NewService(st Store, box *secretbox.Box, providers ServiceProviders, baseURL string) *Service {
	return &Service{store: st, box: box, Providers: providers, BaseURL: baseURL}
}

// Path is where a config's SAML endpoints live, under BaseURL: the
// metadata (its URL is the IdP's entity ID), sso, signin, idp-initiated and slo.
func Path(tenantID, realmID, configID string) string {
	return "/v1/tenants/" + tenantID + "/realms/" + realmID + "/sso-configs/" + configID + "/saml"
}

// Post is a SAML message for the browser to post to the SP (HTTP-POST
// binding): a Response to its ACS URL; or a WS-Federation sign-in's
// wresult (RelayState its wctx) to the relying party's reply URL.
type Post struct {
	URL          string
	SAMLResponse string // base64
	RelayState   string
	WResult      string
	// Denied is why the Response carries no assertion (policy or a
	// suspended identity), or "".
	Denied string
}

// Fields are the form fields of the post: SAMLResponse and RelayState, or
// wa, wresult and wctx.
func (p Post) Fields() map[string]string {
	fields := map[string]string{"SAMLResponse": p.SAMLResponse, "RelayState": p.RelayState}
	if p.WResult != "" {
		fields = map[string]string{"wa": "wsignin1.0", "wresult": p.WResult, "wctx": p.RelayState}
	}
	for k, v := range fields {
		if v == "" {
			delete(fields, k)
		}
	}
	return fields
}

// Outcome is what a sign-in request comes to: a Response to post, or a
// Request pending until a passkey signs in on the hosted page.
type Outcome struct {
	Post    *Post
	Pending *Request
	SP      ServiceProvider
}

func badRequest(format string, a ...any) error {
	return latchkey.Errorf(latchkey.CodeBadRequest, format, a...)
}

// serves says which configs an endpoint serves: SAML SPs, WS-Federation
// relying parties, or either (the hosted sign-in both share).
type serves int

const (
	servesSAML serves = iota
	servesWSFed
	servesEither
)

// provider is the crewjam identity provider of one config at now: the
// realm's current key signs; the next and the previous are published. A
// config that the endpoint does not serve is latchkey.ErrNotFound.
func (s *Service) provider(ctx context.Context, tenantID, realmID, configID string, want serves) (*crewsaml.IdentityProvider, ServiceProvider, *crewsaml.EntityDescriptor, error) {
	sp, err := s.Providers.ServiceProvider(ctx, tenantID, realmID, configID)
	if err == nil && (want == servesSAML && sp.WSFed || want == servesWSFed && !sp.WSFed) {
		err = latchkey.ErrNotFound
	}
	if err != nil {
		return nil, sp, nil, err
	}
	ed, err := sp.metadata()
	if err != nil {
		return nil, sp, nil, err
	}
	ring, err := s.keys(ctx, tenantID, realmID)
	if err != nil {
		return nil, sp, nil, err
	}
	base, ssoPath := s.BaseURL+Path(tenantID, realmID, configID), "/sso"
	if sp.WSFed {
		// The passive requestor endpoint is the path itself.
		base, ssoPath = s.BaseURL+WSFedPath(tenantID, realmID, configID), ""
	}
	u := func(p string) url.URL {
		parsed, _ := url.Parse(base + p)
		return *parsed
	}
	idp := &crewsaml.IdentityProvider{
		Key: ring.current.key, Signer: ring.current.signer, Certificate: ring.current.cert,
		Logger:      log.New(io.Discard, "", 0),
		MetadataURL: u("/metadata"), SSOURL: u(ssoPath), LogoutURL: u("/slo"),
		ServiceProviderProvider: oneProvider{ed},
		SignatureMethod:         dsig.RSASHA256SignatureMethod,
		Clock:                   dsig.NewFakeClockAt(s.Clock.Now()),
		WantAuthnRequestsSigned: sp.ValidateSignedRequests,
		NameIDFormats:           []crewsaml.NameIDFormat{crewsaml.NameIDFormat(nameIDFormat(sp.NameFormat))},
		LogoutBindings:          []string{crewsaml.HTTPRedirectBinding, crewsaml.HTTPPostBinding},
		ReplayCache:             replayCache{ctx: ctx, s: s, tenantID: tenantID, realmID: realmID, configID: configID},
	}
	for _, k := range ring.others {
		idp.ExtraCertificates = append(idp.ExtraCertificates, k.cert)
	}
	return idp, sp, ed, nil
}

// oneProvider is the one SP a config's IdP knows.
type oneProvider struct{ ed *crewsaml.EntityDescriptor }

func (p oneProvider) GetServiceProvider(_ *http.Request, id string) (*crewsaml.EntityDescriptor, error) {
	if id != p.ed.EntityID {
		return nil, os.ErrNotExist
	}
	return p.ed, nil
}

// replayCache spends the IDs of LogoutRequests in the database, as
// AuthnRequests are spent: on every node, once.
type replayCache struct {
	ctx                         context.Context
	s                           *Service
	tenantID, realmID, configID string
}

func (c replayCache) Consume(id string, expiresAt time.Time) error {
	now := c.s.Clock.Now()
	err := c.s.store.SaveSAMLRequest(c.ctx, Request{ID: latchkey.NewUUID(), TenantID: c.tenantID, RealmID: c.realmID,
		ConfigID: c.configID, RequestID: id, Spent: true, CreateTime: now, ExpireTime: expiresAt.Add(crewsaml.MaxClockSkew)}, nil)
	if errors.Is(err, latchkey.ErrDuplicate) {
		return crewsaml.ErrAssertionReplayed
	}
	return err
}

// metadata is the SP as crewjam sees it: its entity ID, ACS URLs (HTTP-POST;
// the default first), signing certificates and SLO endpoint.
func (sp ServiceProvider) metadata() (*crewsaml.EntityDescriptor, error) {
	yes, signed := true, sp.ValidateSignedRequests
	d := crewsaml.SPSSODescriptor{AuthnRequestsSigned: &signed}
	d.ProtocolSupportEnumeration = "urn:oasis:names:tc:SAML:2.0:protocol"
	index := 0
	for _, o := range sp.OtherACSURLs {
		index = max(index, o.Index+1)
	}
	d.AssertionConsumerServices = append(d.AssertionConsumerServices,
		crewsaml.IndexedEndpoint{Binding: crewsaml.HTTPPostBinding, Location: sp.ACSURL, Index: index, IsDefault: &yes})
	for _, o := range sp.OtherACSURLs {
		d.AssertionConsumerServices = append(d.AssertionConsumerServices,
			crewsaml.IndexedEndpoint{Binding: crewsaml.HTTPPostBinding, Location: o.URL, Index: o.Index})
	}
	for _, p := range sp.SigningCertificates {
		c, err := parseCertificate(p)
		if err != nil {
			return nil, fmt.Errorf("the SP's signing certificate: %w", err)
		}
		d.KeyDescriptors = append(d.KeyDescriptors, crewsaml.KeyDescriptor{Use: "signing", KeyInfo: crewsaml.KeyInfo{
			X509Data: crewsaml.X509Data{X509Certificates: []crewsaml.X509Certificate{{Data: base64.StdEncoding.EncodeToString(c.Raw)}}}}})
	}
	if sp.EnableSingleLogout && sp.SingleLogoutURL != "" {
		binding := crewsaml.HTTPRedirectBinding
		if sp.SingleLogoutBinding == "post" {
			binding = crewsaml.HTTPPostBinding
		}
		d.SingleLogoutServices = []crewsaml.Endpoint{{Binding: binding, Location: sp.SingleLogoutURL}}
	}
	return &crewsaml.EntityDescriptor{EntityID: sp.EntityID, SPSSODescriptors: []crewsaml.SPSSODescriptor{d}}, nil
}

// parseCertificate reads a PEM certificate, or the base64 of its DER as
// SAML metadata carries it.
func parseCertificate(text string) (*x509.Certificate, error) {
	der := []byte(nil)
	if b, _ := pem.Decode([]byte(text)); b != nil {
		der = b.Bytes
	} else if d, err := base64.StdEncoding.DecodeString(text); err == nil {
		der = d
	}
	if der == nil {
		return nil, errors.New("not a PEM certificate")
	}
	return x509.ParseCertificate(der)
}

// Metadata is the IdP metadata of a config: its entity ID, SSO and SLO
// endpoints (HTTP-Redirect and HTTP-POST), and the realm's signing
// certificates (the current one first, then the next and the previous).
func (s *Service) Metadata(ctx context.Context, tenantID, realmID, configID string) (*crewsaml.EntityDescriptor, error) {
	idp, _, _, err := s.provider(ctx, tenantID, realmID, configID, servesSAML)
	if err != nil {
		return nil, err
	}
	return idp.Metadata(), nil
}

// Begin takes an AuthnRequest (r, HTTP-Redirect or HTTP-POST binding) for
// the config: the XML must have no DTD, the request must be signed by one
// of the SP's certificates when the SP says so (or signed requests are
// required), name one of its ACS URLs (or none), be current and never seen
// before. With the browser's live session (current, not nil) and no
// ForceAuthn, the Response is made at once; else the request waits for a
// passkey (Outcome.Pending), or, IsPassive, is answered at once with a
// Response of status NoPassive: a passive request never shows a page.
func (s *Service) Begin(ctx context.Context, tenantID, realmID, configID string, r *http.Request, current *session.Session) (Outcome, error) {
	idp, sp, _, err := s.provider(ctx, tenantID, realmID, configID, servesSAML)
	if err != nil {
		return Outcome{}, err
	}
	req, err := crewsaml.NewIdpAuthnRequest(idp, r)
	if err != nil {
		return Outcome{SP: sp}, badRequest("the SAML request cannot be read: %v", err)
	}
	if err := refuseDTD(req.RequestBuffer); err != nil {
		return Outcome{SP: sp}, err
	}
	if err := req.Validate(); err != nil {
		return Outcome{SP: sp}, badRequest("the SAML request is refused: %v", err)
	}
	now := s.Clock.Now()
	pending := Request{ID: latchkey.NewUUID(), TenantID: tenantID, RealmID: realmID, ConfigID: configID,
		RequestID: req.Request.ID, ACSURL: req.ACSEndpoint.Location, RelayState: req.RelayState,
		Challenge:  base64.RawURLEncoding.EncodeToString([]byte(latchkey.RandomString(32))),
		ForceAuthn: req.Request.ForceAuthn != nil && *req.Request.ForceAuthn, CreateTime: now, ExpireTime: now.Add(requestTTL)}
	return s.begin(ctx, idp, sp, req, pending, current, req.Request.IsPassive != nil && *req.Request.IsPassive)
}

// begin records a sign-in (a replayed AuthnRequest is refused here) and
// answers it with the session, or leaves it pending.
func (s *Service) begin(ctx context.Context, idp *crewsaml.IdentityProvider, sp ServiceProvider, req *crewsaml.IdpAuthnRequest, pending Request, current *session.Session, passive bool) (Outcome, error) {
	withSession := current != nil && current.Live(s.Clock.Now()) && !pending.ForceAuthn
	// A passive request that needs a sign-in is answered now, spent.
	noPassive := passive && !withSession
	pending.Spent = withSession || noPassive
	var d decision
	var err error
	if noPassive {
		d = decision{denied: "no one is signed in and the request is passive", status: crewsaml.StatusNoPassive}
	}
	if withSession {
		if d, err = s.decide(ctx, pending, sp, *current); err != nil {
			return Outcome{SP: sp}, err
		}
	}
	var event *audit.Event
	if withSession {
		event = &d.event
	}
	err = s.store.SaveSAMLRequest(ctx, pending, event)
	if errors.Is(err, latchkey.ErrDuplicate) {
		return Outcome{SP: sp}, badRequest("the SAML request %s was used already", pending.RequestID)
	}
	if err != nil {
		return Outcome{SP: sp}, err
	}
	if noPassive {
		post, err := s.respond(req, sp, d, session.Session{})
		return Outcome{Post: &post, SP: sp}, err
	}
	if !withSession {
		return Outcome{Pending: &pending, SP: sp}, nil
	}
	post, err := s.respond(req, sp, d, *current)
	return Outcome{Post: &post, SP: sp}, err
}

// IdPInitiated starts a sign-in to the config's SP that no AuthnRequest
// asked for (the app portal's tiles): its Response goes to the default ACS
// URL with relayState (or the SP's default relay state).
func (s *Service) IdPInitiated(ctx context.Context, tenantID, realmID, configID, relayState string, r *http.Request, current *session.Session) (Outcome, error) {
	idp, sp, _, err := s.provider(ctx, tenantID, realmID, configID, servesSAML)
	if err != nil {
		return Outcome{}, err
	}
	if relayState == "" {
		relayState = sp.DefaultRelayState
	}
	req, err := idp.NewIdpInitiatedRequest(r, sp.EntityID, relayState)
	if err != nil {
		return Outcome{SP: sp}, badRequest("the IdP-initiated sign-in cannot start: %v", err)
	}
	now := s.Clock.Now()
	id := latchkey.NewUUID()
	pending := Request{ID: id, TenantID: tenantID, RealmID: realmID, ConfigID: configID, RequestID: id,
		ACSURL: req.ACSEndpoint.Location, RelayState: relayState,
		Challenge:  base64.RawURLEncoding.EncodeToString([]byte(latchkey.RandomString(32))),
		CreateTime: now, ExpireTime: now.Add(requestTTL)}
	return s.begin(ctx, idp, sp, req, pending, current, false)
}

// Pending returns a sign-in of the config that waits for a passkey, with
// its SP.
func (s *Service) Pending(ctx context.Context, tenantID, realmID, configID, id string) (Request, ServiceProvider, error) {
	p, err := s.store.GetSAMLRequest(ctx, tenantID, realmID, id)
	if err == nil && (p.ConfigID != configID || p.Spent || !s.Clock.Now().Before(p.ExpireTime)) {
		err = latchkey.ErrNotFound
	}
	if errors.Is(err, latchkey.ErrNotFound) {
		return p, ServiceProvider{}, badRequest("the SAML sign-in is unknown, finished or expired; start again from the application")
	}
	if err != nil {
		return p, ServiceProvider{}, err
	}
	sp, err := s.Providers.ServiceProvider(ctx, tenantID, realmID, configID)
	return p, sp, err
}

// Finish answers a pending sign-in once a passkey signed the browser in
// (signedIn, the session it started or renewed; clientIP, the browser's,
// goes in the assertion). The request is spent first: of two attempts, one
// answers.
func (s *Service) Finish(ctx context.Context, p Request, clientIP string, signedIn session.Session) (Post, error) {
	idp, sp, ed, err := s.provider(ctx, p.TenantID, p.RealmID, p.ConfigID, servesEither)
	if err != nil {
		return Post{}, err
	}
	req, err := s.request(idp, ed, p, clientIP)
	if err != nil {
		return Post{}, err
	}
	d, err := s.decide(ctx, p, sp, signedIn)
	if err != nil {
		return Post{}, err
	}
	err = s.store.Update(ctx, func(tx Tx) error {
		if err := tx.SpendSAMLRequest(ctx, p.ID, s.Clock.Now()); err != nil {
			return err
		}
		return tx.RecordEvent(ctx, d.event)
	})
	if errors.Is(err, latchkey.ErrNotFound) {
		return Post{}, badRequest("the SAML sign-in is finished or expired; start again from the application")
	}
	if err != nil {
		return Post{}, err
	}
	return s.respond(req, sp, d, signedIn)
}

// request is the crewjam request that the Response to p answers, made by
// the browser at clientIP (or the WS-Federation sign-in p). Its ACS URL
// must still be one of the SP's.
func (s *Service) request(idp *crewsaml.IdentityProvider, ed *crewsaml.EntityDescriptor, p Request, clientIP string) (*crewsaml.IdpAuthnRequest, error) {
	req := &crewsaml.IdpAuthnRequest{IDP: idp, HTTPRequest: &http.Request{RemoteAddr: clientIP},
		RelayState: p.RelayState, ServiceProviderMetadata: ed, Now: s.Clock.Now()}
	if !p.IdPInitiated() {
		req.Request.ID = p.RequestID
	}
	req.Request.IssueInstant = p.CreateTime
	for i, d := range ed.SPSSODescriptors {
		for j, e := range d.AssertionConsumerServices {
			if e.Location == p.ACSURL && req.ACSEndpoint == nil {
				req.SPSSODescriptor, req.ACSEndpoint = &ed.SPSSODescriptors[i], &ed.SPSSODescriptors[i].AssertionConsumerServices[j]
			}
		}
	}
	if req.ACSEndpoint == nil {
		return nil, badRequest("the sign-in's reply URL is no longer the service provider's")
	}
	return req, nil
}

// decision is whether the session's identity may sign in to the config,
// and the sign-in event that says so.
type decision struct {
	identity directory.Identity
	groups   []directory.Group
	denied   string // why not, or ""
	// status is the second-level status of a Response without an
	// assertion: RequestDenied when "".
	status string
	event  audit.Event
}

// decide lets the session's identity sign in to p's config when it is
// active and the config's assignments allow it (ServiceProviders.Allowed).
func (s *Service) decide(ctx context.Context, p Request, sp ServiceProvider, signedIn session.Session) (decision, error) {
	var d decision
	i, err := s.store.GetIdentity(ctx, signedIn.RealmID, signedIn.IdentityID)
	switch {
	case err != nil && !errors.Is(err, latchkey.ErrNotFound):
		return d, err
	case err != nil || !i.Active():
		d.denied = "the signed-in identity cannot sign in"
	default:
		allowed, err := s.Providers.Allowed(ctx, p.TenantID, p.RealmID, p.ConfigID, i)
		if err != nil {
			return d, err
		}
		if !allowed {
			d.denied = "policy does not let " + i.DisplayName + " use " + sp.DisplayName
		} else if groups, err := s.store.GroupsOfIdentities(ctx, []string{i.ID}); err != nil {
			return d, err
		} else {
			d.groups = groups[i.ID]
		}
	}
	d.identity = i
	action, outcome := audit.SignInAllowed, audit.Allowed
	if d.denied != "" {
		action, outcome = audit.SignInDenied, audit.Denied
	}
	// The SSO config stands where an application stands in OIDC sign-ins.
	e := audit.NewAt(ctx, s.Clock.Now(), p.TenantID, p.RealmID, action, "SSOConfig", p.ConfigID)
	e.ResourceDisplayName, e.CorrelationID, e.ApplicationID, e.CredentialID = sp.DisplayName, p.ID, p.ConfigID, signedIn.CredentialID
	e.Outcome, e.Reason = outcome, d.denied
	if i.ID != "" {
		e.IdentityID, e.ActorType, e.ActorID, e.ActorDisplayName = i.ID, "identity", i.ID, i.DisplayName
	}
	d.event = e
	return d, nil
}

// respond makes the Response the decision calls for: the assertion for its
// identity, or an error Response (Responder, RequestDenied) without one.
func (s *Service) respond(req *crewsaml.IdpAuthnRequest, sp ServiceProvider, d decision, signedIn session.Session) (Post, error) {
	if sp.WSFed {
		return s.wsfedRespond(req, sp, d, signedIn)
	}
	if d.denied != "" {
		if err := req.MakeErrorResponse(crewsaml.StatusResponder, cmp.Or(d.status, crewsaml.StatusRequestDenied), d.denied); err != nil {
			return Post{}, err
		}
	} else if err := s.makeResponse(req, sp, d.identity, d.groups, signedIn); err != nil {
		return Post{}, err
	}
	form, err := req.PostBinding()
	if err != nil {
		return Post{}, err
	}
	return Post{URL: form.URL, SAMLResponse: form.SAMLResponse, RelayState: form.RelayState, Denied: d.denied}, nil
}

// signingContext signs with the IdP's current key, RSA-SHA256, exclusive
// C14N, as crewjam does.
func signingContext(idp *crewsaml.IdentityProvider) (*dsig.SigningContext, error) {
	ctx, err := dsig.NewSigningContext(idp.Signer, [][]byte{idp.Certificate.Raw})
	if err != nil {
		return nil, err
	}
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	return ctx, ctx.SetSignatureMethod(dsig.RSASHA256SignatureMethod)
}

// nameID is the NameID the SP knows identity i by.
func (sp ServiceProvider) nameID(i directory.Identity) string {
	switch sp.SubjectUserNameAttribute {
	case "email":
		return i.Traits.PrimaryEmailAddress
	case "email_prefix":
		e := i.Traits.PrimaryEmailAddress
		for j := range len(e) {
			if e[j] == '@' {
				return e[:j]
			}
		}
		return e
	case "external_id":
		return i.Traits.ExternalID
	case "display_name":
		return i.DisplayName
	case "id":
		return i.ID
	default:
		return i.Traits.Username
	}
}
