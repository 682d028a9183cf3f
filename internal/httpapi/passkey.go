package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/httpx"
	"github.com/latchkey/latchkey/internal/passkey"
)

const (
	configsPath     = httpx.RealmPath + "/authenticator-configs"
	credentialsPath = httpx.RealmPath + "/identities/{identity}/credentials"
)

func (s *Server) passkeyRoutes(mux *httpx.Mux) {
	s.batchRoutes(mux)
	mux.Handle("POST "+configsPath, s.auth(s.createConfig, "authenticator-configs:create"))
	mux.Handle("GET "+configsPath, s.auth(s.listConfigs, "authenticator-configs:read"))
	mux.HandleVerbs("GET "+configsPath+"/{config}", httpx.Verbs{"": s.auth(s.getConfig, "authenticator-configs:read")})
	mux.HandleVerbs("PATCH "+configsPath+"/{config}", httpx.Verbs{"": s.auth(s.updateConfig, "authenticator-configs:update")})
	mux.HandleVerbs("DELETE "+configsPath+"/{config}", httpx.Verbs{"": s.auth(s.deleteConfig, "authenticator-configs:delete")})

	mux.Handle("GET "+credentialsPath, s.auth(s.listCredentials, "credentials:read"))
	mux.HandleVerbs("GET "+credentialsPath+"/{credential}", httpx.Verbs{"": s.auth(s.getCredential, "credentials:read")})
	mux.HandleVerbs("PATCH "+credentialsPath+"/{credential}", httpx.Verbs{"": s.auth(s.updateCredential, "credentials:update")})
	mux.HandleVerbs("POST "+credentialsPath+"/{credential}", httpx.Verbs{"revoke": s.auth(s.revokeCredential, "credentials:revoke")})
	// Portability, our extension of the API: passkeys exported elsewhere
	// come in; the public parts of an identity's passkeys go out.
	mux.Handle("POST "+credentialsPath+":import", s.auth(s.importCredentials, "credentials:create"))
	mux.Handle("GET "+credentialsPath+":export", s.auth(s.exportCredentials, "credentials:read"))

	mux.Handle("POST "+httpx.JobsPath, s.auth(s.createJob, "credential-binding-jobs:create"))
	mux.Handle("GET "+httpx.JobsPath, s.auth(s.listJobs, "credential-binding-jobs:read"))
	// The link's own methods on a job are the authenticator's.
	mux.HandleVerbs("GET "+httpx.JobsPath+"/{job}", httpx.Verbs{"": s.auth(s.getJob, "credential-binding-jobs:read")})
	mux.HandleVerbs("POST "+httpx.JobsPath+"/{job}", httpx.Verbs{"revoke": s.auth(s.revokeJob, "credential-binding-jobs:revoke")})
}

type configIn struct {
	ID          json.RawMessage `json:"id"`
	TenantID    json.RawMessage `json:"tenant_id"`
	RealmID     json.RawMessage `json:"realm_id"`
	DisplayName *string         `json:"display_name"`
	Config      json.RawMessage `json:"config"`
}

func (s *Server) createConfig(w http.ResponseWriter, r *http.Request) {
	var in configIn
	if err := httpx.DecodeWrapped(w, r, "authenticator_config", &in, false); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	a := passkey.AuthenticatorConfig{DisplayName: deref(in.DisplayName)}
	if err := decodeConfig(in.Config, &a.Config); err != nil {
		httpx.WriteError(w, r, latchkey.WithFieldPrefix(err, "authenticator_config."))
		return
	}
	a, err := s.Passkeys.CreateAuthenticatorConfig(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), a)
	httpx.Reply(w, r, a, latchkey.WithFieldPrefix(err, "authenticator_config."))
}

