package certs

import (
	"path/filepath"
	"time"
)

// SetNow gives r a test clock and restarts its check interval from that
// clock's present, so tests step past the interval instead of sleeping. Call
// it before r serves handshakes.
func SetNow(r *Reloader, now func() time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.now = now
	r.checkedAt.Store(now().UnixNano())
}

// WriteServer writes dir's server pair as IssueServer does but with the given
// validity, so tests can plant expired and soon-expiring certificates.
func WriteServer(ca *CA, dir string, hosts []string, notBefore, notAfter time.Time) error {
	all, err := serverHosts(hosts)
	if err != nil {
		return err
	}
	return ca.writeServer(filepath.Join(dir, serverCertName), filepath.Join(dir, serverKeyName), all, notBefore, notAfter)
}
