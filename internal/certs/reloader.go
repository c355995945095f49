package certs

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// checkInterval bounds how often handshakes stat the files: rotation is rare,
// handshakes are not, and a second of delay after a rotation is harmless.
const checkInterval = time.Second

// Reloader serves the certificate and key held in two files and reloads them
// when either file changes, so operators (or cert-manager) can rotate them
// without restarting connops. Use GetCertificate or TLSConfig in a server.
//
// There is no watcher goroutine: the first handshake after checkInterval has
// passed stats both files, and a change in identity, size or modification
// time triggers a reload. os.Stat follows symlinks, so Kubernetes secret
// volumes, which swap a symlink, count as a change too.
type Reloader struct {
	certFile, keyFile string
	log               *slog.Logger
	now               func() time.Time

	cert      atomic.Pointer[tls.Certificate]
	checkedAt atomic.Int64 // UnixNano of the last check

	mu    sync.Mutex // held while checking; guards stamp and err
	stamp stamp
	err   error // result of the last load attempt
}

// NewReloader loads the certificate (PEM, leaf first, then any
// intermediates) and the key from their files. It fails if either file is
// missing or invalid or the key does not match the certificate, so a
// misconfigured server stops at start rather than at its first handshake.
// log receives a warning when a later reload fails; it may be nil.
func NewReloader(certFile, keyFile string, log *slog.Logger) (*Reloader, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Reloader{certFile: certFile, keyFile: keyFile, log: log, now: time.Now}
	if err := r.Check(); err != nil {
		return nil, err
	}
	return r, nil
}

// GetCertificate returns the current certificate, first reloading it if the
// files changed. It suits tls.Config.GetCertificate. A failed reload, as when
// a rotation is half written, is logged and the previous certificate is
// served, so a bad rotation never takes the server down.
func (r *Reloader) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	due := time.Duration(r.now().UnixNano()-r.checkedAt.Load()) >= checkInterval
	// One handshake checks; the others serve the current certificate rather
	// than queue behind the reload.
	if due && r.mu.TryLock() {
		loaded, err := r.checkLocked()
		r.mu.Unlock()
		switch {
		case err != nil && loaded:
			r.log.WarnContext(hello.Context(), "TLS certificate reload failed; serving the previous certificate",
				"cert_file", r.certFile, "key_file", r.keyFile, "err", err)
		case loaded:
			leaf := r.cert.Load().Leaf
			r.log.InfoContext(hello.Context(), "TLS certificate reloaded",
				"cert_file", r.certFile, "serial", leaf.SerialNumber.Text(16), "not_after", leaf.NotAfter)
		}
	}
	return r.cert.Load(), nil
}

// Check reloads the files now if they changed since the last check, without
// waiting for checkInterval; tests use it, and so can a SIGHUP handler. It
// returns the error of the last load attempt, so a bad pair keeps reporting
// its error until the files change again.
func (r *Reloader) Check() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, err := r.checkLocked()
	return err
}

// checkLocked reports whether it tried to load the files and the error of the
// last attempt. A failed attempt is remembered with the stamp it saw, so a
// broken pair is neither re-parsed nor re-logged on every handshake; the next
// write to either file makes the stamp differ and retries.
func (r *Reloader) checkLocked() (loaded bool, err error) {
	r.checkedAt.Store(r.now().UnixNano())
	st := stampOf(r.certFile, r.keyFile)
	if r.cert.Load() != nil && st.same(r.stamp) {
		return false, r.err
	}
	r.stamp = st
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err == nil && cert.Leaf == nil {
		// Only GODEBUG=x509keypairleaf=0 leaves Leaf unset; logging the
		// serial needs it.
		err = errors.New("no leaf certificate parsed")
	}
	if err != nil {
		// tls's messages say "certificate input" or "key input"; the
		// paths say which files those were.
		r.err = fmt.Errorf("load TLS certificate %s with key %s: %w", r.certFile, r.keyFile, err)
		return true, r.err
	}
	r.err = nil
	r.cert.Store(&cert)
	return true, nil
}

// TLSConfig returns server defaults around GetCertificate: TLS 1.2 or later
// (1.0 and 1.1 are deprecated by RFC 8996) and ALPN offering HTTP/2 before
// HTTP/1.1, which tls.NewListener needs for h2. Cipher suites and curves are
// left to crypto/tls, whose defaults track current advice.
func (r *Reloader) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		NextProtos:     []string{"h2", "http/1.1"},
		GetCertificate: r.GetCertificate,
	}
}

// stamp identifies the versions of the two files; nil means missing.
type stamp [2]os.FileInfo

func stampOf(certFile, keyFile string) stamp {
	var st stamp
	for i, name := range []string{certFile, keyFile} {
		if fi, err := os.Stat(name); err == nil {
			st[i] = fi
		}
	}
	return st
}

func (s stamp) same(t stamp) bool {
	for i := range s {
		a, b := s[i], t[i]
		if a == nil || b == nil {
			if a != b {
				return false
			}
			continue
		}
		// SameFile catches a file renamed into place even when its size and
		// mtime equal the old one's.
		if !os.SameFile(a, b) || a.Size() != b.Size() || !a.ModTime().Equal(b.ModTime()) {
			return false
		}
	}
	return true
}
