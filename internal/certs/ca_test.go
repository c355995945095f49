package certs_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/connops/connops/internal/certs"
)

func TestLoadOrCreateCACreates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "tls")
	ca, err := certs.LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ca.CertPath(), filepath.Join(dir, "ca.pem"); got != want {
		t.Errorf("CertPath() = %s, want %s", got, want)
	}
	cert := ca.Certificate()
	if !cert.IsCA || cert.Subject.CommonName != "connops development CA" {
		t.Errorf("IsCA %v, subject %q; want a CA named connops development CA", cert.IsCA, cert.Subject)
	}
	if key, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok || key.Curve != elliptic.P256() {
		t.Errorf("public key %T, want ECDSA P-256", cert.PublicKey)
	}
	if life := time.Until(cert.NotAfter); life < 9*365*24*time.Hour {
		t.Errorf("CA valid for %v more, want about ten years", life)
	}
	for path, want := range map[string]os.FileMode{
		dir:                              0o700 | os.ModeDir,
		filepath.Join(dir, "ca-key.pem"): 0o600,
		filepath.Join(dir, "ca.pem"):     0o644,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode(), want)
		}
	}
}

// A developer trusts ca.pem once; a restart must load that CA, not make a
// new one.
func TestLoadOrCreateCAIsStableAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	first, err := certs.LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(first.CertPath())
	if err != nil {
		t.Fatal(err)
	}
	second, err := certs.LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := sha256.Sum256(first.Certificate().Raw), sha256.Sum256(second.Certificate().Raw); a != b {
		t.Errorf("second load has fingerprint %x, first %x", b, a)
	}
	after, err := os.ReadFile(second.CertPath())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Error("ca.pem was rewritten by the second load")
	}
}

func TestLoadOrCreateCARefusesCertWithoutKey(t *testing.T) {
	dir := t.TempDir()
	if _, err := certs.LoadOrCreateCA(dir); err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(dir, "ca-key.pem")
	if err := os.Remove(keyPath); err != nil {
		t.Fatal(err)
	}
	_, err := certs.LoadOrCreateCA(dir)
	if err == nil || !strings.Contains(err.Error(), keyPath) {
		t.Fatalf("err = %v, want an error naming %s", err, keyPath)
	}
	if _, err := os.Stat(keyPath); err == nil {
		t.Error("a new key was written beside the old ca.pem")
	}
}

func TestLoadOrCreateCARejectsMismatchedKey(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	for _, d := range []string{dir, other} {
		if _, err := certs.LoadOrCreateCA(d); err != nil {
			t.Fatal(err)
		}
	}
	moveOver(t, filepath.Join(other, "ca-key.pem"), filepath.Join(dir, "ca-key.pem"))
	_, err := certs.LoadOrCreateCA(dir)
	if err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("err = %v, want a key mismatch", err)
	}
}

// An interrupted first start leaves a key without a certificate; no one can
// trust that CA yet, so a new one is made.
func TestLoadOrCreateCAReplacesLeftoverKey(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ca-key.pem"), []byte("half a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := certs.LoadOrCreateCA(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := certs.LoadOrCreateCA(dir); err != nil {
		t.Fatalf("reload of the replacement CA: %v", err)
	}
}
