package server

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/authenticator"
	"github.com/latchkey/latchkey/internal/background"
	"github.com/latchkey/latchkey/internal/bootstrap"
	"github.com/latchkey/latchkey/internal/console"
	"github.com/latchkey/latchkey/internal/delivery"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/httpapi"
	"github.com/latchkey/latchkey/internal/httpx"
	"github.com/latchkey/latchkey/internal/mail"
	"github.com/latchkey/latchkey/internal/metrics"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/otp"
	"github.com/latchkey/latchkey/internal/passkey"
	"github.com/latchkey/latchkey/internal/policy"
	"github.com/latchkey/latchkey/internal/provisioning"
	"github.com/latchkey/latchkey/internal/ratelimit"
	"github.com/latchkey/latchkey/internal/saml"
	"github.com/latchkey/latchkey/internal/scim"
	"github.com/latchkey/latchkey/internal/secretbox"
	"github.com/latchkey/latchkey/internal/session"
	"github.com/latchkey/latchkey/internal/sso"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/postgres"
	"github.com/latchkey/latchkey/internal/store/sqlite"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
	"github.com/latchkey/latchkey/internal/tracing"
	"github.com/latchkey/latchkey/internal/upstream"
	"github.com/latchkey/latchkey/internal/webhook"
)

// Config is a node's configuration; the CLI fills it from flags and
// LATCHKEY_* variables.
type Config struct {
	DataDir  string // SQLite file, master key, TLS files, bootstrap.json
	Database string // "" for embedded SQLite, or a postgres:// URL
	Listen   string // host:port
	// PublicURL is the external base URL used in links, issuers and
	// api_base_url; "" derives it from Listen.
	PublicURL     string
	TLSCert       string
	TLSKey        string
	TLSSelfSigned bool
	MasterKey     string // base64 of 32 bytes; "" uses (or creates) the data dir's key file
	// PreviousMasterKey also opens secrets, during a rotation of the master
	// key (keys rotate-master); "" when there is none.
	PreviousMasterKey string
	// Requests per second and bursts, per access token and per client IP; a
	// rate of 0 turns the limit off.
	TokenRate, IPRate   float64
	TokenBurst, IPBurst int
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client; other peers' X-Forwarded-For is ignored.
	TrustedProxies []net.IPNet
	// MetricsListen, when set, is the only address that serves /metrics;
	// MetricsToken, when set, is the bearer token /metrics asks for. With
	// neither, /metrics is not served.
	MetricsListen, MetricsToken string
	Logger                      *slog.Logger
	// BindingLinkTTL is how long credential binding links stay valid; zero
	// means passkey.DefaultLinkTTL.
	BindingLinkTTL time.Duration
	// SMTPURL is where e-mail goes (smtp:// or smtps://); "" writes it to the log.
	SMTPURL string
	// MailFrom is the From of e-mail; "" is Latchkey <no-reply@{public-url host}>.
	MailFrom string
	// AdminUsername and AdminEmail name the first administrator, made on
	// the first start; "" is bootstrap.DefaultAdminUsername and no e-mail.
	AdminUsername, AdminEmail string
	// ConsoleIdleTimeout ends console sessions unused for that long; zero
	// means console.DefaultIdleTimeout.
	ConsoleIdleTimeout time.Duration
	// Version is the binary's, which the node records in the database.
	Version string
	// WebhookAllowPrivate lets webhooks reach loopback, private and
	// link-local addresses, and loopback over http (tests, closed networks).
	WebhookAllowPrivate bool
	// EventRetention is how long audit and sign-in events are kept; zero
	// means audit.DefaultRetention.
	EventRetention time.Duration
	// Clock is where the node reads the time; nil is the system clock. Tests
	// set one to reach expiry, leases and TTLs without sleeping.
	Clock latchkey.Clock
	// ServiceProviders are the SSO configs that SAML signs in to; nil
	// knows none (every SAML endpoint answers 404).
	ServiceProviders saml.ServiceProviders
	// EntraAuthority replaces Entra ID's authority of every cloud for the
	// external authentication methods ("" for Microsoft's); EntraAppIDs are
	// audiences Entra's hints may carry besides a config's client id.
	EntraAuthority string
	EntraAppIDs    []string
}

