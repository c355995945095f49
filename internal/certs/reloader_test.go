package certs_test

import (
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/connops/connops/internal/certs"
)

// rotation is a Reloader serving pair A on a loopback port, with pair B
// issued by the same CA ready to be moved over A's files.
type rotation struct {
	r      *certs.Reloader
	clock  *clock
	log    *logBuffer
	addr   string
	roots  *x509.CertPool
	a, b   pair
	serial struct{ a, b string }
}

type pair struct{ cert, key string }

func newRotation(t *testing.T) *rotation {
	t.Helper()
	ca := newCA(t)
	rot := &rotation{clock: newClock(), log: &logBuffer{}, roots: poolFrom(t, ca.CertPath())}
	rot.a.cert, rot.a.key = issue(t, ca)
	rot.b.cert, rot.b.key = issue(t, ca)
	rot.serial.a, rot.serial.b = fileSerial(t, rot.a.cert), fileSerial(t, rot.b.cert)

	r, err := certs.NewReloader(rot.a.cert, rot.a.key, slog.New(slog.NewTextHandler(rot.log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	certs.SetNow(r, rot.clock.Now)
	rot.r, rot.addr = r, serve(t, r.TLSConfig())
	return rot
}

// expect fails the test unless the server presents the certificate with
// the given serial.
func (rot *rotation) expect(t *testing.T, serial, why string) {
	t.Helper()
	if got := servedSerial(t, rot.addr, rot.roots); got != serial {
		t.Fatalf("%s: served serial %s, want %s (A %s, B %s)", why, got, serial, rot.serial.a, rot.serial.b)
	}
}

// rotateCert and rotateKey move B's files over A's, one at a time, as an
// operator or cert-manager would.
func (rot *rotation) rotateCert(t *testing.T) { moveOver(t, rot.b.cert, rot.a.cert) }
func (rot *rotation) rotateKey(t *testing.T)  { moveOver(t, rot.b.key, rot.a.key) }

func TestReloaderCheckPicksUpReplacedFiles(t *testing.T) {
	rot := newRotation(t)
	rot.expect(t, rot.serial.a, "before rotation")
	rot.rotateKey(t)
	rot.rotateCert(t)
	rot.expect(t, rot.serial.a, "within the check interval")
	if err := rot.r.Check(); err != nil {
		t.Fatalf("Check: %v", err)
	}
	rot.expect(t, rot.serial.b, "after Check")
}

func TestReloaderReloadsOnHandshake(t *testing.T) {
	rot := newRotation(t)
	rot.rotateKey(t)
	rot.rotateCert(t)
	rot.clock.Advance(time.Second)
	rot.expect(t, rot.serial.b, "first handshake after the interval")
	if log := rot.log.String(); !strings.Contains(log, "TLS certificate reloaded") || !strings.Contains(log, rot.serial.b) {
		t.Errorf("log %q, want a reload of serial %s", log, rot.serial.b)
	}
}

// The key lands before the certificate: in between, the pair does not match
// and the old certificate must go on being served.
func TestReloaderSurvivesHalfRotation(t *testing.T) {
	rot := newRotation(t)
	rot.rotateKey(t)
	rot.clock.Advance(time.Second)
	rot.expect(t, rot.serial.a, "new key, old certificate")
	rot.rotateCert(t)
	rot.clock.Advance(time.Second)
	rot.expect(t, rot.serial.b, "both new")
}

func TestReloaderKeepsCertificateWhenFilesAreBad(t *testing.T) {
	rot := newRotation(t)
	// An in-place writer caught halfway.
	if err := os.WriteFile(rot.a.cert, []byte("-----BEGIN CERT"), 0o644); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		rot.clock.Advance(time.Second)
		rot.expect(t, rot.serial.a, "garbage certificate file")
	}
	if err := rot.r.Check(); err == nil || !strings.Contains(err.Error(), rot.a.cert) {
		t.Errorf("Check() = %v, want an error naming %s", err, rot.a.cert)
	}
	log := rot.log.String()
	if n := strings.Count(log, "level=WARN"); n != 1 {
		t.Errorf("%d warnings for one bad file, want 1 (log %q)", n, log)
	}
	if !strings.Contains(log, rot.a.cert) {
		t.Errorf("log %q does not name %s", log, rot.a.cert)
	}

	rot.rotateKey(t)
	rot.rotateCert(t)
	rot.clock.Advance(time.Second)
	rot.expect(t, rot.serial.b, "good files after bad ones")
	if err := rot.r.Check(); err != nil {
		t.Errorf("Check after recovery: %v", err)
	}
}

func TestReloaderKeepsCertificateWhenFileIsMissing(t *testing.T) {
	rot := newRotation(t)
	if err := os.Remove(rot.a.cert); err != nil {
		t.Fatal(err)
	}
	rot.clock.Advance(time.Second)
	rot.expect(t, rot.serial.a, "certificate file removed")
	if err := rot.r.Check(); err == nil {
		t.Error("Check() = nil with the certificate file gone")
	}
	rot.rotateCert(t)
	rot.clock.Advance(time.Second)
	rot.expect(t, rot.serial.a, "certificate back, key still A's")
	rot.rotateKey(t)
	rot.clock.Advance(time.Second)
	rot.expect(t, rot.serial.b, "both B's")
}

func TestTLSConfigDefaults(t *testing.T) {
	rot := newRotation(t)
	cfg := rot.r.TLSConfig()
	if cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion %x, want TLS 1.2", cfg.MinVersion)
	}
	_, err := tls.Dial("tcp", rot.addr, &tls.Config{RootCAs: rot.roots, ServerName: "localhost", MaxVersion: tls.VersionTLS11})
	if err == nil {
		t.Error("TLS 1.1 handshake succeeded")
	}
	conn, err := tls.Dial("tcp", rot.addr, &tls.Config{RootCAs: rot.roots, ServerName: "localhost", NextProtos: []string{"h2", "http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if p := conn.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Errorf("negotiated %q, want h2", p)
	}
}

func TestReloaderConstructionErrors(t *testing.T) {
	ca := newCA(t)
	certFile, keyFile := issue(t, ca)
	otherCert, _ := issue(t, ca)
	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	if err := os.WriteFile(garbage, []byte("-----BEGIN CERTIFICATE-----\nnot base64\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "missing.pem")

	tests := []struct {
		name, cert, key, want string
	}{
		{"missing cert", missing, keyFile, missing},
		{"missing key", certFile, missing, missing},
		{"garbage cert", garbage, keyFile, "certificate input"},
		{"garbage key", certFile, garbage, "key input"},
		{"key of another cert", otherCert, keyFile, "does not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := certs.NewReloader(tt.cert, tt.key, nil)
			if err == nil {
				t.Fatal("NewReloader succeeded")
			}
			if r != nil {
				t.Error("NewReloader returned a Reloader with its error")
			}
			for _, want := range []string{tt.want, tt.cert, tt.key} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("err = %q, want it to contain %q", err, want)
				}
			}
		})
	}
}
