package main_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSelfSignedTLS: --tls-self-signed serves HTTPS with a certificate kept
// in the data dir, advertised https URLs, and `latchkey token` trusting it.
func TestSelfSignedTLS(t *testing.T) {
	addr, dir := freeAddr(t), t.TempDir()
	n := serve(t, addr, dir, "--tls-self-signed")
	if !strings.HasPrefix(n.URL, "https://localhost:") {
		t.Fatalf("URL %s", n.URL)
	}
	c := credentials(t, dir)
	for _, k := range []string{"api_base_url", "token_endpoint"} {
		if !strings.HasPrefix(c[k], "https://localhost:") {
			t.Errorf("%s is %q, want https://localhost:…", k, c[k])
		}
	}
	tok := strings.TrimSpace(mustRun(t, nil, "token", "--data-dir", dir))
	n.expect(t, http.StatusOK, http.MethodGet, tenantPath(c["tenant_id"]), tok, nil)

	// Plain HTTP is not served on the port.
	if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP answered 200 on the TLS port")
		}
	}

	certFile := filepath.Join(dir, "tls-self-signed.crt")
	first, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(filepath.Join(dir, "tls-self-signed.key")); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("private key file: %v, mode %v; want mode 0600", err, info.Mode().Perm())
	}

	n.stop(t)
	n = serve(t, addr, dir, "--tls-self-signed")
	again, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, again) {
		t.Error("restart replaced the self-signed certificate")
	}
	resp, err := n.client.Get(n.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	block, _ := pem.Decode(first)
	if block == nil || !bytes.Equal(resp.TLS.PeerCertificates[0].Raw, block.Bytes) {
		t.Error("after restart the node serves another certificate than the one first written")
	}
	n.expect(t, http.StatusOK, http.MethodGet, tenantPath(c["tenant_id"]), tok, nil)
}

// TestTLSCertificate: --tls-cert and --tls-key serve HTTPS with that
// certificate, the only one the client trusts; an incomplete or mismatched
// pair stops the start, before anything is bootstrapped, naming the flags.
func TestTLSCertificate(t *testing.T) {
	certs := t.TempDir()
	cert, key := writeCertificate(t, certs, "localhost")
	otherCert, otherKey := writeCertificate(t, certs, "other")
	addr, dir := freeAddr(t), t.TempDir()

	for _, tc := range []struct {
		name string
		tls  []string
		want string
	}{
		{"cert without key", []string{"--tls-cert", cert}, "--tls-cert and --tls-key go together"},
		{"key without cert", []string{"--tls-key", key}, "--tls-cert and --tls-key go together"},
		{"key of another cert", []string{"--tls-cert", cert, "--tls-key", otherKey}, "private key does not match public key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stderr := mustFail(t, nil, append([]string{"serve", "--listen", addr, "--data-dir", dir}, tc.tls...)...)
			if !strings.Contains(stderr, tc.want) || !strings.Contains(stderr, "--tls-cert") {
				t.Errorf("stderr does not say %q about --tls-cert:\n%s", tc.want, tail(stderr))
			}
			if _, err := os.Stat(filepath.Join(dir, "bootstrap.json")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the failed start bootstrapped: %v", err)
			}
		})
	}

	n := serve(t, addr, dir, "--tls-cert", cert, "--tls-key", key)
	c := credentials(t, dir)
	if c["api_base_url"] != "https://"+addr {
		t.Errorf("api_base_url %q, want https://%s", c["api_base_url"], addr)
	}
	n.expect(t, http.StatusOK, http.MethodGet, tenantPath(c["tenant_id"]), n.token(t), nil)

	resp, err := n.client.Get(n.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	pemBytes, err := os.ReadFile(cert)
	if err != nil {
		t.Fatal(err)
	}
	if block, _ := pem.Decode(pemBytes); block == nil || !bytes.Equal(resp.TLS.PeerCertificates[0].Raw, block.Bytes) {
		t.Error("the node serves another certificate than --tls-cert")
	}
	// A client trusting another certificate is refused: trust is really checked.
	other, err := newClient(n.URL, otherCert)
	if err != nil {
		t.Fatal(err)
	}
	defer other.CloseIdleConnections()
	if resp, err := other.Get(n.URL + "/healthz"); err == nil {
		resp.Body.Close()
		t.Error("a client trusting another certificate reached the node")
	}
}

// writeCertificate writes a self-signed certificate for localhost and its
// key to dir/name.crt and dir/name.key.
func writeCertificate(t *testing.T, dir, name string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