// decodeConfig decodes a config object onto c, strictly; fields it does not
// name keep their value, unless it names another type: then it starts anew.
func decodeConfig(raw json.RawMessage, c *passkey.Config) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var typed struct {
		Type *string `json:"type"`
	}
	json.Unmarshal(raw, &typed)
	if typed.Type != nil && *typed.Type != c.Type {
		*c = passkey.Config{}
	}
	return latchkey.WithFieldPrefix(httpx.StrictDecode(raw, c), "config.")
}

func (s *Server) listConfigs(w http.ResponseWriter, r *http.Request) {
	servePage(w, r, s.Clock.Now(), oauthPages, passkey.ConfigFilterAttributes, "authenticator_configs",
		func(v passkey.AuthenticatorConfig) string { return v.ID },
		func(opts latchkey.ListOptions) ([]passkey.AuthenticatorConfig, int, error) {
			return s.Passkeys.ListAuthenticatorConfigs(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), opts)
		})
}

func (s *Server) getConfig(w http.ResponseWriter, r *http.Request) {
	a, err := s.Passkeys.GetAuthenticatorConfig(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("config"))
	httpx.Reply(w, r, a, err)
}

func (s *Server) updateConfig(w http.ResponseWriter, r *http.Request) {
	var in configIn
	if err := httpx.DecodeWrapped(w, r, "authenticator_config", &in, false); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	a, err := s.Passkeys.UpdateAuthenticatorConfig(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("config"),
		func(a *passkey.AuthenticatorConfig) error {
			setIfGiven(&a.DisplayName, in.DisplayName)
			return decodeConfig(in.Config, &a.Config)
		})
	httpx.Reply(w, r, a, latchkey.WithFieldPrefix(err, "authenticator_config."))
}

func setIfGiven(dst *string, v *string) {
	if v != nil {
		*dst = *v
	}
}

func (s *Server) deleteConfig(w http.ResponseWriter, r *http.Request) {
	httpx.ReplyEmpty(w, r, s.Passkeys.DeleteAuthenticatorConfig(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("config")))
}

func (s *Server) listCredentials(w http.ResponseWriter, r *http.Request) {
	servePage(w, r, s.Clock.Now(), directoryPages, passkey.CredentialFilterAttributes, "credentials",
		func(v passkey.Credential) string { return v.ID },
		func(opts latchkey.ListOptions) ([]passkey.Credential, int, error) {
			return s.Passkeys.ListCredentials(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("identity"), opts)
		})
}

func (s *Server) getCredential(w http.ResponseWriter, r *http.Request) {
	c, err := s.Passkeys.GetCredential(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("identity"), r.PathValue("credential"))
	httpx.Reply(w, r, c, err)
}

// updateCredential renames a credential; its other fields are read-only
// and may be sent back as read.
func (s *Server) updateCredential(w http.ResponseWriter, r *http.Request) {
	var in struct {
		DisplayName *string `json:"display_name"`
		readOnlyCredential
	}
	if err := httpx.DecodeWrapped(w, r, "credential", &in, false); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	ctx, tenant, realm, identity, id := r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("identity"), r.PathValue("credential")
	var c passkey.Credential
	var err error
	if in.DisplayName == nil {
		c, err = s.Passkeys.GetCredential(ctx, tenant, realm, identity, id)
	} else {
		c, err = s.Passkeys.RenameCredential(ctx, tenant, realm, identity, id, *in.DisplayName)
	}
	httpx.Reply(w, r, c, latchkey.WithFieldPrefix(err, "credential."))
}

