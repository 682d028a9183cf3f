package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/passkey"
)

const (
	configsPath     = realmPath + "/authenticator-configs"
	credentialsPath = realmPath + "/identities/{identity}/credentials"
	jobsPath        = realmPath + "/identities/{identity}/credential-binding-jobs"
)

func (s *Server) passkeyRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+passkey.DefaultLogoPath, serveLogo)
	s.batchRoutes(mux)
	mux.Handle("POST "+configsPath, s.auth(s.createConfig, "authenticator-configs:create"))
	mux.Handle("GET "+configsPath, s.auth(s.listConfigs, "authenticator-configs:read"))
	mux.Handle("GET "+configsPath+"/{config}", verbs{"": s.auth(s.getConfig, "authenticator-configs:read")})
	mux.Handle("PATCH "+configsPath+"/{config}", verbs{"": s.auth(s.updateConfig, "authenticator-configs:update")})
	mux.Handle("DELETE "+configsPath+"/{config}", verbs{"": s.auth(s.deleteConfig, "authenticator-configs:delete")})

	mux.Handle("GET "+credentialsPath, s.auth(s.listCredentials, "credentials:read"))
	mux.Handle("GET "+credentialsPath+"/{credential}", verbs{"": s.auth(s.getCredential, "credentials:read")})
	mux.Handle("POST "+credentialsPath+"/{credential}", verbs{"revoke": s.auth(s.revokeCredential, "credentials:revoke")})

	mux.Handle("POST "+jobsPath, s.auth(s.createJob, "credential-binding-jobs:create"))
	mux.Handle("GET "+jobsPath, s.auth(s.listJobs, "credential-binding-jobs:read"))
	// The binding endpoints are authorised by the link's token, not by an
	// API token, and are called cross-origin by the embedded SDK.
	mux.Handle("GET "+jobsPath+"/{job}", verbs{
		"":                    s.auth(s.getJob, "credential-binding-jobs:read"),
		"invokeAuthenticator": s.bindingCORS(s.invokeAuthenticator),
	})
	mux.Handle("POST "+jobsPath+"/{job}", verbs{
		"revoke":  s.auth(s.revokeJob, "credential-binding-jobs:revoke"),
		"getInfo": s.bindingCORS(s.getInfo),
		"bind":    s.bindingCORS(s.bind),
	})
	mux.Handle("OPTIONS "+jobsPath+"/{job}", verbs{
		"invokeAuthenticator": s.bindingCORS(nil),
		"getInfo":             s.bindingCORS(nil),
		"bind":                s.bindingCORS(nil),
	})
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
	if err := decodeWrapped(w, r, "authenticator_config", &in, false); err != nil {
		writeError(w, r, err)
		return
	}
	a := passkey.AuthenticatorConfig{DisplayName: deref(in.DisplayName)}
	if err := decodeConfig(in.Config, &a.Config); err != nil {
		writeError(w, r, latchkey.WithFieldPrefix(err, "authenticator_config."))
		return
	}
	a, err := s.Passkeys.CreateAuthenticatorConfig(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), a)
	reply(w, r, a, latchkey.WithFieldPrefix(err, "authenticator_config."))
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
	return latchkey.WithFieldPrefix(strictDecode(raw, c), "config.")
}

func (s *Server) listConfigs(w http.ResponseWriter, r *http.Request) {
	servePage(w, r, oauthPages, passkey.ConfigFilterAttributes, "authenticator_configs",
		func(v passkey.AuthenticatorConfig) string { return v.ID },
		func(opts latchkey.ListOptions) ([]passkey.AuthenticatorConfig, int, error) {
			return s.Passkeys.ListAuthenticatorConfigs(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), opts)
		})
}

func (s *Server) getConfig(w http.ResponseWriter, r *http.Request) {
	a, err := s.Passkeys.GetAuthenticatorConfig(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("config"))
	reply(w, r, a, err)
}

func (s *Server) updateConfig(w http.ResponseWriter, r *http.Request) {
	var in configIn
	if err := decodeWrapped(w, r, "authenticator_config", &in, false); err != nil {
		writeError(w, r, err)
		return
	}
	a, err := s.Passkeys.UpdateAuthenticatorConfig(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("config"),
		func(a *passkey.AuthenticatorConfig) error {
			setIfGiven(&a.DisplayName, in.DisplayName)
			return decodeConfig(in.Config, &a.Config)
		})
	reply(w, r, a, latchkey.WithFieldPrefix(err, "authenticator_config."))
}

func setIfGiven(dst *string, v *string) {
	if v != nil {
		*dst = *v
	}
}

