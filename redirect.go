package latchkey

import (
	"net"
	"net/url"
	"strings"
)

// maxRedirectURI bounds the length of a redirect target.
const maxRedirectURI = 2048

// RedirectURIProblem says why uri may not be a place Latchkey sends a
// browser (an application's redirect URI, a binding job's post-binding
// redirect), or "" when it may. Allowed are an absolute https URL, http on
// localhost or a loopback address (a native app's loopback redirect, RFC 8252
// §7.3), and a native app's private-use scheme, which RFC 8252 §7.1 wants
// to be a reversed domain name (com.example.app:/callback); never a
// fragment. The check runs when a target is stored and again before a
// redirect, since rows stored before it existed may hold anything.
func RedirectURIProblem(uri string) string {
	if uri == "" {
		return "empty string"
	}
	if len(uri) > maxRedirectURI {
		return "longer than 2048 characters"
	}
	u, err := url.Parse(uri)
	switch {
	case err != nil:
		return "not a URI"
	case u.Scheme == "":
		return "not an absolute URI"
	case strings.ContainsAny(uri, " \t\r\n\\"):
		return "has spaces or backslashes"
	case strings.Contains(uri, "#"):
		return "has a fragment"
	}
	switch u.Scheme {
	case "https":
		if u.Host == "" {
			return "an https URI needs a host"
		}
	case "http":
		if !isLoopback(u.Hostname()) {
			return "http is allowed only on localhost or a loopback address; use https"
		}
	case "javascript", "data", "vbscript", "file":
		return "the scheme " + u.Scheme + ": is not allowed"
	default:
		if !strings.Contains(u.Scheme, ".") {
			return "a native app's scheme is a reversed domain name, e.g. com.example.app:/callback"
		}
	}
	return ""
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}
