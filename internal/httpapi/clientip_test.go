package httpapi

import (
	"net"
	"net/http"
	"testing"
)

func TestClientIP(t *testing.T) {
	var proxies []net.IPNet
	for _, c := range []string{"10.0.0.0/8", "2001:db8::/32"} {
		_, n, _ := net.ParseCIDR(c)
		proxies = append(proxies, *n)
	}
	s := &Server{TrustedProxies: proxies}
	for _, tc := range []struct {
		peer      string
		forwarded []string
		want      string
	}{
		{"192.0.2.1:5000", []string{"198.51.100.1"}, "192.0.2.1"},                           // not a trusted proxy
		{"10.1.2.3:5000", nil, "10.1.2.3"},                                                  // a proxy that names no one
		{"10.1.2.3:5000", []string{"198.51.100.1"}, "198.51.100.1"},                         // one proxy
		{"10.1.2.3:5000", []string{"203.0.113.9, 198.51.100.1"}, "198.51.100.1"},            // the client's own claim is ignored
		{"10.1.2.3:5000", []string{"198.51.100.1, 10.9.9.9"}, "198.51.100.1"},               // two proxies
		{"10.1.2.3:5000", []string{"203.0.113.9", "198.51.100.1,10.9.9.9"}, "198.51.100.1"}, // several headers are one list
		{"10.1.2.3:5000", []string{"198.51.100.1:4711"}, "198.51.100.1"},                    // a hop with a port
		{"10.1.2.3:5000", []string{"[2001:db9::1]:4711"}, "2001:db9::1"},
		{"[2001:db8::5]:5000", []string{"2001:db9::1"}, "2001:db9::1"},
		{"10.1.2.3:5000", []string{"198.51.100.1, unknown"}, "10.1.2.3"}, // garbage: the proxy that wrote it
		{"10.1.2.3:5000", []string{"10.4.4.4, 10.5.5.5"}, "10.4.4.4"},    // only proxies: the farthest
	} {
		r := &http.Request{RemoteAddr: tc.peer, Header: http.Header{"X-Forwarded-For": tc.forwarded}}
		if got := s.clientIP(r); got != tc.want {
			t.Errorf("peer %s, X-Forwarded-For %q: %s, want %s", tc.peer, tc.forwarded, got, tc.want)
		}
	}
}