func (s *Server) deleteConfig(w http.ResponseWriter, r *http.Request) {
	replyEmpty(w, r, s.Passkeys.DeleteAuthenticatorConfig(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("config")))
}

func (s *Server) listCredentials(w http.ResponseWriter, r *http.Request) {
	servePage(w, r, directoryPages, passkey.CredentialFilterAttributes, "credentials",
		func(v passkey.Credential) string { return v.ID },
		func(opts latchkey.ListOptions) ([]passkey.Credential, int, error) {
			return s.Passkeys.ListCredentials(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("identity"), opts)
		})
}

func (s *Server) getCredential(w http.ResponseWriter, r *http.Request) {
	c, err := s.Passkeys.GetCredential(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("identity"), r.PathValue("credential"))
	reply(w, r, c, err)
}

func (s *Server) revokeCredential(w http.ResponseWriter, r *http.Request) {
	if err := decodeOptionalEmpty(w, r); err != nil {
		writeError(w, r, err)
		return
	}
	c, err := s.Passkeys.RevokeCredential(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("identity"), r.PathValue("credential"))
	reply(w, r, c, err)
}

// decodeOptionalEmpty accepts no body or an empty object, as the revoke
// verbs take.
func decodeOptionalEmpty(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(w, r)
	if err != nil || len(strings.TrimSpace(string(body))) == 0 {
		return err
	}
	return strictDecode(body, &struct{}{})
}

type jobIn struct {
	DeliveryMethod         string                `json:"delivery_method"`
	AuthenticatorConfigID  string                `json:"authenticator_config_id"`
	AuthenticatorConfig    *passkey.InlineConfig `json:"authenticator_config"`
	PostBindingRedirectURI string                `json:"post_binding_redirect_uri"`
}

type jobOut struct {
	Job  passkey.BindingJob `json:"credential_binding_job"`
	Link string             `json:"credential_binding_link,omitempty"`
}

func (s *Server) createJob(w http.ResponseWriter, r *http.Request) {
	var in jobIn
	if err := decodeWrapped(w, r, "job", &in, false); err != nil {
		writeError(w, r, err)
		return
	}
	j, link, err := s.Passkeys.CreateBindingJob(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("identity"),
		passkey.JobRequest{DeliveryMethod: in.DeliveryMethod, AuthenticatorConfigID: in.AuthenticatorConfigID,
			AuthenticatorConfig: in.AuthenticatorConfig, PostBindingRedirectURI: in.PostBindingRedirectURI})
	if err != nil {
		writeError(w, r, latchkey.WithFieldPrefix(err, "job."))
		return
	}
	out := jobOut{Job: j}
	if j.DeliveryMethod == passkey.Return {
		out.Link = link
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) listJobs(w http.ResponseWriter, r *http.Request) {
	servePage(w, r, directoryPages, passkey.JobFilterAttributes, "credential_binding_jobs",
		func(v passkey.BindingJob) string { return v.ID },
		func(opts latchkey.ListOptions) ([]passkey.BindingJob, int, error) {
			return s.Passkeys.ListBindingJobs(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("identity"), opts)
		})
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request) {
	j, err := s.Passkeys.GetBindingJob(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("identity"), r.PathValue("job"))
	reply(w, r, j, err)
}

func (s *Server) revokeJob(w http.ResponseWriter, r *http.Request) {
	if err := decodeOptionalEmpty(w, r); err != nil {
		writeError(w, r, err)
		return
	}
	j, err := s.Passkeys.RevokeBindingJob(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("identity"), r.PathValue("job"))
	reply(w, r, j, err)
}

// bindingCORS lets the origins that the job's authenticator config trusts
// call h from a browser, and answers their preflights (h nil).
func (s *Server) bindingCORS(h http.HandlerFunc) http.Handler {
	return cors(func(r *http.Request) []string {
		return s.Passkeys.TrustedOrigins(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("identity"), r.PathValue("job"))
	}, h)
}

// sdkCORS lets the origins that an application's embedded authenticator
// config trusts call h from a browser, and answers their preflights (h nil).
func (s *Server) sdkCORS(h http.HandlerFunc) http.Handler {
	return cors(func(r *http.Request) []string {
		_, c, err := s.OAuth.EmbeddedConfig(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("app"))
		if err != nil {
			return nil
		}
		return s.Passkeys.AllowedOrigins(c.Config)
	}, h)
}

// cors lets the origins that trusted names call h from a browser, with the
// headers the embedded SDK sends, and answers their preflights (h nil).
func cors(trusted func(*http.Request) []string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if origin := r.Header.Get("Origin"); origin != "" {
			w.Header().Add("Vary", "Origin")
			if slices.Contains(trusted(r), origin) {
				w.Header().Set("Access-Control-Allow-Origin", origin)
				w.Header().Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
				w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Correlation-Id")
				w.Header().Set("Access-Control-Max-Age", "600")
			}
		}
		if h == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h(w, r)
	})
}

