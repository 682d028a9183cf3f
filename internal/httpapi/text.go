package httpapi

import (
	"cmp"
	"maps"
	"mime"
	"net/http"
	"regexp"
	"slices"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/httpx"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/scim"
)

// checkText refuses, before any handler sees it, a request whose path,
// query, form body or Basic credentials hold text that is not acceptable
// (latchkey.TextProblem): a 400 naming the field, in the error format of the
// request's API. JSON bodies are checked where they are decoded.
func checkText(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		field, problem := requestTextProblem(w, r)
		switch {
		case problem == "":
			next.ServeHTTP(w, r)
		case scimPathRE.MatchString(r.URL.Path):
			scim.WriteError(w, r, scim.InvalidValue("%s %s", field, problem))
		case oauthFormPathRE.MatchString(r.URL.Path):
			httpx.WriteOAuthError(w, r, &oauth.Error{Code: "invalid_request", Description: field + " " + problem})
		default:
			httpx.WriteError(w, r, latchkey.InvalidField(field, problem))
		}
	})
}

// oauthFormPathRE matches the endpoints whose errors are OAuth's (RFC 6749 §5.2):
// the authenticator's token, revoke and introspect, and the realms' introspection.
var oauthFormPathRE = regexp.MustCompile(`^/v1/tenants/[^/]+/realms/[^/]+/(applications/[^/]+/(token|revoke|introspect)|introspect)$`)

func requestTextProblem(w http.ResponseWriter, r *http.Request) (field, problem string) {
	if p := latchkey.TextProblem(r.URL.Path, false); p != "" {
		return "path", p
	}
	if field, p := valuesTextProblem(r.URL.Query()); p != "" {
		return field, p
	}
	if id, secret, ok := r.BasicAuth(); ok {
		if p := latchkey.TextProblem(id+secret, false); p != "" {
			return "Authorization", p
		}
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		return "", ""
	}
	r.Body = http.MaxBytesReader(w, r.Body, httpx.MaxBody)
	if r.ParseForm() != nil {
		return "body", "is not a form of at most 1 MiB"
	}
	return valuesTextProblem(r.PostForm)
}

// valuesTextProblem checks query parameters or form fields, which may span
// lines (a form's textarea); their names may not.
func valuesTextProblem(v map[string][]string) (field, problem string) {
	for _, name := range slices.Sorted(maps.Keys(v)) {
		if p := latchkey.TextProblem(name, false); p != "" {
			return "parameter name", p
		}
		for _, value := range v[name] {
			if p := latchkey.TextProblem(value, true); p != "" {
				return cmp.Or(name, "parameter without a name"), p
			}
		}
	}
	return "", ""
}
