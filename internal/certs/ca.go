package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// File names inside the data directory.
const (
	caCertName     = "ca.pem"
	caKeyName      = "ca-key.pem"
	serverCertName = "server.pem"
	serverKeyName  = "server-key.pem"
)

// caValidity is long because every new CA must be trusted again by hand.
const caValidity = 10 * 365 * 24 * time.Hour

// backdate covers clocks that run a little behind ours (a VM, a container
// host): a certificate valid only from "now" would be rejected by them.
const backdate = time.Hour

// CA is the development certificate authority of `connops dev`. Developers
// trust its certificate once (NODE_EXTRA_CA_CERTS, SSL_CERT_FILE, or a system
// store), and every server certificate it issues is trusted from then on.
type CA struct {
	cert     *x509.Certificate
	key      crypto.Signer
	certPath string
}

// LoadOrCreateCA reads ca.pem and ca-key.pem from dir, or creates a new
// ECDSA P-256 CA valid for ten years when ca.pem does not exist. dir is
// created with mode 0700 and the key written with mode 0600, as the key can
// sign certificates for any name.
//
// A ca.pem without a usable ca-key.pem is an error rather than a reason to
// make a new CA: a silent new CA would break the trust developers set up.
// A leftover ca-key.pem without ca.pem (an interrupted first start) is
// replaced, since no one can have trusted a CA whose certificate was never
// written. Two processes creating a CA in the same dir at once may leave a
// mismatched pair, which the next load reports.
func LoadOrCreateCA(dir string) (*CA, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create CA directory: %w", err)
	}
	certPath := filepath.Join(dir, caCertName)
	keyPath := filepath.Join(dir, caKeyName)
	cert, err := readCert(certPath)
	if errors.Is(err, fs.ErrNotExist) {
		return createCA(certPath, keyPath)
	}
	if err != nil {
		return nil, fmt.Errorf("load development CA: %w", err)
	}
	return loadCA(cert, certPath, keyPath)
}

func loadCA(cert *x509.Certificate, certPath, keyPath string) (*CA, error) {
	if !cert.IsCA {
		return nil, fmt.Errorf("load development CA: %s is not a CA certificate", certPath)
	}
	if time.Now().After(cert.NotAfter) {
		return nil, fmt.Errorf("load development CA: %s expired on %s; delete it and %s to make a new CA, then trust the new one",
			certPath, cert.NotAfter.Format(time.DateOnly), keyPath)
	}
	key, err := readKey(keyPath)
	if err != nil {
		return nil, fmt.Errorf("load development CA key: %w", err)
	}
	if !matches(key, cert) {
		return nil, fmt.Errorf("load development CA: %s does not match %s", keyPath, certPath)
	}
	return &CA{cert: cert, key: key, certPath: certPath}, nil
}

func createCA(certPath, keyPath string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			CommonName:   "connops development CA",
			Organization: []string{"connops development"},
		},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		// The CA signs server certificates only, never another CA.
		MaxPathLen:     0,
		MaxPathLenZero: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse new CA certificate: %w", err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode CA key: %w", err)
	}
	// The key goes first: ca.pem is what marks the CA as existing, so it
	// must not appear before its key.
	if err := writeFileAtomic(keyPath, keyPEM, 0o600); err != nil {
		return nil, fmt.Errorf("write CA key: %w", err)
	}
	if err := writeFileAtomic(certPath, encodeCert(der), 0o644); err != nil {
		return nil, fmt.Errorf("write CA certificate: %w", err)
	}
	return &CA{cert: cert, key: key, certPath: certPath}, nil
}

// CertPath is the CA certificate's file, the one developers trust.
func (ca *CA) CertPath() string { return ca.certPath }

// Certificate is the parsed CA certificate, for building an x509.CertPool or
// printing its fingerprint.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }
