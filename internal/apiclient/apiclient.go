// Package apiclient is the small client of Latchkey's own HTTP API that the
// CLI uses: it obtains management tokens with the bootstrap credentials.
//
// It uses only the bootstrap credentials type of Latchkey's; it must not
// import storage engines or httpapi.
package apiclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/bootstrap"
)

// HTTPClient returns a client that also trusts the certificate in caFile
// (the node's self-signed one) when that file exists.
func HTTPClient(caFile string) *http.Client {
	c := &http.Client{Timeout: 30 * time.Second}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return c
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	pool.AppendCertsFromPEM(pem)
	c.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	return c
}

// Token obtains a management access token with the client-credentials
// grant. An empty scope asks for every scope the application may have.
func Token(ctx context.Context, c *http.Client, creds bootstrap.Credentials, scope string) (string, error) {
	return TokenFor(ctx, c, creds, scope, 0)
}

// TokenFor is Token with a lifetime, sent as expiration_time; 0 asks for the
// application's configured lifetime.
func TokenFor(ctx context.Context, c *http.Client, creds bootstrap.Credentials, scope string, lifetime time.Duration) (string, error) {
	form := url.Values{"grant_type": {"client_credentials"}}
	if scope != "" {
		form.Set("scope", scope)
	}
	if lifetime > 0 {
		form.Set("expiration_time", strconv.Itoa(int(lifetime.Seconds())))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, creds.TokenEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(creds.ClientID, creds.ClientSecret)
	resp, err := c.Do(req)
	if err != nil {
		return "", fmt.Errorf("is the server running? %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var out struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return "", fmt.Errorf("token endpoint answered %s: %.200s", resp.Status, body)
	}
	if resp.StatusCode != http.StatusOK || out.AccessToken == "" {
		return "", fmt.Errorf("token endpoint answered %s: %s %s", resp.Status, out.Error, out.Description)
	}
	return out.AccessToken, nil
}
