package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"strings"

	"github.com/latchkey/latchkey/internal/httpx"
)

// MetricsHandler serves the Prometheus metrics at GET /metrics alone, for a
// listener of their own (--metrics-listen): to the bearer of token, or to
// anyone who reaches the address when token is "".
func (s *Server) MetricsHandler(token string) http.Handler {
	mux := httpx.NewMux()
	mux.Handle("GET /metrics", s.metrics(token))
	return jsonFallback(mux)
}

// metrics serves the metrics to the bearer of token, if it is set.
func (s *Server) metrics(token string) http.Handler {
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ := httpx.Bearer(r)
		sum := sha256.Sum256([]byte(got)) // compared as hashes: in constant time, whatever the lengths
		if token != "" && subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			httpx.WriteError(w, r, httpx.ErrUnauthorized)
			return
		}
		s.Metrics.Handler().ServeHTTP(w, r)
	})
}

// clientIP is the address the request came from: the TCP peer, unless the
// peer is a trusted proxy; then it is the right-most address of
// X-Forwarded-For that is not a trusted proxy, since everything left of it
// was written by the client and may be forged. A hop that is not an IP
// address ends the walk at the trusted proxy that reported it.
func (s *Server) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	if ip == nil || !s.trusted(ip) {
		return host
	}
	var hops []string
	for _, h := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(h, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		hop := parseHop(hops[i])
		if hop == nil {
			break
		}
		ip = hop
		if !s.trusted(ip) {
			break
		}
	}
	return ip.String()
}

// parseHop reads one address of X-Forwarded-For, which some proxies write
// with a port ("192.0.2.1:4711", "[2001:db8::1]:4711").
func parseHop(hop string) net.IP {
	hop = strings.TrimSpace(hop)
	if host, _, err := net.SplitHostPort(hop); err == nil {
		hop = host
	}
	return net.ParseIP(hop)
}

func (s *Server) trusted(ip net.IP) bool {
	for _, n := range s.TrustedProxies {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}
