package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/connops/connops/internal/app"
)

const healthcheckSynopsis = `connops healthcheck [--path /readyz] [--timeout 3s]

GETs the path from the connops serving on LISTEN_ADDR in this container or
machine (over HTTPS when TLS_CERT_FILE is set) and exits 0 on 200, 1 otherwise.
It is the healthcheck of the distroless image, which has no shell or curl.`

func runHealthcheck(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	path := fs.String("path", "/readyz", "path to GET: /readyz (database reachable and migrated) or /healthz (process up)")
	timeout := fs.Duration("timeout", 3*time.Second, "how long the probe may take")
	if err := parseFlags(fs, args, healthcheckSynopsis, stdout, stderr); err != nil {
		return helpIsSuccess(err)
	}
	cfg, err := app.LoadConfig(getenv, app.Need{})
	if err != nil {
		return err
	}
	url, err := probeURL(cfg, *path)
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: *timeout, Transport: &http.Transport{
		// The probe asks whether the server in this container answers, not
		// who it is: it dials a loopback address, where no one can stand in
		// for it, and the certificate may name only the public host.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // see above
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	res, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: GET %s answered %s", url, res.Status)
	}
	return nil
}

// probeURL is the loopback URL of path on LISTEN_ADDR: a host the address
// leaves out, or gives as "all interfaces", is reached on loopback.
func probeURL(cfg app.Config, path string) (string, error) {
	host, port, err := net.SplitHostPort(cfg.ListenAddr)
	if err != nil {
		return "", fmt.Errorf("LISTEN_ADDR %q is not host:port: %w", cfg.ListenAddr, err)
	}
	switch ip := net.ParseIP(host); {
	case host == "" || (ip != nil && ip.To4() != nil && ip.IsUnspecified()):
		host = "127.0.0.1"
	case ip != nil && ip.IsUnspecified():
		host = "::1"
	}
	scheme := "http"
	if cfg.TLSCertFile != "" {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port) + path, nil
}
