package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/connops/connops/internal/app"
	"github.com/connops/connops/internal/certs"
)

const devCertSynopsis = `connops dev-cert [--data-dir DIR] [--hosts H1,H2]

Makes sure DIR holds the development CA (ca.pem, ca-key.pem; made once, then
reused) and a server certificate signed by it (server.pem, server-key.pem) for
localhost, 127.0.0.1, ::1 and the hosts, then prints the three files as
ca=FILE, cert=FILE and key=FILE lines. connops dev does the same at start;
this is for serving the pair with connops serve (TLS_CERT_FILE, TLS_KEY_FILE),
as docker-compose.yml does, or to get the CA to trust before dev runs.`

func runDevCert(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dev-cert", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "", "directory of the CA and the certificate (default: connops/dev-ca in the user cache directory, as connops dev)")
	hosts := fs.String("hosts", "", "comma-separated extra DNS names or IPs the certificate covers")
	if err := parseFlags(fs, args, devCertSynopsis, stdout, stderr); err != nil {
		return helpIsSuccess(err)
	}
	dir, err := devDataDir(*dataDir)
	if err != nil {
		return err
	}
	ca, err := certs.LoadOrCreateCA(dir)
	if err != nil {
		return fmt.Errorf("--data-dir %s: %w", dir, err)
	}
	certFile, keyFile, err := ca.IssueServer(dir, app.SplitList(*hosts))
	if err != nil {
		return fmt.Errorf("issue the development server certificate: %w", err)
	}
	fmt.Fprintf(stdout, "ca=%s\ncert=%s\nkey=%s\n", ca.CertPath(), certFile, keyFile)
	return nil
}
