package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// IdentityByUsername returns the id of the realm's identity with the
// username, or "" when it has none.
func (c *Client) IdentityByUsername(ctx context.Context, realm, username string) (string, error) {
	quoted := `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(username) + `"`
	resp, err := c.do(ctx, http.MethodGet, c.realmURL(realm, "/identities?"+url.Values{"filter": {"traits.username eq " + quoted}}.Encode()), "", nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var page struct {
		Identities []struct {
			ID string `json:"id"`
		} `json:"identities"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil || len(page.Identities) == 0 {
		return "", err
	}
	return page.Identities[0].ID, nil
}

// ImportCredentials imports passkeys (objects of the import's form) for an
// identity, all or none; with dryRun the server only checks them. A
// refusal is an *Error naming the fields (credentials[i].…).
func (c *Client) ImportCredentials(ctx context.Context, realm, identityID string, credentials any, dryRun bool) error {
	body, err := json.Marshal(map[string]any{"credentials": credentials})
	if err != nil {
		return err
	}
	u := c.realmURL(realm, "/identities/"+url.PathEscape(identityID)+"/credentials:import?dry_run="+strconv.FormatBool(dryRun))
	resp, err := c.do(ctx, http.MethodPost, u, "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	return resp.Body.Close()
}