// noServiceProviders is the ServiceProviders of a node configured with none.
type noServiceProviders struct{}

func (noServiceProviders) ServiceProvider(context.Context, string, string, string) (saml.ServiceProvider, error) {
	return saml.ServiceProvider{}, latchkey.ErrNotFound
}

func (noServiceProviders) Allowed(context.Context, string, string, string, directory.Identity) (bool, error) {
	return false, nil
}

// TLS reports whether the node serves HTTPS.
func (c Config) TLS() bool { return c.TLSSelfSigned || c.TLSCert != "" }

// BaseURL is PublicURL, or the URL that Listen implies.
func (c Config) BaseURL() string {
	if c.PublicURL != "" {
		return strings.TrimRight(c.PublicURL, "/")
	}
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		host, port = c.Listen, ""
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	scheme := "http"
	if c.TLS() {
		scheme = "https"
	}
	if port == "" {
		return scheme + "://" + host
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// Node is one running Latchkey.
type Node struct {
	cfg          Config
	Store        store.Store
	Directory    *directory.Service
	OAuth        *oauth.Service
	Passkeys     *passkey.Service
	Codes        *otp.Service
	Sessions     *session.Service
	SAML         *saml.Service
	Credentials  bootstrap.Credentials
	Bootstrapped bool   // whether this start created the first tenant
	CredsFile    string // where the credentials were written
	Mail         *mail.Service
	// MailWorker delivers the outbox while Serve runs. Set its OnFailed
	// before Serve; call its Wake after committing an enqueued message.
	MailWorker *mail.Worker
	// DeliveryWorker sends the HTTP deliveries of the outbox (back-channel
	// logout tokens, webhook messages) while Serve runs.
	DeliveryWorker *delivery.Worker
	// SSO manages the realms' SSO configs, identity providers and launch mechanisms.
	SSO *sso.Service
	// Upstream signs in through the realms' upstream OIDC identity providers.
	Upstream *upstream.Service
	// Webhooks manages the realms' webhooks, whose deliveries DeliveryWorker sends.
	Webhooks *webhook.Service
	// Provisioning runs CSV imports and exports; ImportWorker runs the
	// import jobs while Serve runs.
	Provisioning *provisioning.Service
	ImportWorker *provisioning.Worker
	// Console is the admin console's sign-in; AdminLink, set only on the
	// start that made it, binds the first administrator's passkey.
	Console   bootstrap.Console
	AdminLink string
	handler   http.Handler
	tlsConfig *tls.Config // nil serves plain HTTP
	// metrics serves /metrics on metricsLn, when --metrics-listen is set.
	metrics   http.Handler
	metricsLn net.Listener
	unlock    func()    // releases the data dir's lock
	started   time.Time // as the node's record says
}

// MetricsAddr is the address that serves /metrics alone, or nil.
func (n *Node) MetricsAddr() net.Addr {
	if n.metricsLn == nil {
		return nil
	}
	return n.metricsLn.Addr()
}

// OpenStore opens the configured database without migrating it.
func OpenStore(cfg Config) (store.Store, error) {
	var st *sqlstore.Store
	var err error
	switch {
	case cfg.Database == "":
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, err
		}
		st, err = sqlite.Open(filepath.Join(cfg.DataDir, "latchkey.db"))
	case strings.HasPrefix(cfg.Database, "postgres://"), strings.HasPrefix(cfg.Database, "postgresql://"):
		st, err = postgres.Open(cfg.Database)
	default:
		return nil, errors.New("--database must be empty (embedded SQLite) or a postgres:// URL")
	}
	if err != nil {
		return nil, err
	}
	st.Clock = cfg.Clock
	return st, nil
}

// Open prepares a node: store, migrations, master key, signing keys, bootstrap.
func Open(ctx context.Context, cfg Config) (*Node, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, err
	}
	unlock, err := lockDataDir(cfg.DataDir, false)
	if errors.Is(err, errLocked) {
		return nil, fmt.Errorf("%s is being restored (latchkey restore)", cfg.DataDir)
	}
	if err != nil {
		return nil, err
	}
	n, err := openNode(ctx, cfg)
	if err != nil {
		unlock()
		return nil, err
	}
	n.unlock = unlock
	if err := n.record(ctx); err != nil {
		n.Close()
		return nil, fmt.Errorf("record the node: %w", err)
	}
	return n, nil
}

