package passkey

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/mail"
	"github.com/latchkey/latchkey/internal/session"
)

// DefaultLinkTTL is how long a binding link stays valid unless configured.
const DefaultLinkTTL = 7 * 24 * time.Hour

// TokenLength is the number of characters of a binding link's token.
const TokenLength = 64

// Service applies the rules of passkey enrollment on top of its Store.
// Every mutation records an audit event in the same transaction.
type Service struct {
	store Store
	// BaseURL is Latchkey's public URL, the host of binding links.
	BaseURL string
	// LinkTTL is the lifetime of a binding link; zero means DefaultLinkTTL.
	LinkTTL time.Duration
	// MailQueued, when set, is called after a binding e-mail was queued,
	// so that delivery can start at once.
	MailQueued func()
	// ConfigChanged, when set, is called after an authenticator config
	// was changed or deleted, so that this node forgets what it cached.
	ConfigChanged func()
	// Clock dates changes and decides when links and batch leases expire.
	Clock latchkey.Clock
}

// NewService returns a Service over store whose links start with baseURL.
func NewService(store Store, baseURL string) *Service {
	return &Service{store: store, BaseURL: baseURL}
}

func (s *Service) record(ctx context.Context, tx Tx, tenantID, realmID, action, resourceType, id string) error {
	return tx.RecordEvent(ctx, audit.NewAt(ctx, s.Clock.Now(), tenantID, realmID, action, resourceType, id))
}

// recordPasskey records a passkey's event (audit.PasskeyBound,
// audit.PasskeyRevoked) with its identity and credential, which the
// sign-in log filters on.
func (s *Service) recordPasskey(ctx context.Context, tx Tx, action string, c Credential) error {
	e := audit.NewAt(ctx, s.Clock.Now(), c.TenantID, c.RealmID, action, "Credential", c.ID)
	e.IdentityID, e.CredentialID = c.IdentityID, c.ID
	return tx.RecordEvent(ctx, e)
}

func configNotFound(id string) error {
	return latchkey.NotFound("AuthenticatorConfig", id, "authenticator config not found")
}
func jobNotFound(id string) error {
	return latchkey.NotFound("CredentialBindingJob", id, "credential binding job not found")
}
func credentialNotFound(id string) error {
	return latchkey.NotFound("Credential", id, "credential not found")
}

// identity returns an identity of the realm.
func identity(ctx context.Context, tx Tx, tenantID, realmID, id string) (directory.Identity, error) {
	if _, err := directory.LookupRealm(ctx, tx, tenantID, realmID); err != nil {
		return directory.Identity{}, err
	}
	i, err := tx.GetIdentity(ctx, realmID, id)
	return i, latchkey.IfNotFound(err, directory.IdentityNotFound, id)
}

// CreateAuthenticatorConfig validates and stores a new authenticator config.
func (s *Service) CreateAuthenticatorConfig(ctx context.Context, tenantID, realmID string, a AuthenticatorConfig) (AuthenticatorConfig, error) {
	a.Config.normalize()
	if err := validateConfig(a, false); err != nil {
		return a, err
	}
	t := s.Clock.Now()
	a.ID, a.TenantID, a.RealmID, a.CreateTime, a.UpdateTime = latchkey.NewUUID(), tenantID, realmID, t, t
	err := s.store.Update(ctx, func(tx Tx) error {
		if _, err := directory.LookupRealm(ctx, tx, tenantID, realmID); err != nil {
			return err
		}
		if err := tx.CreateAuthenticatorConfig(ctx, a); err != nil {
			return err
		}
		return s.record(ctx, tx, tenantID, realmID, "authenticator_config.create", "AuthenticatorConfig", a.ID)
	})
	return a, err
}

// GetAuthenticatorConfig returns an authenticator config of the realm.
func (s *Service) GetAuthenticatorConfig(ctx context.Context, tenantID, realmID, id string) (AuthenticatorConfig, error) {
	return getConfig(ctx, s.store, tenantID, realmID, id)
}

func getConfig(ctx context.Context, tx Tx, tenantID, realmID, id string) (AuthenticatorConfig, error) {
	a, err := tx.GetAuthenticatorConfig(ctx, realmID, id)
	return configInTenant(a, err, tenantID, id)
}

// configInTenant turns the answer of a config lookup into the config of the
// tenant or its 404.
func configInTenant(a AuthenticatorConfig, err error, tenantID, id string) (AuthenticatorConfig, error) {
	if err == nil && a.TenantID != tenantID {
		err = latchkey.ErrNotFound
	}
	return a, latchkey.IfNotFound(err, configNotFound, id)
}

