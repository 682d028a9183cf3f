package oauth

// The parts of an authorization request that need nothing but the request
// itself: how the response is sent back, and the request objects and claims
// requests that Latchkey does not take (discovery says so).

// Response modes (OAuth 2.0 Multiple Response Types §2.1, Form Post
// Response Mode): the code or error in the redirect URI's query, or posted
// to it by an auto-submitting form.
const (
	ResponseModeQuery    = "query"
	ResponseModeFormPost = "form_post"
)

var responseModes = []string{ResponseModeQuery, ResponseModeFormPost}

// FormPost reports whether the response to p is posted to the redirect URI
// rather than put in its query: response_mode form_post, and only that
// (a mode Latchkey does not support is refused in the query).
func (p AuthParams) FormPost() bool { return p.ResponseMode == ResponseModeFormPost }

// checkAuthParams refuses, at the client's redirect URI (already checked),
// a request object (request, request_uri: OIDC Core §6) and a response mode
// other than query or form_post. The claims parameter (OIDC Core §5.5) is
// ignored, as discovery's claims_parameter_supported false says: the scopes
// decide the claims.
func checkAuthParams(p AuthParams) error {
	switch {
	case p.ResponseMode != "" && p.ResponseMode != ResponseModeQuery && p.ResponseMode != ResponseModeFormPost:
		p.ResponseMode = "" // the error goes back in the query, the default
		return redirectError(p, "invalid_request", "response_mode must be query or form_post")
	case p.Request != "":
		return redirectError(p, "request_not_supported", "request objects are not supported; send the parameters in the query")
	case p.RequestURI != "":
		return redirectError(p, "request_uri_not_supported", "request_uri is not supported; send the parameters in the query")
	}
	return nil
}
