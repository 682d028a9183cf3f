package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey/internal/apiclient"
	"github.com/latchkey/latchkey/internal/bootstrap"
	"github.com/latchkey/latchkey/internal/passkey"
	"github.com/latchkey/latchkey/internal/provisioning"
	"github.com/latchkey/latchkey/internal/server"
)

// apiClient returns a client of the running server with a token obtained
// with the data dir's bootstrap credentials. It has no overall timeout:
// uploads and downloads of big files take their time.
func apiClient(ctx context.Context, cfg *server.Config) (*apiclient.Client, error) {
	creds, err := bootstrap.ReadFile(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("read credentials (start `latchkey serve` once first): %w", err)
	}
	hc := apiclient.HTTPClient(filepath.Join(cfg.DataDir, server.SelfSignedCert))
	tok, err := apiclient.Token(ctx, hc, creds, "")
	if err != nil {
		return nil, err
	}
	hc.Timeout = 0
	return &apiclient.Client{HTTP: hc, Creds: creds, Token: tok}, nil
}

// isTerminal reports whether f is a terminal (not a file or a pipe).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func importCmd(cfg *server.Config) *cobra.Command {
	var realm, bindingConfig, errorsFile string
	var dryRun, updateExisting, createGroups, credentials bool
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Import identities from a CSV file, or with --credentials passkeys from a CSV or JSON file, into a realm (the server must be running); exits 1 when rows failed",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if credentials {
				for _, name := range []string{"update-existing", "create-groups", "send-binding-email", "errors-file"} {
					if cmd.Flags().Changed(name) {
						return fmt.Errorf("--%s is an option of an import of identities, not of --credentials", name)
					}
				}
			}
			c, err := apiClient(ctx, cfg)
			if err != nil {
				return err
			}
			if credentials {
				return importCredentials(ctx, cmd, c, realm, args[0], dryRun)
			}
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			opts := url.Values{"dry_run": {strconv.FormatBool(dryRun)}, "update_existing": {strconv.FormatBool(updateExisting)},
				"create_groups": {strconv.FormatBool(createGroups)}}
			if bindingConfig != "" {
				opts.Set("send_binding_email", bindingConfig)
			}
			j, err := c.StartImport(ctx, realm, f, opts)
			if err != nil {
				return err
			}
			if j, err = waitForImport(ctx, cmd, c, realm, j); err != nil {
				return err
			}
			return reportImport(ctx, cmd, c, realm, j, errorsFile)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&realm, "realm", "", "id of the realm to import into (required)")
	fl.BoolVar(&dryRun, "dry-run", false, "validate every row and report what would happen, changing nothing")
	fl.BoolVar(&updateExisting, "update-existing", false, "update identities whose username a row names")
	fl.BoolVar(&createGroups, "create-groups", false, "create the groups that rows name and the realm lacks")
	fl.StringVar(&bindingConfig, "send-binding-email", "", "send each new identity a credential binding e-mail with this authenticator config id")
	fl.StringVar(&errorsFile, "errors-file", "", "write the failed rows, with an error column, to this CSV file")
	fl.BoolVar(&credentials, "credentials", false, "FILE holds passkeys exported elsewhere (CSV or JSON, a username per passkey), imported for the realm's identities")
	cmd.MarkFlagRequired("realm")
	return cmd
}

// importCredentials imports the passkeys of a credentials file through the
// API, all of one identity in one request (by 100): the server decides each.
// It prints why each failed row failed and fails when any did.
func importCredentials(ctx context.Context, cmd *cobra.Command, c *apiclient.Client, realm, path string, dryRun bool) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	rows, err := provisioning.ReadCredentials(data)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	failed := 0
	fail := func(r provisioning.CredentialRow, why string) {
		fmt.Fprintf(cmd.ErrOrStderr(), "%s: %s\n", r.Where, why)
		failed++
	}
	var usernames []string
	byUser := map[string][]provisioning.CredentialRow{}
	for _, r := range rows {
		if r.Error != "" {
			fail(r, r.Error)
			continue
		}
		if byUser[r.Username] == nil {
			usernames = append(usernames, r.Username)
		}
		byUser[r.Username] = append(byUser[r.Username], r)
	}
	imported, identities := 0, 0
	for _, username := range usernames {
		id, err := c.IdentityByUsername(ctx, realm, username)
		if err != nil {
			return err
		}
		before := imported
		for chunk := range slices.Chunk(byUser[username], passkey.MaxImport) {
			if id == "" {
				for _, r := range chunk {
					fail(r, "no identity of the realm has the username "+strconv.Quote(username))
				}
				continue
			}
			creds := make([]passkey.PortableCredential, len(chunk))
			for i, r := range chunk {
				creds[i] = r.Credential
			}
			err := c.ImportCredentials(ctx, realm, id, creds, dryRun)
			var refused *apiclient.Error
			switch {
			case err == nil:
				if imported == before {
					identities++
				}
				imported += len(chunk)
			case errors.As(err, &refused) && refused.StatusCode < 500:
				for i, r := range chunk {
					fail(r, refusal(refused, i, username))
				}
			default:
				return err
			}
		}
	}
	what := "imported"
	if dryRun {
		what = "would be imported (dry run: nothing was changed)"
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%d passkeys of %d identities %s, %d rows failed\n", imported, identities, what, failed)
	if failed > 0 {
		return fmt.Errorf("%d rows failed", failed)
	}
	return nil
}

