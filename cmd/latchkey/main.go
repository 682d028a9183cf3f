// Command latchkey is the Latchkey server and its command-line tools:
// serve, migrate, token, credentials, keys, admin, import, export, backup,
// restore, healthcheck and version. It
// only wires configuration into
// internal/server and internal/apiclient.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/latchkey/latchkey/internal/apiclient"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/bootstrap"
	"github.com/latchkey/latchkey/internal/console"
	"github.com/latchkey/latchkey/internal/fastrsa"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/passkey"
	"github.com/latchkey/latchkey/internal/secretbox"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/tracing"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = ""

func main() {
	if err := root().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "latchkey:", err)
		os.Exit(1)
	}
}

func root() *cobra.Command {
	var cfg server.Config
	var logFormat string
	cmd := &cobra.Command{
		Use:   "latchkey",
		Short: "Latchkey: self-hosted passwordless identity, compatible with the Beyond Identity API v1",
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyEnv(cmd.Flags()); err != nil {
				return err
			}
			cfg.Logger = newLogger(logFormat)
			slog.SetDefault(cfg.Logger)
			return nil
		},
		SilenceUsage:  true,
		SilenceErrors: true, // main prints it, once
	}
	f := cmd.PersistentFlags()
	f.StringVar(&cfg.DataDir, "data-dir", "./latchkey-data", "directory for the SQLite file, generated keys and bootstrap.json")
	f.StringVar(&cfg.Database, "database", "", "empty for embedded SQLite in the data dir, or a postgres:// URL")
	f.StringVar(&cfg.Listen, "listen", "localhost:8080", "address to listen on")
	f.StringVar(&cfg.PublicURL, "public-url", "", "external base URL used in links, issuers and api_base_url (default: derived from --listen)")
	f.StringVar(&cfg.TLSCert, "tls-cert", "", "TLS certificate file (PEM)")
	f.StringVar(&cfg.TLSKey, "tls-key", "", "TLS private key file (PEM)")
	f.BoolVar(&cfg.TLSSelfSigned, "tls-self-signed", false, "serve HTTPS with a self-signed certificate for localhost, kept in the data dir")
	f.StringVar(&cfg.MasterKey, "master-key", "", "base64 32-byte key that encrypts secrets at rest (default: generated into the data dir); every node of a cluster needs the same")
	f.StringVar(&cfg.PreviousMasterKey, "previous-master-key", "", "the master key being replaced: also opens secrets, while keys rotate-master runs")
	f.Float64Var(&cfg.TokenRate, "rate-limit-token", 50, "requests per second allowed per access token (0 = unlimited)")
	f.IntVar(&cfg.TokenBurst, "rate-limit-token-burst", 100, "burst allowed per access token")
	f.Float64Var(&cfg.IPRate, "rate-limit-ip", 100, "requests per second allowed per client IP (0 = unlimited)")
	f.IntVar(&cfg.IPBurst, "rate-limit-ip-burst", 200, "burst allowed per client IP")
	f.IPNetSliceVar(&cfg.TrustedProxies, "trusted-proxies", nil, "CIDRs of reverse proxies whose X-Forwarded-For names the client (rate limits, log, audit events), e.g. 10.0.0.0/8,127.0.0.1/32")
	f.StringVar(&cfg.MetricsListen, "metrics-listen", "", "serve /metrics only on this address, e.g. 127.0.0.1:9090 (default: on --listen, with --metrics-token)")
	f.StringVar(&cfg.MetricsToken, "metrics-token", "", "bearer token that /metrics asks for; without it and --metrics-listen, /metrics is off")
	f.DurationVar(&cfg.BindingLinkTTL, "binding-link-ttl", passkey.DefaultLinkTTL, "how long a credential binding link stays valid")
	f.StringVar(&cfg.SMTPURL, "smtp-url", "", "SMTP server for e-mail: smtp://user:pass@host:587 (STARTTLS when offered; ?starttls=required|opportunistic|off) or smtps://user:pass@host:465 (implicit TLS); empty writes e-mail to the log")
	f.StringVar(&cfg.MailFrom, "mail-from", "", "From address of e-mail (default: Latchkey <no-reply@{public-url host}>)")
	f.StringVar(&cfg.AdminUsername, "admin-username", bootstrap.DefaultAdminUsername, "username of the first administrator, made on the first start")
	f.StringVar(&cfg.AdminEmail, "admin-email", "", "e-mail address of the first administrator (optional)")
	f.BoolVar(&cfg.WebhookAllowPrivate, "webhook-allow-private", false, "let webhooks reach loopback, private and link-local addresses (and loopback over http); off, they are refused when saved and at each connection")
	f.DurationVar(&cfg.EventRetention, "event-retention", audit.DefaultRetention, "how long audit and sign-in events are kept; older ones are pruned in small batches")
	f.DurationVar(&cfg.ConsoleIdleTimeout, "console-idle-timeout", console.DefaultIdleTimeout, "sign administrators out of the console after this long without activity")
	f.StringVar(&cfg.EntraAuthority, "entra-authority", "", "Entra ID authority that issues the hints of entra_id_external_auth_methods configs and takes their answers, for every cloud (default: each config's cloud, e.g. https://login.microsoftonline.com)")
	f.StringSliceVar(&cfg.EntraAppIDs, "entra-app-id", nil, "application ID(s) of Latchkey's app registration in Entra ID: audiences Entra's hints may carry besides a config's client id")
	f.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	cmd.AddCommand(serveCmd(&cfg), migrateCmd(&cfg), tokenCmd(&cfg), keysCmd(&cfg), versionCmd())
	cmd.AddCommand(importCmd(&cfg), exportCmd(&cfg), adminCmd(&cfg), credentialsCmd(&cfg))
	cmd.AddCommand(backupCmd(&cfg), restoreCmd(&cfg), healthcheckCmd(&cfg))
	return cmd
}

