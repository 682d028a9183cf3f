package apiclient

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/latchkey/latchkey/internal/bootstrap"
)

// Client calls the management API of the bootstrap tenant with a token.
type Client struct {
	HTTP  *http.Client
	Creds bootstrap.Credentials
	Token string
}

// ImportJob is a CSV import job as the API shows it.
type ImportJob struct {
	ID         string `json:"id"`
	State      string `json:"state"`
	DryRun     bool   `json:"dry_run"`
	RowsTotal  int    `json:"rows_total"`
	RowsDone   int    `json:"rows_done"`
	Created    int    `json:"created"`
	Updated    int    `json:"updated"`
	Unchanged  int    `json:"unchanged"`
	Failed     int    `json:"failed"`
	EmailsSent int    `json:"binding_emails_sent"`
	Error      string `json:"error"`
	Failures   []struct {
		Line  int    `json:"line"`
		Error string `json:"error"`
	} `json:"failures"`
}

// Done reports whether the job has finished.
func (j ImportJob) Done() bool { return j.State == "SUCCEEDED" || j.State == "FAILED" }

func (c *Client) realmURL(realm, rest string) string {
	return c.Creds.APIBaseURL + "/v1/tenants/" + url.PathEscape(c.Creds.TenantID) + "/realms/" + url.PathEscape(realm) + rest
}

// do sends a request and returns the response when it is a 200, or else
// an error made of the API's error body.
func (c *Client) do(ctx context.Context, method, u, contentType string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	e := &Error{Status: resp.Status, StatusCode: resp.StatusCode}
	if json.Unmarshal(raw, e) != nil || e.Message == "" {
		return nil, fmt.Errorf("%s %s: %s: %.200s", method, u, resp.Status, raw)
	}
	return nil, e
}

// Error is an error answer of the API, with the fields it names.
type Error struct {
	Status     string `json:"-"`
	StatusCode int    `json:"-"`
	Message    string `json:"message"`
	Details    []struct {
		FieldViolations []FieldViolation `json:"field_violations"`
	} `json:"details"`
}

// FieldViolation is what is wrong with one field of a request.
type FieldViolation struct{ Field, Description string }

// Violations are the field violations of the error.
func (e *Error) Violations() []FieldViolation {
	var out []FieldViolation
	for _, d := range e.Details {
		out = append(out, d.FieldViolations...)
	}
	return out
}

func (e *Error) Error() string {
	msg := []string{e.Message}
	for _, v := range e.Violations() {
		msg = append(msg, v.Field+": "+v.Description)
	}
	return e.Status + ": " + strings.Join(msg, "; ")
}

func (c *Client) job(ctx context.Context, method, u, contentType string, body io.Reader) (ImportJob, error) {
	resp, err := c.do(ctx, method, u, contentType, body)
	if err != nil {
		return ImportJob{}, err
	}
	defer resp.Body.Close()
	var j ImportJob
	err = json.NewDecoder(resp.Body).Decode(&j)
	return j, err
}

// StartImport uploads a CSV file to a realm as an import job with the
// options (dry_run, update_existing, create_groups, send_binding_email).
func (c *Client) StartImport(ctx context.Context, realm string, file io.Reader, options url.Values) (ImportJob, error) {
	return c.job(ctx, http.MethodPost, c.realmURL(realm, "/identities:import?"+options.Encode()), "text/csv", file)
}

// ImportJob returns an import job.
func (c *Client) ImportJob(ctx context.Context, realm, id string) (ImportJob, error) {
	return c.job(ctx, http.MethodGet, c.realmURL(realm, "/import-jobs/"+url.PathEscape(id)), "", nil)
}

// ImportErrors copies the error report of an import job (CSV) to w.
func (c *Client) ImportErrors(ctx context.Context, realm, id string, w io.Writer) error {
	return c.download(ctx, c.realmURL(realm, "/import-jobs/"+url.PathEscape(id)+":errors"), w)
}

// Export copies the identities of a realm matching filter ("" for all) as CSV to w.
func (c *Client) Export(ctx context.Context, realm, filter string, w io.Writer) error {
	u := c.realmURL(realm, "/identities:export")
	if filter != "" {
		u += "?" + url.Values{"filter": {filter}}.Encode()
	}
	return c.download(ctx, u, w)
}

func (c *Client) download(ctx context.Context, u string, w io.Writer) error {
	resp, err := c.do(ctx, http.MethodGet, u, "", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(w, resp.Body)
	return err
}