// ListAuthenticatorConfigs returns a page of the realm's authenticator configs.
func (s *Service) ListAuthenticatorConfigs(ctx context.Context, tenantID, realmID string, opts latchkey.ListOptions) ([]AuthenticatorConfig, int, error) {
	if _, err := directory.LookupRealm(ctx, s.store, tenantID, realmID); err != nil {
		return nil, 0, err
	}
	return s.store.ListAuthenticatorConfigs(ctx, realmID, opts)
}

// UpdateAuthenticatorConfig applies edit to a config and stores the result
// if it is valid. edit may change the display name and the config.
func (s *Service) UpdateAuthenticatorConfig(ctx context.Context, tenantID, realmID, id string, edit func(*AuthenticatorConfig) error) (a AuthenticatorConfig, err error) {
	defer s.configChanged()
	err = s.store.Update(ctx, func(tx Tx) error {
		if a, err = getConfig(ctx, tx, tenantID, realmID, id); err != nil {
			return err
		}
		keep, before := a, audit.Snapshot(a) // edit may decode into a's arrays
		if err := edit(&a); err != nil {
			return err
		}
		a.ID, a.TenantID, a.RealmID, a.CreateTime, a.UpdateTime = keep.ID, keep.TenantID, keep.RealmID, keep.CreateTime, s.Clock.Now()
		a.Config.normalize()
		if err := validateConfig(a, false); err != nil {
			return err
		}
		if err := tx.UpdateAuthenticatorConfig(ctx, a); err != nil {
			return err
		}
		return tx.RecordEvent(ctx, audit.NewAt(ctx, a.UpdateTime, tenantID, realmID, "authenticator_config.update", "AuthenticatorConfig", id).
			Changed(a.DisplayName, before, a))
	})
	return a, err
}

// configChanged tells this node's caches, once the change is committed.
func (s *Service) configChanged() {
	if s.ConfigChanged != nil {
		s.ConfigChanged()
	}
}

var errConfigInUse = latchkey.Errorf(latchkey.CodeConflict, "authenticator config is used by an application or a pending credential binding job")

// DeleteAuthenticatorConfig deletes a config that no application or open
// job uses.
func (s *Service) DeleteAuthenticatorConfig(ctx context.Context, tenantID, realmID, id string) error {
	defer s.configChanged()
	return s.store.Update(ctx, func(tx Tx) error {
		// The lock makes the check below hold until the delete commits:
		// applications and jobs reference the config without a foreign key.
		a, err := tx.LockAuthenticatorConfig(ctx, realmID, id)
		if _, err := configInTenant(a, err, tenantID, id); err != nil {
			return err
		}
		inUse, err := tx.AuthenticatorConfigInUse(ctx, id)
		if err != nil {
			return err
		}
		if inUse {
			return errConfigInUse
		}
		if err := tx.DeleteAuthenticatorConfig(ctx, realmID, id); err != nil {
			if errors.Is(err, latchkey.ErrInUse) {
				return errConfigInUse
			}
			return err
		}
		return s.record(ctx, tx, tenantID, realmID, "authenticator_config.delete", "AuthenticatorConfig", id)
	})
}

// JobRequest is what a client asks of a new credential binding job.
type JobRequest struct {
	DeliveryMethod         string
	AuthenticatorConfigID  string
	AuthenticatorConfig    *InlineConfig
	PostBindingRedirectURI string
	VerificationDetails    *VerificationDetails
}

// noEmail is the 422 of an EMAIL job for an identity without an address,
// naming the identity as the reference's ResourceInfo does.
func noEmail(identityID string) error {
	e := latchkey.NotFound("Identity", identityID, "Identity missing email address")
	e.Code = latchkey.CodeUnprocessable
	return e
}

var (
	errSuspended = latchkey.Errorf(latchkey.CodeUnprocessable, "identity is suspended")
)

// LinkLifetime is how long a new binding link stays valid.
func (s *Service) LinkLifetime() time.Duration { return s.linkTTL() }

func (s *Service) linkTTL() time.Duration {
	if s.LinkTTL > 0 {
		return s.LinkTTL
	}
	return DefaultLinkTTL
}

