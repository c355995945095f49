package certs

import (
	"path/filepath"
	"time"
)

// WriteServer writes dir's server pair as IssueServer does but with the given
// validity, so tests can plant expired and soon-expiring certificates.
func WriteServer(ca *CA, dir string, hosts []string, notBefore, notAfter time.Time) error {
	all, err := serverHosts(hosts)
	if err != nil {
		return err
	}
	return ca.writeServer(filepath.Join(dir, serverCertName), filepath.Join(dir, serverKeyName), all, notBefore, notAfter)
}