// applyEnv sets every flag not given on the command line from its
// LATCHKEY_* variable (--data-dir ← LATCHKEY_DATA_DIR): flags win.
func applyEnv(flags *pflag.FlagSet) error {
	var err error
	flags.VisitAll(func(f *pflag.Flag) {
		name := "LATCHKEY_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok && !f.Changed && err == nil {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("%s: %w", name, e)
			}
		}
	})
	return err
}

func newLogger(format string) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, nil))
}

func serveCmd(cfg *server.Config) *cobra.Command {
	var otelEndpoint, aaguidNames string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the server (migrates and bootstraps the database first)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Version = versionString()
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			// Before the store opens: it traces its statements only if on.
			shutdownTracing, err := tracing.Setup(ctx, otelEndpoint, cfg.Version)
			if err != nil {
				return fmt.Errorf("--otel-endpoint: %w", err)
			}
			defer func() {
				flush, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if err := shutdownTracing(flush); err != nil {
					cfg.Logger.Warn("flush traces", "err", err)
				}
			}()
			if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
				return errors.New("--tls-cert and --tls-key go together")
			}
			if aaguidNames != "" {
				if err := loadAuthenticatorNames(aaguidNames, cfg.Logger); err != nil {
					return fmt.Errorf("--aaguid-names: %w", err)
				}
			}
			ln, err := net.Listen("tcp", cfg.Listen)
			if err != nil {
				return err
			}
			cfg.Listen = withPort(cfg.Listen, ln.Addr()) // a ":0" port becomes the real one
			node, err := server.Open(ctx, *cfg)
			if err != nil {
				ln.Close()
				return err
			}
			defer node.Close()
			if node.Bootstrapped {
				printBanner(cmd, node)
			}
			printAdminLink(cmd, node, cfg.BaseURL())
			cfg.Logger.Info("latchkey serving", "url", cfg.BaseURL(), "engine", node.Store.Dialect(), "version", versionString(), "tracing", tracing.Enabled(), "rsa", fastrsa.Backend())
			return node.Serve(ctx, ln)
		},
	}
	cmd.Flags().StringVar(&otelEndpoint, "otel-endpoint", "", "send OpenTelemetry traces over OTLP/HTTP to this base URL, e.g. http://otel-collector:4318 (default: OTEL_EXPORTER_OTLP_ENDPOINT; off when neither is set)")
	cmd.Flags().StringVar(&aaguidNames, "aaguid-names", "", "JSON file of passkey provider names by AAGUID, in the format of the community list's combined_aaguid.json, instead of the list built in")
	return cmd
}

// loadAuthenticatorNames replaces the built-in names of passkey providers.
func loadAuthenticatorNames(path string, log *slog.Logger) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := passkey.LoadAuthenticatorNames(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	log.Info("passkey provider names loaded", "file", path, "authenticators", n)
	return nil
}

// withPort returns listen with port 0 replaced by the port ln got. The host
// stays as given: "localhost" must not become 127.0.0.1, for WebAuthn.
func withPort(listen string, addr net.Addr) string {
	host, port, err := net.SplitHostPort(listen)
	tcp, ok := addr.(*net.TCPAddr)
	if err != nil || port != "0" || !ok {
		return listen
	}
	return net.JoinHostPort(host, strconv.Itoa(tcp.Port))
}