func openNode(ctx context.Context, cfg Config) (*Node, error) {
	// The certificate comes before the database, so that a wrong one stops
	// the start before anything is migrated or bootstrapped.
	var tlsConfig *tls.Config
	if cfg.TLS() {
		cert, err := certificate(cfg)
		if err != nil {
			return nil, err
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	st, err := OpenStore(cfg)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	n, err := open(ctx, cfg, st)
	if err != nil {
		st.Close()
		return nil, err
	}
	n.tlsConfig = tlsConfig
	if cfg.MetricsListen != "" {
		if n.metricsLn, err = net.Listen("tcp", cfg.MetricsListen); err != nil {
			st.Close()
			return nil, fmt.Errorf("--metrics-listen: %w", err)
		}
	}
	return n, nil
}

func open(ctx context.Context, cfg Config, st store.Store) (*Node, error) {
	if err := checkSchema(ctx, cfg, st); err != nil {
		return nil, err
	}
	if err := st.Migrate(ctx); err != nil {
		return nil, err
	}
	box, err := openBox(ctx, cfg, st)
	if err != nil {
		return nil, err
	}
	base := cfg.BaseURL()
	policies, oauthSvc := newOAuth(cfg, st, box, base)
	// Bootstrap first: it makes the first signing key, once for all the
	// nodes starting together, and Start then loads it.
	creds, created, err := bootstrap.Run(ctx, st, box, cfg.Clock, oauthSvc.Issuer, base)
	if err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	if err := oauthSvc.Start(ctx); err != nil {
		return nil, err
	}
	cons, consoleCreated, err := bootstrap.EnsureConsole(ctx, st, box, cfg.Clock, creds,
		bootstrap.AdminOptions{Username: cfg.AdminUsername, Email: cfg.AdminEmail}, base)
	if err != nil {
		return nil, fmt.Errorf("bootstrap the admin console: %w", err)
	}
	path, err := bootstrap.WriteFile(cfg.DataDir, creds)
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", bootstrap.File, err)
	}
	worker, smtp, err := newMailWorker(cfg, st)
	if err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, Store: st, Directory: directory.NewService(st.Directory()), OAuth: oauthSvc,
		Credentials: creds, Bootstrapped: created, CredsFile: path, Console: cons,
		Mail: mail.NewService(st.Mail()), MailWorker: worker,
		DeliveryWorker: &delivery.Worker{Store: st.Delivery(), Logger: cfg.Logger, Owner: worker.Owner, Clock: cfg.Clock,
			Kinds: map[string]delivery.Kind{oauth.KindBackchannelLogout: oauthSvc.LogoutToken}}}
	// Every ending of sessions records its events and queues its
	// back-channel logouts in its own transaction.
	st.OnSessionsEnded(func(ctx context.Context, tx store.Tx, ended []session.Session) error {
		return oauthSvc.SessionsEnded(ctx, tx, ended)
	})
	oauthSvc.DeliveryQueued = n.DeliveryWorker.Wake
	n.Webhooks = webhook.NewService(st.Webhook(), box)
	n.Webhooks.Clock, n.Webhooks.AllowPrivate, n.Webhooks.Logger, n.Webhooks.Wake = cfg.Clock, cfg.WebhookAllowPrivate, cfg.Logger, n.DeliveryWorker.Wake
	n.DeliveryWorker.Kinds[webhook.Kind] = n.Webhooks.Request
	n.DeliveryWorker.Clients = map[string]*http.Client{webhook.Kind: webhook.Client(cfg.WebhookAllowPrivate)}
	n.DeliveryWorker.PerTargetOf = map[string]int{webhook.Kind: webhook.PerTarget}
	n.DeliveryWorker.Failed = map[string]func(context.Context, delivery.Delivery, delivery.Outcome){webhook.Kind: n.Webhooks.Failed}
	n.Directory.Clock, n.Mail.Clock, n.Mail.SMTP = cfg.Clock, cfg.Clock, smtp
	n.Passkeys = newPasskeys(cfg, st, base)
	n.Passkeys.ConfigChanged = oauthSvc.Forget
	if consoleCreated {
		if n.AdminLink, _, err = bootstrap.EnrollAdmin(ctx, st, n.Passkeys, cons, ""); err != nil {
			return nil, fmt.Errorf("the first administrator's binding link: %w", err)
		}
	}
	n.SSO = sso.NewService(st.SSO(), box, oauthSvc, base)
	n.SSO.Clock, n.SSO.Logger = cfg.Clock, cfg.Logger
	oauthSvc.Entra.Configs = n.SSO // the entra_id_external_auth_methods configs' applications answer Entra ID
	n.Provisioning = provisioning.NewService(st.Provisioning())
	n.Provisioning.Clock = cfg.Clock
	n.Provisioning.Mailer = bindingMailer{n.Passkeys}
	n.ImportWorker = &provisioning.Worker{Service: n.Provisioning, Logger: cfg.Logger, Owner: "node-" + latchkey.NewID()}
	n.Provisioning.Wake = n.ImportWorker.Wake
	n.Passkeys.MailQueued = worker.Wake
	n.Codes = otp.NewService(st.OTP(), n.Passkeys, box.MAC)
	n.Codes.Clock, n.Codes.MailQueued = cfg.Clock, worker.Wake
	worker.OnFailed = func(ctx context.Context, m mail.Message) {
		if err := n.Passkeys.DeliveryFailed(ctx, m); err != nil {
			cfg.Logger.Error("record undelivered binding e-mail", "mail", m.ID, "err", err)
		}
	}
	api := &httpapi.Server{
		Directory: n.Directory, OAuth: oauthSvc, Events: st.Audit(), Metrics: metrics.New(), Ready: st.Ping,
		PerToken: ratelimit.New(cfg.TokenRate, cfg.TokenBurst), PerIP: ratelimit.New(cfg.IPRate, cfg.IPBurst),
		Logger: cfg.Logger, Clock: cfg.Clock,
		SCIM:         &scim.Handler{Directory: n.Directory, PublicURL: cfg.BaseURL()},
		Passkeys:     n.Passkeys,
		Policy:       policies,
		Mail:         n.Mail,
		Provisioning: n.Provisioning,
		Webhooks:     n.Webhooks,
		SSO:          n.SSO,
		Console: (&console.Console{
			Directory: n.Directory, OAuth: oauthSvc, Passkeys: n.Passkeys, Policy: policies, Mail: n.Mail,
			Provisioning: n.Provisioning, Events: st.Audit(), Webhooks: n.Webhooks, SSO: n.SSO, Box: box, PublicURL: base,
			IdleTimeout: cfg.ConsoleIdleTimeout, Logger: cfg.Logger, Clock: cfg.Clock,
			Client: console.Client{TenantID: cons.TenantID, RealmID: cons.RealmID, ApplicationID: cons.ApplicationID,
				ClientID: cons.ClientID, ClientSecret: cons.ClientSecret},
			Management: console.Management{ApplicationID: creds.ApplicationID},
		}).Handler(),
	}
	api.TrustedProxies = cfg.TrustedProxies
	if cfg.MetricsListen != "" {
		n.metrics = api.MetricsHandler(cfg.MetricsToken)
	} else {
		api.MetricsToken = cfg.MetricsToken
	}
	// The management API and the authenticator share one mux and one
	// middleware chain: every request gets its id, log line, metrics and
	// limits whichever of them answers it.
	mux := httpx.NewMux()
	api.Routes(mux)
	n.Sessions = session.NewService(st.Session(), box)
	n.Sessions.Clock = cfg.Clock
	// The SSO configs are the SAML service providers, unless a test names others.
	var providers saml.ServiceProviders = n.SSO
	if cfg.ServiceProviders != nil {
		providers = cfg.ServiceProviders
	}
	n.SAML = saml.NewService(st.SAML(), box, providers, base)
	n.SAML.Clock = cfg.Clock
	n.Upstream = upstream.NewService(st.Upstream(), box, n.SSO)
	n.Upstream.Clock, n.Upstream.Logger = cfg.Clock, cfg.Logger
	(&authenticator.Server{OAuth: oauthSvc, Passkeys: n.Passkeys, Codes: n.Codes, Sessions: n.Sessions, SAML: n.SAML, Mail: n.Mail, PublicURL: base,
		SSO: n.SSO, Upstream: n.Upstream}).Routes(mux)
	n.handler = api.Handler(mux)
	return n, nil
}