// refusal says why the i-th passkey of a refused request was not imported:
// the fields the server named of it, or that another one was refused.
func refusal(e *apiclient.Error, i int, username string) string {
	prefix := "credentials[" + strconv.Itoa(i) + "]."
	var why []string
	for _, v := range e.Violations() {
		if field, ok := strings.CutPrefix(v.Field, prefix); ok {
			why = append(why, field+": "+v.Description)
		}
	}
	switch {
	case len(why) > 0:
		return strings.Join(why, "; ")
	case len(e.Violations()) > 0 && strings.HasPrefix(e.Violations()[0].Field, "credentials["):
		return "not imported: another passkey of " + strconv.Quote(username) + " was refused (an identity's passkeys are imported together)"
	}
	return e.Error()
}

// waitForImport polls the job until it is done, with a progress bar on a terminal.
func waitForImport(ctx context.Context, cmd *cobra.Command, c *apiclient.Client, realm string, j apiclient.ImportJob) (apiclient.ImportJob, error) {
	var bar *progressbar.ProgressBar
	if isTerminal(os.Stderr) {
		bar = progressbar.NewOptions(j.RowsTotal, progressbar.OptionSetWriter(os.Stderr),
			progressbar.OptionSetDescription("importing rows"), progressbar.OptionShowCount(), progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("rows"), progressbar.OptionClearOnFinish())
	}
	for !j.Done() {
		select {
		case <-ctx.Done():
			return j, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
		var err error
		if j, err = c.ImportJob(ctx, realm, j.ID); err != nil {
			return j, err
		}
		if bar != nil {
			bar.Set(j.RowsDone)
		}
	}
	if bar != nil {
		bar.Finish()
	}
	return j, nil
}

// reportImport prints the summary and the failures; it fails when rows or the job failed.
func reportImport(ctx context.Context, cmd *cobra.Command, c *apiclient.Client, realm string, j apiclient.ImportJob, errorsFile string) error {
	out := cmd.OutOrStdout()
	what := "import job " + j.ID
	if j.DryRun {
		what += " (dry run: nothing was changed)"
	}
	fmt.Fprintf(out, "%s: %d rows: %d created, %d updated, %d unchanged, %d failed\n",
		what, j.RowsDone, j.Created, j.Updated, j.Unchanged, j.Failed)
	if j.EmailsSent > 0 {
		fmt.Fprintf(out, "%d binding e-mails sent\n", j.EmailsSent)
	}
	for _, f := range j.Failures {
		fmt.Fprintf(cmd.ErrOrStderr(), "line %d: %s\n", f.Line, f.Error)
	}
	if j.Failed > len(j.Failures) {
		fmt.Fprintf(cmd.ErrOrStderr(), "… and %d more failed rows\n", j.Failed-len(j.Failures))
	}
	if errorsFile != "" && j.Failed > 0 {
		if err := writeFile(errorsFile, func(w io.Writer) error { return c.ImportErrors(ctx, realm, j.ID, w) }); err != nil {
			return err
		}
		fmt.Fprintf(out, "failed rows written to %s: fix them there and import that file\n", errorsFile)
	}
	switch {
	case j.State == "FAILED":
		return fmt.Errorf("import job failed: %s", j.Error)
	case j.Failed > 0:
		return fmt.Errorf("%d rows failed", j.Failed)
	}
	return nil
}

// writeFile writes a file with write, removing it when write fails.
func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := errors.Join(write(f), f.Close()); err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

func exportCmd(cfg *server.Config) *cobra.Command {
	var realm, filter, output string
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Export the identities of a realm as CSV, to standard output or --output (the server must be running)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			c, err := apiClient(ctx, cfg)
			if err != nil {
				return err
			}
			if output == "" {
				return c.Export(ctx, realm, filter, cmd.OutOrStdout())
			}
			return writeFile(output, func(w io.Writer) error { return c.Export(ctx, realm, filter, w) })
		},
	}
	cmd.Flags().StringVar(&realm, "realm", "", "id of the realm to export (required)")
	cmd.Flags().StringVar(&filter, "filter", "", `only the identities matching this filter, e.g. 'traits.primary_email_address ew "@example.com"'`)
	cmd.Flags().StringVarP(&output, "output", "o", "", "file to write (default: standard output)")
	cmd.MarkFlagRequired("realm")
	return cmd
}
