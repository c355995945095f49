package certs_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/connops/connops/internal/certs"
)

// serveIssued serves the pair in certFile/keyFile through a Reloader.
func serveIssued(t *testing.T, certFile, keyFile string) string {
	t.Helper()
	r, err := certs.NewReloader(certFile, keyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, r.TLSConfig())
}

// The developer's view: a client that trusts only ca.pem reaches the dev
// server under every loopback name, over HTTP/2.
func TestIssuedCertTrustedThroughCAFile(t *testing.T) {
	ca := newCA(t)
	certFile, keyFile := issue(t, ca, "connops.test")
	addr := serveIssued(t, certFile, keyFile)
	roots := poolFrom(t, ca.CertPath())

	for _, name := range []string{"localhost", "127.0.0.1", "::1", "connops.test"} {
		client := &http.Client{Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: roots, ServerName: name},
			ForceAttemptHTTP2: true,
		}}
		resp, err := client.Get("https://" + addr + "/")
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Proto != "HTTP/2.0" {
			t.Errorf("%s: %s %s, want 200 over HTTP/2.0", name, resp.Proto, resp.Status)
		}
		client.CloseIdleConnections()
	}

	var hostErr x509.HostnameError
	if _, err := handshake(addr, roots, "example.com"); !errors.As(err, &hostErr) {
		t.Errorf("example.com: err = %v, want a hostname mismatch", err)
	}
	// The certificate is trusted because of ca.pem, not by accident.
	var authErr x509.UnknownAuthorityError
	if _, err := handshake(addr, x509.NewCertPool(), "localhost"); !errors.As(err, &authErr) {
		t.Errorf("empty pool: err = %v, want an unknown authority", err)
	}
}

// Trust set up before a restart still holds after it, even when the server
// certificate is reissued (here because a host was added).
func TestTrustSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	ca, err := certs.LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ca.IssueServer(dir, nil); err != nil {
		t.Fatal(err)
	}
	trusted := poolFrom(t, ca.CertPath())

	restarted, err := certs.LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, err := restarted.IssueServer(dir, []string{"added.test"})
	if err != nil {
		t.Fatal(err)
	}
	addr := serveIssued(t, certFile, keyFile)
	for _, name := range []string{"localhost", "added.test"} {
		if _, err := handshake(addr, trusted, name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestIssueServerReusesValidCert(t *testing.T) {
	ca := newCA(t)
	dir := t.TempDir()
	certFile, keyFile, err := ca.IssueServer(dir, []string{"a.test"})
	if err != nil {
		t.Fatal(err)
	}
	first := fileSerial(t, certFile)
	// Fewer hosts are still covered, so nothing changes.
	if _, _, err := ca.IssueServer(dir, nil); err != nil {
		t.Fatal(err)
	}
	if again := fileSerial(t, certFile); again != first {
		t.Errorf("serial %s after reuse, want %s", again, first)
	}

	fi, err := os.Stat(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != 0o600 {
		t.Errorf("%s: mode %v, want 0600", keyFile, fi.Mode())
	}
	leaf := readLeaf(t, certFile)
	if life := leaf.NotAfter.Sub(leaf.NotBefore); life > 398*24*time.Hour || life < 300*24*time.Hour {
		t.Errorf("validity %v, want about a year and at most 398 days", life)
	}
}

func TestIssueServerReissues(t *testing.T) {
	now := time.Now()
	day := 24 * time.Hour
	tests := []struct {
		name  string
		plant func(t *testing.T, ca *certs.CA, dir string)
		hosts []string
	}{
		{
			name: "expired",
			plant: func(t *testing.T, ca *certs.CA, dir string) {
				plant(t, ca, dir, now.Add(-400*day), now.Add(-day))
			},
		},
		{
			name: "expires within 30 days",
			plant: func(t *testing.T, ca *certs.CA, dir string) {
				plant(t, ca, dir, now.Add(-300*day), now.Add(10*day))
			},
		},
		{
			name: "host not covered",
			plant: func(t *testing.T, ca *certs.CA, dir string) {
				plant(t, ca, dir, now, now.Add(300*day))
			},
			hosts: []string{"new.test"},
		},
		{
			name: "signed by another CA",
			plant: func(t *testing.T, _ *certs.CA, dir string) {
				plant(t, newCA(t), dir, now, now.Add(300*day))
			},
		},
		{
			name: "garbage",
			plant: func(t *testing.T, ca *certs.CA, dir string) {
				plant(t, ca, dir, now, now.Add(300*day))
				if err := os.WriteFile(filepath.Join(dir, "server.pem"), []byte("garbage"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ca := newCA(t)
			dir := t.TempDir()
			tt.plant(t, ca, dir)
			planted, _ := os.ReadFile(filepath.Join(dir, "server.pem"))

			certFile, keyFile, err := ca.IssueServer(dir, tt.hosts)
			if err != nil {
				t.Fatal(err)
			}
			if now, _ := os.ReadFile(certFile); string(now) == string(planted) {
				t.Fatal("planted certificate was kept")
			}
			leaf := readLeaf(t, certFile)
			if left := time.Until(leaf.NotAfter); left < 300*day {
				t.Errorf("reissued certificate expires in %v, want about a year", left)
			}
			addr := serveIssued(t, certFile, keyFile)
			for _, name := range append([]string{"localhost"}, tt.hosts...) {
				if _, err := handshake(addr, poolFrom(t, ca.CertPath()), name); err != nil {
					t.Errorf("%s: %v", name, err)
				}
			}
		})
	}
}

func plant(t *testing.T, ca *certs.CA, dir string, notBefore, notAfter time.Time) {
	t.Helper()
	if err := certs.WriteServer(ca, dir, nil, notBefore, notAfter); err != nil {
		t.Fatal(err)
	}
}

func TestIssueServerRejectsBadHosts(t *testing.T) {
	ca := newCA(t)
	for _, host := range []string{"localhost:8443", "https://connops.test", "two words"} {
		if _, _, err := ca.IssueServer(t.TempDir(), []string{host}); err == nil {
			t.Errorf("IssueServer(%q) succeeded, want an error", host)
		}
	}
	if _, _, err := ca.IssueServer(t.TempDir(), []string{" Connops.Test ", "[::1]", "", "10.0.0.7"}); err != nil {
		t.Errorf("IssueServer with untidy but valid hosts: %v", err)
	}
}