// newOAuth returns the policy and OAuth services over st on cfg's clock.
func newOAuth(cfg Config, st store.Store, box *secretbox.Box, base string) (*policy.Service, *oauth.Service) {
	policies := policy.NewService(st.Policy())
	policies.Clock = cfg.Clock
	svc := oauth.NewService(st.OAuth(), box, policies, base)
	svc.Clock = cfg.Clock
	svc.Entra.Authority, svc.Entra.AppIDs, svc.Entra.Fetch = cfg.EntraAuthority, cfg.EntraAppIDs, fetchEntra
	return policies, svc
}

// newPasskeys returns the passkey service over st, with cfg's link TTL and clock.
func newPasskeys(cfg Config, st store.Store, base string) *passkey.Service {
	s := passkey.NewService(st.Passkey(), base)
	s.LinkTTL, s.Clock = cfg.BindingLinkTTL, cfg.Clock
	return s
}

// newMailWorker returns the outbox worker: SMTP when configured, else the
// log, and the SMTP sender (nil without one). Its owner is a random node
// id, so that leases tell nodes apart.
func newMailWorker(cfg Config, st store.Store) (*mail.Worker, *mail.SMTPSender, error) {
	w := &mail.Worker{Store: st.Mail(), Sender: mail.NewLogSender(cfg.Logger), Logger: cfg.Logger, Owner: "node-" + latchkey.NewID(), Clock: cfg.Clock}
	if cfg.SMTPURL == "" {
		return w, nil, nil
	}
	from := cfg.MailFrom
	if from == "" {
		u, err := url.Parse(cfg.BaseURL())
		if err != nil {
			return nil, nil, fmt.Errorf("public URL: %w", err)
		}
		from = "Latchkey <no-reply@" + u.Hostname() + ">"
	}
	smtp, err := mail.NewSMTPSender(cfg.SMTPURL, from)
	if err != nil {
		return nil, nil, fmt.Errorf("--smtp-url: %w", err)
	}
	w.Sender = smtp
	return w, smtp, nil
}