// bindingToken is the link's token: the query's on the link itself, the
// bearer one on the calls the authenticator makes with it.
func bindingToken(r *http.Request) string {
	if t, ok := bearer(r); ok {
		return t
	}
	return r.URL.Query().Get("token")
}

// advance checks the request's binding token and moves the job to state.
func (s *Server) advance(r *http.Request, state string) (passkey.Invocation, error) {
	return s.Passkeys.Advance(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("identity"),
		r.PathValue("job"), bindingToken(r), state)
}

// invokeAuthenticator opens a binding link. An embedded config's link
// answers the SDK's JSON instruction, or sends a browser to the app's
// invoke URL; a hosted one lands on the hosted binding page.
func (s *Server) invokeAuthenticator(w http.ResponseWriter, r *http.Request) {
	inv, err := s.advance(r, passkey.LinkOpened)
	if err != nil {
		s.bindingError(w, r, err)
		return
	}
	j, token := inv.Job, bindingToken(r)
	if inv.Config.Config.Type == passkey.Embedded {
		instruction := map[string]string{
			"tenant_id": j.TenantID, "realm_id": j.RealmID, "identity_id": j.IdentityID, "job_id": j.ID,
			"token": token, "api_base_url": s.Passkeys.BaseURL,
		}
		if wantsHTML(r) {
			http.Redirect(w, r, strings.TrimSuffix(inv.Config.Config.InvokeURL, "/")+"/bind?"+query(instruction), http.StatusFound)
			return
		}
		writeJSON(w, http.StatusOK, instruction)
		return
	}
	s.bindingPage(w, r, inv)
}

func (s *Server) getInfo(w http.ResponseWriter, r *http.Request) {
	inv, err := s.advance(r, passkey.RequestDelivered)
	if err != nil {
		writeError(w, r, err)
		return
	}
	info, err := s.Passkeys.Info(r.Context(), inv, bindingToken(r))
	reply(w, r, info, err)
}

func (s *Server) bind(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Type string `json:"type"`
		Raw  string `json:"raw"`
	}
	if err := decodeBody(w, r, &in); err != nil {
		writeError(w, r, err)
		return
	}
	c, err := s.Passkeys.Bind(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("identity"),
		r.PathValue("job"), bindingToken(r), passkey.Proof{Type: in.Type, Raw: in.Raw})
	if err != nil {
		writeError(w, r, err)
		return
	}
	// The SDK takes the credential flat, not wrapped.
	writeJSON(w, http.StatusOK, c)
}

const batchesPath = realmPath + "/batch-credential-binding-jobs"

func (s *Server) batchRoutes(mux *http.ServeMux) {
	mux.Handle("POST "+batchesPath, s.auth(s.createBatch, "credential-binding-jobs:create"))
	mux.Handle("GET "+batchesPath+"/{batch}", verbs{
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
	if err := decodeWrapped(w, r, "batch_credential_binding_job", &in, false); err != nil {
		writeError(w, r, err)
		return
	}
	b, err := s.Passkeys.CreateBatch(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), in.IdentityIDs, in.JobTemplate)
	var full *passkey.QueueFull
	if errors.As(err, &full) {
		w.Header().Set("RateLimit-Limit", strconv.Itoa(passkey.MaxQueued))
		w.Header().Set("RateLimit-Remaining", strconv.Itoa(full.Remaining))
		err = latchkey.Errorf(latchkey.CodeTooManyRequests, "%s", full.Error())
	}
	reply(w, r, b, latchkey.WithFieldPrefix(err, "batch_credential_binding_job."))
}

func (s *Server) getBatch(w http.ResponseWriter, r *http.Request) {
	b, err := s.Passkeys.GetBatch(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("batch"))
	reply(w, r, b, err)
}

func (s *Server) listBatchResults(w http.ResponseWriter, r *http.Request) {
	p, err := parsePage(r, directoryPages, passkey.JobFilterAttributes)
	if err != nil {
		writeError(w, r, err)
		return
	}
	res, err := s.Passkeys.ListBatchResults(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("batch"), p.opts)
	if err != nil {
		writeError(w, r, err)
		return
	}
	body := pageBody(p, "job_results", res.Jobs, res.Total, func(j passkey.BindingJob) string { return j.ID })
	body["total_success_count"], body["total_failure_count"], body["total_pending_count"] = res.Success, res.Failure, res.Pending
	writeJSON(w, http.StatusOK, body)
}