func printBanner(cmd *cobra.Command, node *server.Node) {
	c := node.Credentials
	fmt.Fprintf(cmd.OutOrStdout(), `
Latchkey is set up: tenant %s, admin realm %s.
Management API credentials are in %s (keep it secret).
Get an access token:
    latchkey token --data-dir %s
or
    curl -s -u "$(jq -r '.client_id + ":" + .client_secret' %s)" \
      -d grant_type=client_credentials %s

`, c.TenantID, c.RealmID, node.CredsFile, filepath.Dir(node.CredsFile), node.CredsFile, c.TokenEndpoint)
}

// printAdminLink tells how to open the console with the first
// administrator's passkey, when this start made the administrator.
func printAdminLink(cmd *cobra.Command, node *server.Node, base string) {
	if node.AdminLink == "" {
		return
	}
	fmt.Fprintf(cmd.OutOrStdout(), `The admin console is at %s/console/
Bind the first administrator's passkey (one-time link; a new one: latchkey admin enroll):
    %s

`, base, node.AdminLink)
}

func adminCmd(cfg *server.Config) *cobra.Command {
	admin := &cobra.Command{Use: "admin", Short: "Administrators of the admin console"}
	var username string
	enroll := &cobra.Command{
		Use:   "enroll",
		Short: "Print a one-time link that binds a passkey for the admin console",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			link, isAdmin, err := server.EnrollAdmin(cmd.Context(), *cfg, username)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), link)
			if !isAdmin {
				fmt.Fprintf(cmd.ErrOrStderr(), "note: this identity is not in the group %q; the console's policy will refuse it\n", bootstrap.AdminGroupName)
			}
			return nil
		},
	}
	enroll.Flags().StringVar(&username, "username", "", "username in the admin realm (default: the first administrator)")
	admin.AddCommand(enroll)
	return admin
}

func credentialsCmd(cfg *server.Config) *cobra.Command {
	var regenerate bool
	cmd := &cobra.Command{
		Use:   "credentials",
		Short: "Print the management API's client credentials (which the API never answers) and write them to bootstrap.json",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			creds, path, err := server.ManagementCredentials(cmd.Context(), *cfg, regenerate)
			if err != nil {
				return err
			}
			b, _ := json.MarshalIndent(creds, "", "  ")
			fmt.Fprintln(cmd.OutOrStdout(), string(b))
			fmt.Fprintln(cmd.ErrOrStderr(), "written to", path)
			return nil
		},
	}
	cmd.Flags().BoolVar(&regenerate, "regenerate", false, "give the management application a new client secret first; the old one stops working")
	return cmd
}

func keysCmd(cfg *server.Config) *cobra.Command {
	keys := &cobra.Command{Use: "keys", Short: "Manage the keys that sign tokens and the master key"}
	keys.AddCommand(&cobra.Command{
		Use:   "rotate",
		Short: "Make a new signing key of each algorithm current; the previous ones stay published, older ones are retired",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			kids, err := server.RotateKeys(cmd.Context(), *cfg)
			if err != nil {
				return err
			}
			for i, alg := range oauth.SigningAlgorithms {
				fmt.Fprintf(cmd.OutOrStdout(), "new %s signing key %s\n", alg, kids[i])
			}
			fmt.Fprintln(cmd.OutOrStdout(), "running nodes use them within a minute")
			return nil
		},
	})
	keys.AddCommand(rotateMasterCmd(cfg))
	keys.AddCommand(rotateSAMLCmd(cfg))
	return keys
}

func rotateSAMLCmd(cfg *server.Config) *cobra.Command {
	var tenant, realm string
	var overlap time.Duration
	cmd := &cobra.Command{
		Use:   "rotate-saml --tenant T --realm R [--overlap 48h]",
		Short: "Make a new SAML signing certificate for a realm: in the IdP metadata at once, signing after --overlap",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := server.RotateSAMLCertificate(cmd.Context(), *cfg, tenant, realm, overlap)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "new SAML signing certificate %s, in the metadata now, signing from %s\n", c.ID, c.ActivateTime.Format(time.RFC3339))
			return nil
		},
	}
	cmd.Flags().StringVar(&tenant, "tenant", "", "the realm's tenant id")
	cmd.Flags().StringVar(&realm, "realm", "", "the realm id")
	cmd.Flags().DurationVar(&overlap, "overlap", 48*time.Hour, "how long the new certificate is published before it signs: long enough for the SPs to refresh the metadata")
	cmd.MarkFlagRequired("tenant")
	cmd.MarkFlagRequired("realm")
	return cmd
}