// readOnlyCredential are the fields of a credential that a PATCH may carry
// but not change.
type readOnlyCredential struct {
	ID                json.RawMessage `json:"id"`
	IdentityID        json.RawMessage `json:"identity_id"`
	RealmID           json.RawMessage `json:"realm_id"`
	TenantID          json.RawMessage `json:"tenant_id"`
	State             json.RawMessage `json:"state"`
	CSRType           json.RawMessage `json:"csr_type"`
	JWKJSON           json.RawMessage `json:"jwk_json"`
	JWKThumbprint     json.RawMessage `json:"jwk_thumbprint"`
	CreateTime        json.RawMessage `json:"create_time"`
	UpdateTime        json.RawMessage `json:"update_time"`
	LastUsedTime      json.RawMessage `json:"last_used_time"`
	LastUsedUserAgent json.RawMessage `json:"last_used_user_agent"`
	AAGUID            json.RawMessage `json:"aaguid"`
	AuthenticatorName json.RawMessage `json:"authenticator_name"`
	BackupEligible    json.RawMessage `json:"backup_eligible"`
	BackupState       json.RawMessage `json:"backup_state"`
	Transports        json.RawMessage `json:"transports"`
}

func (s *Server) revokeCredential(w http.ResponseWriter, r *http.Request) {
	if err := decodeOptionalEmpty(w, r); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	c, err := s.Passkeys.RevokeCredential(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("identity"), r.PathValue("credential"))
	httpx.Reply(w, r, c, err)
}

// portableCredentials is the body of an import and of an export.
type portableCredentials struct {
	Credentials []passkey.PortableCredential `json:"credentials"`
}

