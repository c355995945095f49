package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/connops/connops/internal/app"
	"github.com/connops/connops/internal/certs"
	"github.com/connops/connops/internal/pgtest"
)

func TestHealthcheck(t *testing.T) {
	s := startServe(t, testConfig(t, pgtest.DSN(t), map[string]string{"SHUTDOWN_DRAIN_DELAY": "0s"}))
	addr := strings.TrimPrefix(s.base, "http://")
	for _, path := range []string{"/readyz", "/healthz"} {
		if err := run(context.Background(), []string{"healthcheck", "--path", path}, envOf(map[string]string{"LISTEN_ADDR": addr}), io.Discard, io.Discard); err != nil {
			t.Errorf("healthcheck --path %s: %v", path, err)
		}
	}
	err := run(context.Background(), []string{"healthcheck", "--path", "/nothing"}, envOf(map[string]string{"LISTEN_ADDR": addr}), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("healthcheck of a missing path: %v, want a 404 error", err)
	}

	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()
	if err := run(context.Background(), []string{"healthcheck"}, envOf(map[string]string{"LISTEN_ADDR": closedAddr}), io.Discard, io.Discard); err == nil {
		t.Error("healthcheck of a closed port succeeded")
	}
}

func TestProbeURL(t *testing.T) {
	tests := []struct {
		addr, certFile, want string
	}{
		{":8080", "", "http://127.0.0.1:8080/readyz"},
		{"0.0.0.0:8080", "", "http://127.0.0.1:8080/readyz"},
		{"[::]:8443", "/tls/cert.pem", "https://[::1]:8443/readyz"},
		{"10.1.2.3:9000", "", "http://10.1.2.3:9000/readyz"},
		{"localhost:8080", "", "http://localhost:8080/readyz"},
	}
	for _, tt := range tests {
		got, err := probeURL(app.Config{ListenAddr: tt.addr, TLSCertFile: tt.certFile}, "/readyz")
		if err != nil || got != tt.want {
			t.Errorf("probeURL(%q) = %q, %v; want %q", tt.addr, got, err, tt.want)
		}
	}
	if _, err := probeURL(app.Config{ListenAddr: "8080"}, "/readyz"); err == nil {
		t.Error("a LISTEN_ADDR without a colon was accepted")
	}
}

// TestDevCertCommand: the files it prints are a CA and a server pair that
// serve loads, for the hosts asked; a second run keeps the CA.
func TestDevCertCommand(t *testing.T) {
	dir := t.TempDir()
	files := func() map[string]string {
		var out bytes.Buffer
		if err := run(context.Background(), []string{"dev-cert", "--data-dir", dir, "--hosts", "connops-tls"}, envOf(nil), &out, io.Discard); err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			k, v, _ := strings.Cut(line, "=")
			m[k] = v
		}
		return m
	}
	first := files()
	if _, err := certs.NewReloader(first["cert"], first["key"], nil); err != nil {
		t.Fatalf("serve would not load the printed pair: %v", err)
	}
	leaf := readLeaf(t, first["cert"])
	if err := leaf.VerifyHostname("connops-tls"); err != nil {
		t.Errorf("certificate does not cover --hosts: %v", err)
	}
	if err := leaf.CheckSignatureFrom(readLeaf(t, first["ca"])); err != nil {
		t.Errorf("certificate is not signed by the printed CA: %v", err)
	}
	second := files()
	if readLeaf(t, second["ca"]).SerialNumber.Cmp(readLeaf(t, first["ca"]).SerialNumber) != 0 {
		t.Error("a second dev-cert made a new CA")
	}
}

func readLeaf(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s: no PEM", path)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}
