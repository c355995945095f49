package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/connops/connops/internal/certs"
	"github.com/connops/connops/internal/pgtest"
)

// devPair makes a development CA in a new directory and a localhost server
// pair signed by it.
func devPair(t *testing.T) (ca *certs.CA, certFile, keyFile string) {
	t.Helper()
	dir := t.TempDir()
	ca, err := certs.LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, err = ca.IssueServer(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ca, certFile, keyFile
}

// trusting is an HTTP client that trusts exactly these CAs.
func trusting(t *testing.T, cas ...*certs.CA) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	for _, ca := range cas {
		pool.AddCert(ca.Certificate())
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// servedSerial does a fresh handshake with addr and returns the serial of
// the verified leaf it was shown.
func servedSerial(t *testing.T, addr string, cas ...*certs.CA) (string, error) {
	t.Helper()
	pool := x509.NewCertPool()
	for _, ca := range cas {
		pool.AddCert(ca.Certificate())
	}
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err != nil {
		return "", err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Text(16), nil
}

func fileSerial(t *testing.T, certFile string) string {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(certFile, strings.TrimSuffix(certFile, ".pem")+"-key.pem")
	if err != nil {
		t.Fatal(err)
	}
	return pair.Leaf.SerialNumber.Text(16)
}

// TestServeHTTPS serves with TLS_CERT_FILE and TLS_KEY_FILE: a client that
// trusts the CA completes a real handshake (HTTP/2), one that does not is
// refused, plain HTTP to the port gets no API, and every absolute link the
// API answers with is https.
func TestServeHTTPS(t *testing.T) {
	ca, certFile, keyFile := devPair(t)
	s := startServe(t, testConfig(t, pgtest.DSN(t), map[string]string{"TLS_CERT_FILE": certFile, "TLS_KEY_FILE": keyFile, "SHUTDOWN_DRAIN_DELAY": "0s"}))
	if !strings.HasPrefix(s.base, "https://") {
		t.Fatalf("base = %s", s.base)
	}
	client := trusting(t, ca)
	res, err := client.Get(s.base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Proto != "HTTP/2.0" || res.TLS == nil {
		t.Errorf("readyz over TLS: %s %s, want 200 over HTTP/2.0", res.Proto, res.Status)
	}

	var unknown x509.UnknownAuthorityError
	if _, err := trusting(t).Get(s.base + "/healthz"); !errors.As(err, &unknown) {
		t.Errorf("a client without the CA: err = %v, want an unknown authority", err)
	}
	plain := strings.Replace(s.base, "https://", "http://", 1)
	if res, err := http.Get(plain + "/healthz"); err == nil {
		res.Body.Close()
		if res.StatusCode == http.StatusOK {
			t.Error("plain HTTP to the TLS port was answered 200")
		}
	}

	// The image's healthcheck probes the same TLS listener.
	probeEnv := envOf(map[string]string{"LISTEN_ADDR": strings.TrimPrefix(s.base, "https://"), "TLS_CERT_FILE": certFile, "TLS_KEY_FILE": keyFile})
	if err := run(context.Background(), []string{"healthcheck"}, probeEnv, io.Discard, io.Discard); err != nil {
		t.Errorf("healthcheck over TLS: %v", err)
	}

	c := apiClient{base: s.base, token: devToken(t, "contoso", "tls"), http: client}
	r := c.mustDo(t, http.StatusCreated, http.MethodPost, "/v1.0/external/connections", `{"id":"tlsconn","name":"TLS"}`, nil)
	for range 2 {
		c.mustDo(t, http.StatusCreated, http.MethodPost, "/v1.0/external/connections/tlsconn/operations", `{}`, nil)
	}
	list := c.mustDo(t, http.StatusOK, http.MethodGet, "/v1.0/external/connections/tlsconn/operations?$top=1", "", nil)
	links := map[string]string{"Location": r.header.Get("Location"),
		"@odata.context": jsonField(t, r.body, "@odata.context"), "@odata.nextLink": jsonField(t, list.body, "@odata.nextLink")}
	for name, link := range links {
		if !strings.HasPrefix(link, s.base+"/v1.0/") {
			t.Errorf("%s = %q, want it under %s", name, link, s.base)
		}
	}
	// The nextLink works as given, over the same TLS connection.
	next := c.mustDo(t, http.StatusOK, http.MethodGet, strings.TrimPrefix(links["@odata.nextLink"], s.base), "", nil)
	if v, _ := jsonValue(t, next.body)["value"].([]any); len(v) != 1 {
		t.Errorf("second page has %d operations, want 1", len(v))
	}
}

// TestServeReloadsCertificate rotates the files under a running serve: new
// handshakes get the new certificate within seconds, with no restart, and a
// broken rotation keeps the old one serving.
func TestServeReloadsCertificate(t *testing.T) {
	ca, certFile, keyFile := devPair(t)
	s := startServe(t, testConfig(t, pgtest.DSN(t), map[string]string{"TLS_CERT_FILE": certFile, "TLS_KEY_FILE": keyFile, "SHUTDOWN_DRAIN_DELAY": "0s"}))
	addr := strings.TrimPrefix(s.base, "https://")
	before := fileSerial(t, certFile)
	if got, err := servedSerial(t, addr, ca); err != nil || got != before {
		t.Fatalf("served %s (%v), want %s", got, err, before)
	}

	// A half-written rotation: a key that is not the certificate's. The old
	// pair keeps serving.
	otherCA, otherCert, otherKey := devPair(t)
	copyOver(t, otherKey, keyFile)
	time.Sleep(1500 * time.Millisecond) // past the reloader's check interval
	if got, err := servedSerial(t, addr, ca); err != nil || got != before {
		t.Fatalf("during a broken rotation: served %s (%v), want the old %s", got, err, before)
	}

	// The rotation completes: the new certificate is served.
	copyOver(t, otherCert, certFile)
	want := fileSerial(t, certFile)
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := servedSerial(t, addr, ca, otherCA)
		if err == nil && got == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still serving %s (%v) 10s after the rotation, want %s", got, err, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if res, err := trusting(t, otherCA).Get(s.base + "/readyz"); err != nil {
		t.Errorf("a client trusting only the new CA: %v", err)
	} else {
		res.Body.Close()
	}
	if !strings.Contains(s.logs.String(), "TLS certificate reloaded") {
		t.Error("the reload was not logged")
	}
}

// copyOver replaces dst with src's content through a rename, as
// cert-manager and kubelet replace files.
func copyOver(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(filepath.Dir(dst), ".rotate.tmp")
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
}

// TestServeRefusesBadTLSFiles: a missing or mismatched pair stops serve with
// an error naming the variables, before it touches the database.
func TestServeRefusesBadTLSFiles(t *testing.T) {
	_, certFile, keyFile := devPair(t)
	_, otherCert, _ := devPair(t)
	unreachable := "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"
	for name, env := range map[string]map[string]string{
		"missing certificate": {"TLS_CERT_FILE": filepath.Join(t.TempDir(), "nope.pem"), "TLS_KEY_FILE": keyFile},
		"mismatched pair":     {"TLS_CERT_FILE": otherCert, "TLS_KEY_FILE": keyFile},
		"certificate alone":   {"TLS_CERT_FILE": certFile},
	} {
		t.Run(name, func(t *testing.T) {
			env["DATABASE_URL"] = unreachable
			env["AUTH_HS256_SECRET"] = goodSecret
			err := run(context.Background(), []string{"serve"}, envOf(env), io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), "TLS_") || strings.Contains(err.Error(), "database") {
				t.Errorf("err = %v, want a TLS error before any database error", err)
			}
		})
	}
}

// TestForwardedProtoFromTrustedTLSProxy puts a TLS-terminating reverse
// proxy (httputil.ReverseProxy setting X-Forwarded-Proto and -Host) in
// front of a plain-HTTP serve. With the proxy's address in TRUSTED_PROXIES
// the links a client gets are https on the proxy's host; without it they
// are the backend's own http links, whatever the headers say.
func TestForwardedProtoFromTrustedTLSProxy(t *testing.T) {
	ca, certFile, keyFile := devPair(t)
	for _, tt := range []struct {
		name, proxies string
		viaProxy      bool
	}{
		{"proxy trusted", "127.0.0.1", true},
		{"proxy not trusted", "10.0.0.0/8", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			backend := startServe(t, testConfig(t, pgtest.DSN(t), map[string]string{"TRUSTED_PROXIES": tt.proxies, "SHUTDOWN_DRAIN_DELAY": "0s"}))
			front := startTLSProxy(t, backend.base, certFile, keyFile)
			c := apiClient{base: front, token: devToken(t, "contoso", "proxy"), http: trusting(t, ca)}
			r := c.mustDo(t, http.StatusCreated, http.MethodPost, "/v1.0/external/connections", `{"id":"proxied","name":"Proxied"}`, nil)
			want := backend.base
			if tt.viaProxy {
				want = front
			}
			for name, link := range map[string]string{"Location": r.header.Get("Location"), "@odata.context": jsonField(t, r.body, "@odata.context")} {
				if !strings.HasPrefix(link, want+"/v1.0/") {
					t.Errorf("%s = %q, want it under %s", name, link, want)
				}
			}
		})
	}
}

// startTLSProxy serves HTTPS on a loopback port with the given pair and
// forwards every request to backend, as a TLS-terminating load balancer
// does. It returns the proxy's base URL, https://localhost:port.
func startTLSProxy(t *testing.T, backend, certFile, keyFile string) string {
	t.Helper()
	target, err := url.Parse(backend)
	if err != nil {
		t.Fatal(err)
	}
	proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.SetXForwarded()
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: proxy, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.ServeTLS(ln, certFile, keyFile) }()
	t.Cleanup(func() { _ = srv.Close() })
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return "https://localhost:" + port
}

func jsonValue(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("not a JSON object: %v\n%s", err, body)
	}
	return m
}

func jsonField(t *testing.T, body []byte, name string) string {
	t.Helper()
	s, _ := jsonValue(t, body)[name].(string)
	return s
}