// importCredentials imports passkeys for an identity, all or none; with
// ?dry_run=true it only checks them. It answers the credentials stored
// (or that would be).
func (s *Server) importCredentials(w http.ResponseWriter, r *http.Request) {
	var dryRun bool
	if err := queryParams(r, map[string]*bool{"dry_run": &dryRun}, nil); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	var in struct {
		Credentials []json.RawMessage `json:"credentials"`
	}
	if err := httpx.DecodeBody(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	// One by one, so that an error names the credential: credentials[2].pin.
	pcs := make([]passkey.PortableCredential, len(in.Credentials))
	for i, raw := range in.Credentials {
		if err := httpx.StrictDecode(raw, &pcs[i]); err != nil {
			httpx.WriteError(w, r, latchkey.WithFieldPrefix(err, "credentials["+strconv.Itoa(i)+"]."))
			return
		}
	}
	cs, err := s.Passkeys.ImportCredentials(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("identity"), pcs, dryRun)
	httpx.Reply(w, r, map[string]any{"credentials": cs, "dry_run": dryRun}, err)
}

func (s *Server) exportCredentials(w http.ResponseWriter, r *http.Request) {
	if err := queryParams(r, nil, nil); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	cs, err := s.Passkeys.ExportCredentials(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("identity"))
	httpx.Reply(w, r, portableCredentials{Credentials: cs}, err)
}

// decodeOptionalEmpty accepts no body or an empty object, as the revoke
// verbs take.
func decodeOptionalEmpty(w http.ResponseWriter, r *http.Request) error {
	body, err := httpx.ReadBody(w, r)
	if err != nil || len(strings.TrimSpace(string(body))) == 0 {
		return err
	}
	return httpx.StrictDecode(body, &struct{}{})
}

type jobIn struct {
	DeliveryMethod         string                       `json:"delivery_method"`
	AuthenticatorConfigID  string                       `json:"authenticator_config_id"`
	AuthenticatorConfig    *passkey.InlineConfig        `json:"authenticator_config"`
	PostBindingRedirectURI string                       `json:"post_binding_redirect_uri"`
	VerificationDetails    *passkey.VerificationDetails `json:"verification_details"`
}

type jobOut struct {
	Job  passkey.BindingJob `json:"credential_binding_job"`
	Link string             `json:"credential_binding_link,omitempty"`
}

func (s *Server) createJob(w http.ResponseWriter, r *http.Request) {
	var in jobIn
	if err := httpx.DecodeWrapped(w, r, "job", &in, false); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	j, link, err := s.Passkeys.CreateBindingJob(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("identity"),
		passkey.JobRequest{DeliveryMethod: in.DeliveryMethod, AuthenticatorConfigID: in.AuthenticatorConfigID,
			AuthenticatorConfig: in.AuthenticatorConfig, PostBindingRedirectURI: in.PostBindingRedirectURI,
			VerificationDetails: in.VerificationDetails})
	if err != nil {
		httpx.WriteError(w, r, latchkey.WithFieldPrefix(err, "job."))
		return
	}
	out := jobOut{Job: j}
	if j.DeliveryMethod == passkey.Return {
		out.Link = link
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

func (s *Server) listJobs(w http.ResponseWriter, r *http.Request) {
	servePage(w, r, s.Clock.Now(), directoryPages, passkey.JobFilterAttributes, "credential_binding_jobs",
		func(v passkey.BindingJob) string { return v.ID },
		func(opts latchkey.ListOptions) ([]passkey.BindingJob, int, error) {
			return s.Passkeys.ListBindingJobs(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("identity"), opts)
		})
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request) {
	j, err := s.Passkeys.GetBindingJob(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("identity"), r.PathValue("job"))
	httpx.Reply(w, r, j, err)
}

func (s *Server) revokeJob(w http.ResponseWriter, r *http.Request) {
	if err := decodeOptionalEmpty(w, r); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	j, err := s.Passkeys.RevokeBindingJob(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("identity"), r.PathValue("job"))
	httpx.Reply(w, r, j, err)
}

const batchesPath = httpx.RealmPath + "/batch-credential-binding-jobs"

func (s *Server) batchRoutes(mux *httpx.Mux) {
	mux.Handle("POST "+batchesPath, s.auth(s.createBatch, "credential-binding-jobs:create"))
	mux.HandleVerbs("GET "+batchesPath+"/{batch}", httpx.Verbs{
		"":            s.auth(s.getBatch, "credential-binding-jobs:read"),
		"listResults": s.auth(s.listBatchResults, "credential-binding-jobs:read"),
	})
}

func (s *Server) createBatch(w http.ResponseWriter, r *http.Request) {
	var in struct {
		ID              json.RawMessage     `json:"id"`
		TenantID        json.RawMessage     `json:"tenant_id"`
		RealmID         json.RawMessage     `json:"realm_id"`
		State           json.RawMessage     `json:"state"`
		StateCommentary json.RawMessage     `json:"state_commentary"`
		CreateTime      json.RawMessage     `json:"create_time"`
		UpdateTime      json.RawMessage     `json:"update_time"`
		IdentityIDs     []string            `json:"identity_ids"`
		JobTemplate     passkey.JobTemplate `json:"job_template"`
	}
	if err := httpx.DecodeWrapped(w, r, "batch_credential_binding_job", &in, false); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	b, err := s.Passkeys.CreateBatch(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), in.IdentityIDs, in.JobTemplate)
	var full *passkey.QueueFull
	if errors.As(err, &full) {
		w.Header().Set("RateLimit-Limit", strconv.Itoa(passkey.MaxQueued))
		w.Header().Set("RateLimit-Remaining", strconv.Itoa(full.Remaining))
		err = latchkey.Errorf(latchkey.CodeTooManyRequests, "%s", full.Error())
	}
	httpx.Reply(w, r, b, latchkey.WithFieldPrefix(err, "batch_credential_binding_job."))
}

func (s *Server) getBatch(w http.ResponseWriter, r *http.Request) {
	b, err := s.Passkeys.GetBatch(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("batch"))
	httpx.Reply(w, r, b, err)
}

func (s *Server) listBatchResults(w http.ResponseWriter, r *http.Request) {
	p, err := parsePage(r, s.Clock.Now(), directoryPages, passkey.JobFilterAttributes)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	res, err := s.Passkeys.ListBatchResults(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("batch"), p.opts)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	body := pageBody(p, "job_results", res.Jobs, res.Total, func(j passkey.BindingJob) string { return j.ID })
	body["total_success_count"], body["total_failure_count"], body["total_pending_count"] = res.Success, res.Failure, res.Pending
	httpx.WriteJSON(w, http.StatusOK, body)
}
