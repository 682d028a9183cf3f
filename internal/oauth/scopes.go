package oauth

import (
	"context"
	"errors"
	"strings"

	"github.com/latchkey/latchkey"
)

// ManagementAPI is the identifier (token audience) of Latchkey's own API, as
// Beyond Identity names it.
const ManagementAPI = "beyondidentity"

// ManagementScopes are all scopes of the management API, in the reference's
// `<resource>:<action>` form.
var ManagementScopes = expand(
	"tenants:read,update",
	"realms:create,read,update,delete",
	"identities:create,read,update,delete",
	"groups:create,read,update,delete",
	"roles:create,read,update,delete",
	"resource-servers:create,read,update,delete",
	"applications:create,read,update,delete",
	"applications:secrets:read",
	"authenticator-configs:create,read,update,delete",
	"credentials:create,read,update,revoke",
	"credential-binding-jobs:create,read,revoke",
	"themes:create,read,update",
	"tokens:read,delete,introspect",
	"sessions:read,delete",
	"events:read",
	"webhooks:create,read,update,delete",
	"policy:create,read,update,delete",
	"sso-configs:create,read,update,delete",
	"identity-providers:create,read,update,delete",
	"flow-type:create,read,update",
	"scim:users:create,read,update,delete",
	"scim:groups:create,read,update,delete",
	"scim:all",
)

func expand(specs ...string) []string {
	var out []string
	for _, s := range specs {
		i := strings.LastIndex(s, ":")
		for _, action := range strings.Split(s[i+1:], ",") {
			out = append(out, s[:i+1]+action)
		}
	}
	return out
}

// SecretsScope lets a token read the client secrets of applications whose
// management scopes it holds itself; the secrets of the applications that
// Latchkey manages are never returned by the API.
const SecretsScope = "applications:secrets:read"

// beyond returns those of scopes that the actor of ctx does not hold.
func beyond(ctx context.Context, scopes []string) []string {
	return latchkey.ActorFrom(ctx).Lacks(scopes)
}

// managementScopes returns scopes when they are scopes of the management
// API, the resource server rsID of the realm; nil otherwise.
func managementScopes(ctx context.Context, tx Tx, realmID, rsID string, scopes []string) ([]string, error) {
	if rsID == "" || len(scopes) == 0 {
		return nil, nil
	}
	rs, err := tx.GetResourceServer(ctx, realmID, rsID)
	if errors.Is(err, latchkey.ErrNotFound) || (err == nil && rs.Identifier != ManagementAPI) {
		return nil, nil
	}
	return scopes, err
}
