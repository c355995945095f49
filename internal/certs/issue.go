package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// serverValidity stays under the 398 days browsers accept for a leaf.
const serverValidity = 365 * 24 * time.Hour

// renewBefore is how much validity a server certificate must have left to be
// reused; less, and it is reissued so it never expires under a running dev
// server.
const renewBefore = 30 * 24 * time.Hour

// IssueServer makes sure dir holds server.pem and server-key.pem, a server
// certificate signed by ca for localhost, 127.0.0.1, ::1 and hosts (DNS names
// or IP addresses). An existing pair is kept when it is signed by ca, covers
// every host and is valid for more than 30 days; otherwise a new key and
// certificate replace it. Files are replaced atomically, so a Reloader
// watching them never reads half a file.
func (ca *CA) IssueServer(dir string, hosts []string) (certFile, keyFile string, err error) {
	all, err := serverHosts(hosts)
	if err != nil {
		return "", "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", fmt.Errorf("create certificate directory: %w", err)
	}
	certFile = filepath.Join(dir, serverCertName)
	keyFile = filepath.Join(dir, serverKeyName)
	now := time.Now()
	if ca.reusable(certFile, keyFile, all, now) {
		return certFile, keyFile, nil
	}
	notAfter := now.Add(serverValidity)
	if notAfter.After(ca.cert.NotAfter) {
		// A leaf outliving its CA would fail verification early anyway.
		notAfter = ca.cert.NotAfter
	}
	if err := ca.writeServer(certFile, keyFile, all, now.Add(-backdate), notAfter); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}

// reusable reports whether the pair on disk can be served as it is. Any
// problem (missing, garbage, wrong CA) means reissue, not an error: these
// files are ours to regenerate.
func (ca *CA) reusable(certFile, keyFile string, hosts []string, now time.Time) bool {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil || pair.Leaf == nil {
		return false
	}
	leaf := pair.Leaf
	if now.Before(leaf.NotBefore) || leaf.NotAfter.Sub(now) <= renewBefore {
		return false
	}
	if leaf.CheckSignatureFrom(ca.cert) != nil {
		return false
	}
	for _, h := range hosts {
		if leaf.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}

func (ca *CA) writeServer(certFile, keyFile string, hosts []string, notBefore, notAfter time.Time) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generate server key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			CommonName:   "connops development server",
			Organization: []string{"connops development"},
		},
		NotBefore: notBefore,
		NotAfter:  notAfter,
		// ECDSA keys sign; they never encipher, so no KeyEncipherment.
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return fmt.Errorf("create server certificate: %w", err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return fmt.Errorf("encode server key: %w", err)
	}
	// Key first: a Reloader that sees the new key beside the old
	// certificate fails that reload, keeps serving, and reloads again when
	// the certificate lands.
	if err := writeFileAtomic(keyFile, keyPEM, 0o600); err != nil {
		return fmt.Errorf("write server key: %w", err)
	}
	if err := writeFileAtomic(certFile, encodeCert(der), 0o644); err != nil {
		return fmt.Errorf("write server certificate: %w", err)
	}
	return nil
}

// serverHosts returns the loopback names every development certificate
// covers followed by extra, cleaned up and
// without duplicates. It rejects entries that are neither an IP address nor
// a plausible DNS name, such as "host:8443" or a URL, which would otherwise
// yield a certificate that matches nothing.
func serverHosts(extra []string) ([]string, error) {
	seen := map[string]bool{}
	var all []string
	for _, h := range append([]string{"localhost", "127.0.0.1", "::1"}, extra...) {
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "" {
			continue
		}
		if ip := net.ParseIP(strings.Trim(h, "[]")); ip != nil {
			h = ip.String() // one spelling per address: "::1", not "0:0::1"
		} else if strings.ContainsAny(h, ":/[] \t") {
			return nil, fmt.Errorf("host %q is not a DNS name or IP address", h)
		}
		if !seen[h] {
			seen[h] = true
			all = append(all, h)
		}
	}
	return all, nil
}
