package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// cgnat is the shared address space of carrier-grade NAT (RFC 6598), not
// public either. Cloud metadata services are link-local (169.254.169.254)
// or private (AWS's fd00:ec2::254).
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// refused says why a webhook may not connect to ip; "" when it may.
func refused(ip netip.Addr) string {
	ip = ip.Unmap()
	switch {
	case ip.IsLoopback():
		return "a loopback address"
	case ip.IsPrivate(), cgnat.Contains(ip):
		return "a private address"
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast():
		return "a link-local address (such as a cloud metadata service)"
	case ip.IsUnspecified(), ip.IsMulticast(), ip.IsInterfaceLocalMulticast():
		return "not a unicast address"
	}
	return ""
}

// checkURL checks a webhook's URL: absolute https (http only to a loopback
// host, and only when private targets are allowed), and, unless they are
// allowed, a host whose every address is public.
func checkURL(ctx context.Context, resolver *net.Resolver, raw string, allowPrivate bool) string {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.User != nil || u.Fragment != "" || len(raw) > 2048 {
		return "must be an absolute https URL of at most 2048 characters, without user or fragment"
	}
	host := u.Hostname()
	loopback := host == "localhost"
	if ip, err := netip.ParseAddr(host); err == nil {
		loopback = ip.Unmap().IsLoopback()
	}
	switch {
	case u.Scheme == "http" && !(allowPrivate && loopback):
		return "must be https (http only to a loopback host, on a server run with --webhook-allow-private)"
	case u.Scheme != "https" && u.Scheme != "http":
		return "must be an https URL"
	case allowPrivate:
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ips, err := resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return "host " + host + " does not resolve"
	}
	for _, ip := range ips {
		if why := refused(ip); why != "" {
			return fmt.Sprintf("host %s is %s (%s); run the server with --webhook-allow-private to allow it", host, why, ip)
		}
	}
	return ""
}

// errRefused is a connection to an address webhooks may not reach.
var errRefused = errors.New("webhook target refused")

// Client returns the HTTP client of webhook deliveries: it follows no
// redirect, uses no proxy, and, unless allowPrivate, refuses to connect to
// any address refused names, checked after DNS on every connection (a name
// that resolved to a public address when the webhook was saved may not
// point inside later).
func Client(allowPrivate bool) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: %v", errRefused, err)
			}
			if why := refused(ap.Addr()); why != "" {
				return fmt.Errorf("%w: %s is %s", errRefused, ap.Addr(), why)
			}
			return nil
		}
	}
	return &http.Client{
		Transport: &http.Transport{DialContext: d.DialContext, ForceAttemptHTTP2: true, MaxIdleConnsPerHost: 16,
			IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: 10 * time.Second},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