func rotateMasterCmd(cfg *server.Config) *cobra.Command {
	var newKey string
	var batch int
	cmd := &cobra.Command{
		Use:   "rotate-master --new-key KEY",
		Short: "Re-encrypt every secret with a new master key, in batches, while nodes given both keys serve",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if newKey == "" {
				return errors.New("--new-key is required (LATCHKEY_NEW_KEY; e.g. openssl rand -base64 32)")
			}
			w := cmd.OutOrStdout()
			err := server.RotateMasterKey(cmd.Context(), *cfg, newKey, batch, func(table string, changed int) {
				fmt.Fprintf(w, "%s: %d re-encrypted\n", table, changed)
			})
			if err != nil {
				return err
			}
			fmt.Fprintln(w, "every secret is sealed with the new key: restart the nodes with it alone (--master-key)")
			if cfg.MasterKey == "" {
				fmt.Fprintf(w, "%s in the data dir holds the new key, %s the old one\n", secretbox.KeyFile, secretbox.PreviousKeyFile)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&newKey, "new-key", "", "the new master key, base64 of 32 bytes (openssl rand -base64 32)")
	cmd.Flags().IntVar(&batch, "batch-size", 100, "secrets re-encrypted per transaction")
	return cmd
}

func migrateCmd(cfg *server.Config) *cobra.Command {
	var check bool
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply database migrations and exit (--check: only say whether this release may share the database with the running nodes)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if check {
				return migrateCheck(cmd, cfg)
			}
			st, err := server.OpenStore(*cfg)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := st.Migrate(cmd.Context()); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "database is up to date")
			return nil
		},
	}
	cmd.Flags().BoolVar(&check, "check", false, "change nothing; say whether this release and the nodes serving from the database are compatible (exit status 1 when not)")
	return cmd
}

func migrateCheck(cmd *cobra.Command, cfg *server.Config) error {
	c, err := server.CheckMigration(cmd.Context(), *cfg)
	if err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "database schema: version %d; this release, Latchkey %s: version %d\n", c.Current, versionString(), c.Known)
	if len(c.Pending) > 0 {
		fmt.Fprintf(w, "contract migrations to apply: %v\n", c.Pending)
	}
	if !c.NodesRecorded && c.Current > 0 {
		fmt.Fprintln(w, "the nodes of this database's release do not record themselves: check their versions by hand")
	}
	for _, n := range c.Nodes {
		fmt.Fprintf(w, "node %s on %s: Latchkey %s, schema %d, up since %s, seen %s\n", n.ID, n.Host, n.Version, n.SchemaVersion,
			n.StartTime.Format(time.RFC3339), n.SeenTime.Format(time.RFC3339))
	}
	if len(c.Problems) > 0 {
		for _, p := range c.Problems {
			fmt.Fprintln(cmd.ErrOrStderr(), "incompatible:", p)
		}
		return errors.New("this release cannot share the database with the running nodes")
	}
	fmt.Fprintln(w, "compatible: this release may migrate and serve beside the running nodes")
	return nil
}

func tokenCmd(cfg *server.Config) *cobra.Command {
	var scope string
	var lifetime time.Duration
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Print a management API access token obtained with the bootstrap credentials (the server must be running)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			creds, err := bootstrap.ReadFile(cfg.DataDir)
			if err != nil {
				return fmt.Errorf("read credentials (start `latchkey serve` once first): %w", err)
			}
			client := apiclient.HTTPClient(filepath.Join(cfg.DataDir, server.SelfSignedCert))
			tok, err := apiclient.TokenFor(cmd.Context(), client, creds, scope, lifetime)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			return nil
		},
	}
	cmd.Flags().StringVar(&scope, "scope", "", "space-separated scopes (default: all management scopes)")
	cmd.Flags().DurationVar(&lifetime, "lifetime", 0,
		"token lifetime, e.g. 8760h (default: the configured 24h); beyond 24h only for SCIM scopes, up to 366 days")
	return cmd
}

func healthcheckCmd(cfg *server.Config) *cobra.Command {
	var url string
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "Exit 0 when the server on --listen answers GET /readyz with 200 (for container health checks)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if url == "" {
				local := *cfg
				local.PublicURL = "" // the node as reached from its own machine
				url = local.BaseURL() + "/readyz"
			}
			client := apiclient.HTTPClient(filepath.Join(cfg.DataDir, server.SelfSignedCert))
			client.Timeout = 5 * time.Second
			resp, err := client.Get(url)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				return fmt.Errorf("%s: %s", url, resp.Status)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&url, "url", "", "URL to check (default: /readyz on --listen, https with --tls-*)")
	return cmd
}

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "latchkey", versionString())
		},
	}
}

func versionString() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	v := info.Main.Version
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " (" + s.Value[:12] + ")"
		}
	}
	return v
}