// Link returns the binding link of a job with its token.
func (s *Service) Link(j BindingJob, token string) string {
	return s.BaseURL + "/v1/tenants/" + j.TenantID + "/realms/" + j.RealmID + "/identities/" + j.IdentityID +
		"/credential-binding-jobs/" + j.ID + ":invokeAuthenticator?token=" + url.QueryEscape(token)
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func validateJobRequest(req JobRequest) error {
	var v latchkey.Violations
	switch req.DeliveryMethod {
	case Return, Email:
	case "":
		v.Add("delivery_method", "empty string")
	default:
		v.Add("delivery_method", `must be "RETURN" or "EMAIL"`)
	}
	switch {
	case req.AuthenticatorConfigID == "" && req.AuthenticatorConfig == nil:
		v.Add("authenticator_config_id", "empty string")
	case req.AuthenticatorConfigID != "" && req.AuthenticatorConfig != nil:
		v.Add("authenticator_config", "give authenticator_config_id or authenticator_config, not both")
	case req.AuthenticatorConfig != nil:
		req.AuthenticatorConfig.Config.normalize()
		if err := validateConfig(AuthenticatorConfig{Config: req.AuthenticatorConfig.Config}, true); err != nil {
			var e *latchkey.Error
			errors.As(latchkey.WithFieldPrefix(err, "authenticator_config."), &e)
			v = append(v, e.Details[0].FieldViolations...)
		}
	}
	if u := req.PostBindingRedirectURI; u != "" {
		if p := latchkey.RedirectURIProblem(u); p != "" {
			v.Add("post_binding_redirect_uri", p)
		}
	}
	return v.Err()
}

// CreateBindingJob creates a credential binding job for an identity and
// returns it with its link. The link's token is kept only as a hash.
func (s *Service) CreateBindingJob(ctx context.Context, tenantID, realmID, identityID string, req JobRequest) (j BindingJob, link string, err error) {
	if err := validateJobRequest(req); err != nil {
		return BindingJob{}, "", err
	}
	err = s.store.Update(ctx, func(tx Tx) error {
		var token string
		j, token, err = s.createJob(ctx, tx, tenantID, realmID, identityID, req, "", 0)
		link = s.Link(j, token)
		return err
	})
	if err != nil {
		return BindingJob{}, "", err
	}
	if j.DeliveryMethod == Email && s.MailQueued != nil {
		s.MailQueued()
	}
	return j, link, nil
}

// createJob creates a job from a valid request inside tx, and queues the
// e-mail that carries an EMAIL job's link; it returns the job and its
// link's token. A job lives ttl, or the links' lifetime when ttl is 0.
func (s *Service) createJob(ctx context.Context, tx Tx, tenantID, realmID, identityID string, req JobRequest, batchID string, ttl time.Duration) (BindingJob, string, error) {
	t := s.Clock.Now()
	token := latchkey.RandomString(TokenLength)
	j := BindingJob{
		ID: latchkey.NewID(), RealmID: realmID, TenantID: tenantID, IdentityID: identityID, BatchID: batchID,
		DeliveryMethod: req.DeliveryMethod, State: LinkSent, PostBindingRedirectURI: req.PostBindingRedirectURI,
		AuthenticatorConfigID: req.AuthenticatorConfigID, AuthenticatorConfig: req.AuthenticatorConfig,
		ExpireTime: t.Add(cmp.Or(ttl, s.linkTTL())), CreateTime: t, UpdateTime: t, TokenHash: hashToken(token),
	}
	if err := checkVerification(ctx, tx, tenantID, realmID, req.VerificationDetails); err != nil {
		return j, token, err
	}
	j.VerificationDetails = req.VerificationDetails
	i, err := identity(ctx, tx, tenantID, realmID, identityID)
	if err != nil {
		return j, token, err
	}
	if !i.Active() {
		return j, token, errSuspended
	}
	if req.DeliveryMethod == Email && i.Traits.PrimaryEmailAddress == "" {
		return j, token, noEmail(i.ID)
	}
	if err := mayBind(ctx, tx, []string{identityID}); err != nil {
		return j, token, err
	}
	if j.AuthenticatorConfigID != "" {
		a, err := tx.ReferenceAuthenticatorConfig(ctx, realmID, j.AuthenticatorConfigID)
		if _, err := configInTenant(a, err, tenantID, j.AuthenticatorConfigID); err != nil {
			return j, token, err
		}
	}
	if err := tx.CreateBindingJob(ctx, j); err != nil {
		return j, token, err
	}
	if j.DeliveryMethod == Email {
		if _, err := mail.EnqueueBindingEmail(ctx, tx, t, tenantID, realmID, i.Traits.PrimaryEmailAddress, mailRef+j.ID,
			mail.BindingEmail{DisplayName: i.DisplayName, Username: i.Traits.Username, Link: s.Link(j, token), ExpireTime: j.ExpireTime}); err != nil {
			return j, token, err
		}
	}
	if err := tx.RefreshEnrollment(ctx, identityID, t); err != nil {
		return j, token, err
	}
	return j, token, s.record(ctx, tx, tenantID, realmID, "credential_binding_job.create", "CredentialBindingJob", j.ID)
}

// mayBind refuses binding links for identities that hold management scopes
// the actor of ctx does not: whoever binds a passkey signs in as them.
func mayBind(ctx context.Context, tx Tx, identityIDs []string) error {
	scopes, err := tx.ManagementScopesOf(ctx, identityIDs, nil)
	if err != nil {
		return err
	}
	return latchkey.MayGrant(ctx, scopes)
}

// mailRef prefixes the job id in the Ref of the e-mail that carries its link.
const mailRef = "credential_binding_job:"

// DeliveryFailed records that an e-mail could not be delivered: if it
// carried a binding link whose job is still open, the job becomes
// FAILED_TO_SEND. Other e-mail is not passkey's.
func (s *Service) DeliveryFailed(ctx context.Context, m mail.Message) error {
	id, ok := strings.CutPrefix(m.Ref, mailRef)
	if !ok {
		return nil
	}
	return s.store.Update(ctx, func(tx Tx) error {
		j, err := tx.GetBindingJob(ctx, m.RealmID, AnyIdentity, id)
		if err != nil {
			return err
		}
		t := s.Clock.Now()
		if err := tx.SetBindingJobState(ctx, id, OpenStates, FailedToSend, t); err != nil {
			if errors.Is(err, latchkey.ErrNotFound) { // bound or revoked meanwhile
				return nil
			}
			return err
		}
		if err := tx.RefreshEnrollment(ctx, j.IdentityID, t); err != nil {
			return err
		}
		return s.record(ctx, tx, j.TenantID, j.RealmID, "credential_binding_job.failed_to_send", "CredentialBindingJob", id)
	})
}

// GetBindingJob returns a job of an identity (or of any, AnyIdentity).
func (s *Service) GetBindingJob(ctx context.Context, tenantID, realmID, identityID, id string) (BindingJob, error) {
	return s.getJob(ctx, s.store, tenantID, realmID, identityID, id)
}

func (s *Service) getJob(ctx context.Context, tx Tx, tenantID, realmID, identityID, id string) (BindingJob, error) {
	j, err := tx.GetBindingJob(ctx, realmID, identityID, id)
	if err == nil && j.TenantID != tenantID {
		err = latchkey.ErrNotFound
	}
	return j.settled(s.Clock.Now()), latchkey.IfNotFound(err, jobNotFound, id)
}

// listOwner checks that what a list names exists: the realm, and the
// identity unless it is AnyIdentity.
func listOwner(ctx context.Context, tx Tx, tenantID, realmID, identityID string) error {
	if identityID == AnyIdentity {
		_, err := directory.LookupRealm(ctx, tx, tenantID, realmID)
		return err
	}
	_, err := identity(ctx, tx, tenantID, realmID, identityID)
	return err
}

// ListBindingJobs returns a page of the jobs of an identity (or of all).
func (s *Service) ListBindingJobs(ctx context.Context, tenantID, realmID, identityID string, opts latchkey.ListOptions) ([]BindingJob, int, error) {
	if err := listOwner(ctx, s.store, tenantID, realmID, identityID); err != nil {
		return nil, 0, err
	}
	jobs, total, err := s.store.ListBindingJobs(ctx, realmID, identityID, opts)
	t := s.Clock.Now()
	for i := range jobs {
		jobs[i] = jobs[i].settled(t)
	}
	return jobs, total, err
}

// RevokeBindingJob revokes a job whose link is still open.
func (s *Service) RevokeBindingJob(ctx context.Context, tenantID, realmID, identityID, id string) (j BindingJob, err error) {
	err = s.store.Update(ctx, func(tx Tx) error {
		if j, err = s.getJob(ctx, tx, tenantID, realmID, identityID, id); err != nil {
			return err
		}
		if !isOpen(j.State) {
			return latchkey.Errorf(latchkey.CodeConflict, "credential binding job is %s and cannot be revoked", j.State)
		}
		t := s.Clock.Now()
		if err := tx.SetBindingJobState(ctx, j.ID, OpenStates, Revoked, t); err != nil {
			return latchkey.IfNotFound(err, jobNotFound, id)
		}
		j.State, j.UpdateTime = Revoked, t
		if err := tx.RefreshEnrollment(ctx, j.IdentityID, t); err != nil {
			return err
		}
		return s.record(ctx, tx, tenantID, realmID, "credential_binding_job.revoke", "CredentialBindingJob", id)
	})
	return j, err
}

// ExpireBindingJobs records the expiry of open jobs past their expire time.
func (s *Service) ExpireBindingJobs(ctx context.Context) (int, error) {
	var n int
	err := s.store.Update(ctx, func(tx Tx) error {
		t := s.Clock.Now()
		ids, err := tx.ExpireBindingJobs(ctx, t)
		if err != nil {
			return err
		}
		n = len(ids)
		for _, id := range ids {
			if err := tx.RefreshEnrollment(ctx, id, t); err != nil {
				return err
			}
		}
		return nil
	})
	return n, err
}

// GetCredential returns a credential of an identity (or of any, AnyIdentity).
func (s *Service) GetCredential(ctx context.Context, tenantID, realmID, identityID, id string) (Credential, error) {
	return getCredential(ctx, s.store, tenantID, realmID, identityID, id)
}

func getCredential(ctx context.Context, tx Tx, tenantID, realmID, identityID, id string) (Credential, error) {
	c, err := tx.GetCredential(ctx, realmID, identityID, id)
	if err == nil && c.TenantID != tenantID {
		err = latchkey.ErrNotFound
	}
	return c, latchkey.IfNotFound(err, credentialNotFound, id)
}

// ListCredentials returns a page of the credentials of an identity (or of all).
func (s *Service) ListCredentials(ctx context.Context, tenantID, realmID, identityID string, opts latchkey.ListOptions) ([]Credential, int, error) {
	if err := listOwner(ctx, s.store, tenantID, realmID, identityID); err != nil {
		return nil, 0, err
	}
	return s.store.ListCredentials(ctx, realmID, identityID, opts)
}

// MaxCredentialName is the longest display name of a credential, in characters.
const MaxCredentialName = 64

// RenameCredential gives a credential of an identity (or of any,
// AnyIdentity) the display name name; "" gives it back its provider's name
// (Credential.Name). A revoked credential may be renamed too.
func (s *Service) RenameCredential(ctx context.Context, tenantID, realmID, identityID, id, name string) (c Credential, err error) {
	if p := directory.NameProblem(name, false, MaxCredentialName); p != "" {
		return c, latchkey.InvalidField("display_name", p)
	}
	err = s.store.Update(ctx, func(tx Tx) error {
		if c, err = getCredential(ctx, tx, tenantID, realmID, identityID, id); err != nil {
			return err
		}
		before := c
		c.DisplayName, c.UpdateTime = name, s.Clock.Now()
		if err := tx.UpdateCredential(ctx, c); err != nil {
			return err
		}
		e := audit.NewAt(ctx, c.UpdateTime, c.TenantID, c.RealmID, "credential.update", "Credential", c.ID)
		e.IdentityID, e.CredentialID = c.IdentityID, c.ID
		e.Changes = audit.Diff(map[string]any{"display_name": before.DisplayName}, map[string]any{"display_name": c.DisplayName})
		return tx.RecordEvent(ctx, e)
	})
	return c, err
}

// RevokeCredential revokes an active credential, for good, with every
// token its sign-ins led to and the sessions it began.
func (s *Service) RevokeCredential(ctx context.Context, tenantID, realmID, identityID, id string) (c Credential, err error) {
	err = s.store.Update(ctx, func(tx Tx) error {
		if c, err = getCredential(ctx, tx, tenantID, realmID, identityID, id); err != nil {
			return err
		}
		return s.revoke(ctx, tx, &c)
	})
	return c, err
}

// revoke revokes the credential c, read in tx.
func (s *Service) revoke(ctx context.Context, tx Tx, c *Credential) error {
	if c.State != Active {
		return latchkey.Errorf(latchkey.CodeConflict, "credential is already revoked")
	}
	c.State, c.UpdateTime = RevokedState, s.Clock.Now()
	if err := tx.UpdateCredential(ctx, *c); err != nil {
		return err
	}
	if err := tx.RefreshEnrollment(ctx, c.IdentityID, c.UpdateTime); err != nil {
		return err
	}
	if err := tx.RevokeFamiliesOfCredential(ctx, c.ID); err != nil {
		return err
	}
	if _, err := tx.EndSessions(ctx, session.End{At: c.UpdateTime, Reason: session.ReasonPasskeyRevoked, CredentialID: c.ID}); err != nil {
		return err
	}
	return s.recordPasskey(ctx, tx, audit.PasskeyRevoked, *c)
}

// tokenMatches compares a token with a job's stored hash in constant time.
func tokenMatches(j BindingJob, token string) bool {
	want := hashToken(token)
	return j.TokenHash != "" && subtle.ConstantTimeCompare([]byte(want), []byte(j.TokenHash)) == 1
}