// openBox opens the master key (given, or the data dir's, made on first
// use) and checks that it is the one the database was created with.
func openBox(ctx context.Context, cfg Config, st store.Store) (*secretbox.Box, error) {
	key := cfg.MasterKey
	if key == "" {
		var err error
		if key, err = secretbox.LoadOrCreate(cfg.DataDir); err != nil {
			return nil, fmt.Errorf("master key: %w", err)
		}
	}
	return checkedBox(ctx, st, key, cfg.PreviousMasterKey)
}

// checkedBox returns the box of key and previous keys, once it opens what
// st sealed.
func checkedBox(ctx context.Context, st store.Store, key string, previous ...string) (*secretbox.Box, error) {
	box, err := secretbox.New(key, previous...)
	if err != nil {
		return nil, err
	}
	return box, bootstrap.CheckMasterKey(ctx, st, box)
}

// openForCommand opens the configured database for a command that runs
// beside the nodes: migrated, with the master key checked.
func openForCommand(ctx context.Context, cfg Config) (store.Store, *secretbox.Box, error) {
	st, err := OpenStore(cfg)
	if err != nil {
		return nil, nil, err
	}
	if err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, nil, err
	}
	box, err := openBox(ctx, cfg, st)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, box, nil
}

// RotateKeys makes a new signing key of each algorithm in the configured
// database and returns their ids; the running nodes start signing with
// them within a minute.
func RotateKeys(ctx context.Context, cfg Config) ([]string, error) {
	st, box, err := openForCommand(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	_, svc := newOAuth(cfg, st, box, cfg.BaseURL())
	return svc.RotateKeys(ctx)
}

// RotateSAMLCertificate makes a new SAML signing certificate for a realm of
// the configured database, published at once in its SSO configs' IdP
// metadata and signing after overlap (see saml.Service.Rotate).
func RotateSAMLCertificate(ctx context.Context, cfg Config, tenantID, realmID string, overlap time.Duration) (saml.Certificate, error) {
	st, box, err := openForCommand(ctx, cfg)
	if err != nil {
		return saml.Certificate{}, err
	}
	defer st.Close()
	svc := saml.NewService(st.SAML(), box, noServiceProviders{}, cfg.BaseURL())
	svc.Clock = cfg.Clock
	return svc.Rotate(ctx, tenantID, realmID, overlap)
}

// RotateMasterKey seals every secret of the configured database anew with
// newKey, in transactions of at most batch rows (done hears of each),
// while nodes given newKey and the old key serve. The old key is the
// configured one (--master-key, else the data dir's file); the previous one
// opens too, for a rotation resumed with the keys of its nodes. When the
// old key came from the data dir's file, the file then holds newKey and
// master.key.previous the old one.
func RotateMasterKey(ctx context.Context, cfg Config, newKey string, batch int, done func(table string, changed int)) error {
	old, err := masterKey(cfg)
	if err != nil {
		return err
	}
	st, err := OpenStore(cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return err
	}
	box, err := checkedBox(ctx, st, newKey, old, cfg.PreviousMasterKey)
	if err != nil {
		return err
	}
	if err := bootstrap.RotateMasterKey(ctx, st, box, batch, done); err != nil {
		return err
	}
	if cfg.MasterKey != "" || old == newKey {
		return nil
	}
	return secretbox.Replace(cfg.DataDir, newKey)
}

// EnrollAdmin returns a fresh passkey binding link for the console, for
// the admin realm's identity username ("" the first administrator), and
// whether that identity is an administrator. It serves nothing and may run
// beside the nodes: the link is on --public-url, else on the URL that the
// last node started in this data dir wrote to bootstrap.json.
func EnrollAdmin(ctx context.Context, cfg Config, username string) (link string, isAdmin bool, err error) {
	base := cfg.BaseURL()
	if creds, err := bootstrap.ReadFile(cfg.DataDir); cfg.PublicURL == "" && err == nil && creds.APIBaseURL != "" {
		base = creds.APIBaseURL
	}
	st, box, err := openForCommand(ctx, cfg)
	if err != nil {
		return "", false, err
	}
	defer st.Close()
	c, err := bootstrap.ReadConsole(ctx, st, box)
	if errors.Is(err, latchkey.ErrNotFound) {
		return "", false, errors.New("this database has no admin console yet: start latchkey serve once")
	}
	if err != nil {
		return "", false, err
	}
	return bootstrap.EnrollAdmin(ctx, st, newPasskeys(cfg, st, base), c, username)
}

// ManagementCredentials returns the credentials of the management
// application, which the API never answers, from the configured database,
// and writes them to bootstrap.json in the data dir. regenerate gives the
// application a new secret first: the old one stops working at once on this
// database's nodes (within oauth.ClientCacheTTL on those that used it).
func ManagementCredentials(ctx context.Context, cfg Config, regenerate bool) (bootstrap.Credentials, string, error) {
	base := cfg.BaseURL()
	if creds, err := bootstrap.ReadFile(cfg.DataDir); cfg.PublicURL == "" && err == nil && creds.APIBaseURL != "" {
		base = creds.APIBaseURL
	}
	st, box, err := openForCommand(ctx, cfg)
	if err != nil {
		return bootstrap.Credentials{}, "", err
	}
	defer st.Close()
	_, svc := newOAuth(cfg, st, box, base)
	creds, err := bootstrap.ReadCredentials(ctx, st, box, svc.Issuer, base)
	if errors.Is(err, latchkey.ErrNotFound) {
		return creds, "", errors.New("this database is not bootstrapped yet: start latchkey serve once")
	}
	if err != nil {
		return creds, "", err
	}
	if regenerate {
		// No actor in ctx: the system, which alone may rekey a managed application.
		app, err := svc.RegenerateSecret(ctx, creds.TenantID, creds.RealmID, creds.ApplicationID)
		if err != nil {
			return creds, "", err
		}
		creds.ClientSecret = app.ProtocolConfig.ClientSecret
	}
	path, err := bootstrap.WriteFile(cfg.DataDir, creds)
	return creds, path, err
}

// Close closes the store (and the metrics listener, if Serve never ran).
func (n *Node) Close() error {
	if n.metricsLn != nil {
		n.metricsLn.Close()
	}
	n.forget()
	err := n.Store.Close()
	n.unlock()
	return err
}

// Serve serves on ln until ctx is done, then shuts down gracefully, letting
// requests in flight finish (for up to 20 seconds).
func (n *Node) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler: n.handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(n.cfg.Logger.Handler(), slog.LevelWarn),
	}
	if n.tlsConfig != nil {
		srv.TLSConfig = n.tlsConfig
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	go n.sweep(ctx, nodeSeenPeriod, "recorded the node", func(ctx context.Context) (int, error) { return 0, n.record(ctx) })
	go n.sweep(ctx, 10*time.Minute, "deleted expired tokens", n.OAuth.DeleteExpiredTokens)
	pruner := &audit.Pruner{Store: n.Store.Audit(), Clock: n.cfg.Clock, Retention: cmp.Or(n.cfg.EventRetention, audit.DefaultRetention), Logger: n.cfg.Logger}
	go pruner.Run(ctx, time.Minute)
	go n.sweep(ctx, time.Minute, "ended expired sessions", n.Sessions.Sweep)
	go n.sweep(ctx, 10*time.Minute, "deleted expired SAML sign-ins", n.SAML.DeleteExpiredRequests)
	go n.sweep(ctx, 10*time.Minute, "deleted expired upstream authorizations", n.Upstream.DeleteExpired)
	go n.sweep(ctx, time.Minute, "reloaded signing keys", n.OAuth.ReloadKeys)
	go n.sweep(ctx, time.Minute, "expired credential binding jobs", n.Passkeys.ExpireBindingJobs)
	go n.sweep(ctx, time.Minute, "deleted expired e-mail codes", n.Codes.Sweep)
	go n.sweep(ctx, time.Second, "finished batch credential binding jobs", func(ctx context.Context) (int, error) {
		return n.Passkeys.ProcessBatches(ctx, n.MailWorker.Owner) // the owner names this node in leases
	})
	// A send still in progress at shutdown is abandoned; its lease runs out
	// and this or another node sends the message again.
	mailCtx, stopMail := context.WithCancel(ctx)
	mailDone := make(chan struct{})
	go func() { n.MailWorker.Run(mailCtx); close(mailDone) }()
	defer func() { stopMail(); <-mailDone }()
	// So is a delivery: another node (or this one, restarted) sends it again.
	deliveryCtx, stopDeliveries := context.WithCancel(ctx)
	deliveriesDone := make(chan struct{})
	go func() { n.DeliveryWorker.Run(deliveryCtx); close(deliveriesDone) }()
	defer func() { stopDeliveries(); <-deliveriesDone }()
	// An import stopped at shutdown resumes after its last committed batch,
	// here or on another node, once its lease runs out.
	importCtx, stopImports := context.WithCancel(ctx)
	importsDone := make(chan struct{})
	go func() { n.ImportWorker.Run(importCtx); close(importsDone) }()
	defer func() { stopImports(); <-importsDone }()
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	metrics := &http.Server{Handler: n.metrics, ReadHeaderTimeout: 10 * time.Second, ErrorLog: srv.ErrorLog}
	if n.metricsLn != nil {
		go func() { errc <- metrics.Serve(n.metricsLn) }()
	}
	select {
	case err := <-errc:
		srv.Close()
		metrics.Close()
		return err
	case <-ctx.Done():
	}
	n.cfg.Logger.Info("shutting down")
	shutdown, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	metrics.Shutdown(shutdown)
	return srv.Shutdown(shutdown)
}

// sweep runs fn every period until ctx is done, logging what it did as
// "<what>" with the count it returns, and tracing it as the job "<what>".
func (n *Node) sweep(ctx context.Context, period time.Duration, what string, fn func(context.Context) (int, error)) {
	var loop background.Loop // traced here, with the count
	loop.Run(ctx, period, func(ctx context.Context) bool {
		ctx, end := tracing.StartJob(ctx, what)
		k, err := fn(ctx)
		if err != nil {
			n.cfg.Logger.Warn(what, "err", err)
		} else if k > 0 {
			n.cfg.Logger.Info(what, "count", k)
		}
		end(k > 0, err, attribute.Int("latchkey.job.count", k))
		return false
	})
}
