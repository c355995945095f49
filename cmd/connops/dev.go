package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/connops/connops/internal/app"
	"github.com/connops/connops/internal/auth"
	"github.com/connops/connops/internal/certs"
	"github.com/connops/connops/internal/connections"
	"github.com/connops/connops/internal/localpg"
)

const devTenant = "contoso"

const devSynopsis = `connops dev [--listen ADDR] [--tls-listen ADDR] [--secret S] [--tenant T]
                   [--provisioning-delay D|manual] [--data-dir DIR] [--tls-hosts H1,H2]

Starts connops for local development with no setup: uses DATABASE_URL if set,
otherwise a throwaway PostgreSQL (a container when a Docker engine is reachable,
else a private cluster from the PostgreSQL binaries on this machine), migrates
it, prints a token, a sign-in link to the console and a curl example, and
serves until Ctrl-C. The throwaway database is removed on exit.

Besides HTTP it serves HTTPS (--tls-listen) with a certificate from a
development CA kept in --data-dir, made on first start and reused after, so
a client told to trust its ca.pem once keeps trusting it.

When everything serves, the last line on stdout is one machine-readable line:

  connops dev ready http=URL https=URL ca=FILE tenant=T token=JWT control_token=JWT

Fields are key=value, separated by single spaces; https and ca are absent
when HTTPS is off; a value holding a space or a quote is double-quoted with
backslash escapes. token has ExternalConnection.ReadWrite.All and
ExternalItem.ReadWrite.All; control_token has Connops.Operations.Control and
ExternalConnection.Read.All, to finish schema registrations with
--provisioning-delay manual. Parse by key: keys may be added. When it cannot serve (a port taken, no PostgreSQL, a bad flag)
connops dev prints why on stderr and exits 1.`

// devFlags are connops dev's flags; the ones that stand for a variable win
// over it.
type devFlags struct {
	listen, tlsListen, secret, tenant, provisioningDelay, dataDir, tlsHosts string
}

func runDev(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	var f devFlags
	fs.StringVar(&f.listen, "listen", "", "HTTP listen address (sets LISTEN_ADDR; default :8080)")
	fs.StringVar(&f.tlsListen, "tls-listen", ":8443", "HTTPS listen address; empty turns HTTPS off")
	fs.StringVar(&f.secret, "secret", "", "HS256 secret of 32 bytes or more that signs and verifies tokens (sets AUTH_HS256_SECRET; default a random one per run)")
	fs.StringVar(&f.tenant, "tenant", devTenant, "tenant (tid) of the printed tokens")
	fs.StringVar(&f.provisioningDelay, "provisioning-delay", "", "how long a schema registration takes: a duration such as 0s, or manual (sets PROVISIONING_DELAY; default 5s)")
	fs.StringVar(&f.dataDir, "data-dir", "", "directory of the development CA and its server certificate (default: connops/dev-ca in the user cache directory)")
	fs.StringVar(&f.tlsHosts, "tls-hosts", "", "comma-separated extra DNS names or IPs the HTTPS certificate covers, beside localhost, 127.0.0.1 and ::1")
	if err := parseFlags(fs, args, devSynopsis, stdout, stderr); err != nil {
		return helpIsSuccess(err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("dev takes no arguments, got %q (see connops dev --help)", fs.Args())
	}
	cfg, err := devConfig(getenv, f)
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg.LogLevel)
	tokens, err := devTokens(ctx, cfg.HS256Secret, f.tenant)
	if err != nil {
		return err
	}

	// Certificates and ports first: they fail in milliseconds, a database
	// start takes seconds and would only be thrown away.
	var tlsConfig *tls.Config
	var caFile string
	if f.tlsListen != "" {
		if tlsConfig, caFile, err = devTLS(f.dataDir, app.SplitList(f.tlsHosts), log); err != nil {
			return err
		}
	}
	lns, err := devListeners(cfg.ListenAddr, f.tlsListen, tlsConfig)
	if err != nil {
		return err
	}
	// serveHTTP closes them when it serves; this covers every way out
	// before that (closing twice is harmless).
	defer func() {
		for _, ln := range lns {
			_ = ln.Close()
		}
	}()

	if cfg.DatabaseURL == "" {
		log.InfoContext(ctx, "starting a throwaway PostgreSQL")
		dsn, cleanup, err := localpg.Provision(ctx, localpg.Options{Log: log})
		if err != nil {
			return fmt.Errorf("start a development database (or set DATABASE_URL): %w", err)
		}
		defer func() {
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			if err := cleanup(stopCtx); err != nil {
				log.WarnContext(stopCtx, "removing the development database", slog.String("error", err.Error()))
			}
		}()
		cfg.DatabaseURL = dsn
	}
	bound := func() ([]listener, error) { return lns, nil }
	return serveApp(ctx, cfg, log, bound, func(lns []listener) {
		r := devReady{http: lns[0].URL(), tenant: f.tenant, tokens: tokens, caFile: caFile}
		if len(lns) > 1 {
			r.https = lns[1].URL()
		}
		printDevBanner(stdout, r)
		fmt.Fprintln(stdout, r.line())
	})
}

// devConfig loads the configuration with the flags standing in for their
// variables, so one set of checks applies to both; an error about a
// variable a flag set names the flag too.
func devConfig(getenv func(string) string, f devFlags) (app.Config, error) {
	byFlag := map[string]string{}
	for name, value := range map[string]string{"LISTEN_ADDR": f.listen, "AUTH_HS256_SECRET": f.secret, "PROVISIONING_DELAY": f.provisioningDelay} {
		if value != "" {
			byFlag[name] = value
		}
	}
	flagOf := map[string]string{"LISTEN_ADDR": "--listen", "AUTH_HS256_SECRET": "--secret", "PROVISIONING_DELAY": "--provisioning-delay"}
	// What dev changes from serve's defaults, unless the variable is set: a
	// local stand-in for Graph should not throttle the ingestion runs
	// developers try against it (set RATE_LIMIT_RPS to test a connector's
	// handling of 429), and a developer's webhook receiver runs on their
	// machine.
	devDefaults := map[string]string{"RATE_LIMIT_RPS": "0", "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true"}
	cfg, err := app.LoadConfig(func(k string) string {
		if v, ok := byFlag[k]; ok {
			return v
		}
		if v, ok := devDefaults[k]; ok && getenv(k) == "" {
			return v
		}
		return getenv(k)
	}, app.Need{})
	if err != nil {
		for name := range byFlag {
			if strings.HasPrefix(err.Error(), name) {
				return cfg, fmt.Errorf("%s: %w", flagOf[name], err)
			}
		}
		return cfg, err
	}
	if cfg.TLSCertFile != "" {
		return cfg, errors.New("TLS_CERT_FILE and TLS_KEY_FILE are for connops serve: connops dev serves HTTPS with its own development certificate (--tls-listen, --data-dir)")
	}
	if f.tenant == "" {
		return cfg, errors.New("--tenant must not be empty")
	}
	if len(cfg.HS256Secret) == 0 {
		// A fresh secret each run: dev tokens die with the dev server.
		secret := make([]byte, 32)
		_, _ = rand.Read(secret)
		cfg.HS256Secret = []byte(hex.EncodeToString(secret))
	}
	return cfg, nil
}

// devTokenSet is what connops dev prints: a read-write token and one that
// may finish the operations connops starts.
type devTokenSet struct{ readWrite, control string }

// devTokens signs both tokens and checks them with the verifier serve uses,
// so a tenant the API would refuse is a flag error now, not a 401 later.
func devTokens(ctx context.Context, secret []byte, tenant string) (devTokenSet, error) {
	now := time.Now()
	var set devTokenSet
	var err error
	set.readWrite, err = auth.Issue(secret, auth.DevToken{
		TenantID: tenant, AppID: "connops-dev", Roles: []string{connections.PermReadWriteAll, connections.PermItemReadWriteAll}, TTL: 24 * time.Hour,
	}, now)
	if err != nil {
		return set, err
	}
	set.control, err = auth.Issue(secret, auth.DevToken{
		TenantID: tenant, AppID: "connops-dev-control",
		Roles: []string{connections.PermOperationsControl, connections.PermReadAll}, TTL: 24 * time.Hour,
	}, now)
	if err != nil {
		return set, err
	}
	if _, err := auth.NewHS256(secret).Verify(ctx, set.readWrite); err != nil {
		return set, fmt.Errorf("--tenant %q: connops would refuse its own token: %w", tenant, err)
	}
	return set, nil
}

// devTLS loads or creates the development CA in dataDir, makes sure a
// server certificate for the loopback names and hosts is beside it, and
// serves that pair through a Reloader. It returns the CA's file.
func devTLS(dataDir string, hosts []string, log *slog.Logger) (*tls.Config, string, error) {
	dir, err := devDataDir(dataDir)
	if err != nil {
		return nil, "", err
	}
	ca, err := certs.LoadOrCreateCA(dir)
	if err != nil {
		return nil, "", fmt.Errorf("--data-dir %s: %w", dir, err)
	}
	certFile, keyFile, err := ca.IssueServer(dir, hosts)
	if err != nil {
		return nil, "", fmt.Errorf("issue the development server certificate: %w", err)
	}
	reloader, err := certs.NewReloader(certFile, keyFile, log)
	if err != nil {
		return nil, "", err
	}
	return reloader.TLSConfig(), ca.CertPath(), nil
}

// devDataDir is dir, or connops/dev-ca under the user's cache directory:
// kept across runs (the CA must stay the one developers trusted) but
// nothing anyone backs up.
func devDataDir(dir string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no user cache directory for the development CA (%v): pass --data-dir", err)
	}
	return filepath.Join(cache, "connops", "dev-ca"), nil
}

// devListeners binds the HTTP address and, unless tlsAddr is empty, the
// HTTPS one, HTTP first.
func devListeners(httpAddr, tlsAddr string, tlsConfig *tls.Config) ([]listener, error) {
	plain, err := listen("--listen (LISTEN_ADDR)", httpAddr, nil)
	if err != nil {
		return nil, err
	}
	if tlsAddr == "" {
		return []listener{plain}, nil
	}
	secure, err := listen("--tls-listen", tlsAddr, tlsConfig)
	if err != nil {
		_ = plain.Close()
		return nil, err
	}
	return []listener{plain, secure}, nil
}

// devReady is what connops dev tells people and scripts once it serves.
type devReady struct {
	http, https, caFile, tenant string
	tokens                      devTokenSet
}

// line is the machine-readable ready line; its format is in devSynopsis
// and the README.
func (r devReady) line() string {
	fields := []string{"connops dev ready", "http=" + readyValue(r.http)}
	if r.https != "" {
		fields = append(fields, "https="+readyValue(r.https), "ca="+readyValue(r.caFile))
	}
	fields = append(fields, "tenant="+readyValue(r.tenant), "token="+r.tokens.readWrite, "control_token="+r.tokens.control)
	return strings.Join(fields, " ")
}

// readyValue quotes a value only when a space or quote in it would break
// the line apart; URLs and tokens never need it, paths rarely do.
func readyValue(v string) string {
	if strings.ContainsAny(v, " \t\"\\") || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Sprintf("%q", v)
	}
	return v
}

func printDevBanner(w io.Writer, r devReady) {
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(r.http, "http://"))
	base := "http://localhost:" + port
	fmt.Fprintf(w, `
connops dev is serving at %[1]s (Ctrl-C stops it and removes the throwaway database)

Dev token (tenant %[3]q, ExternalConnection.ReadWrite.All and ExternalItem.ReadWrite.All, valid 24h):

export TOKEN=%[2]s

Console, signed in with that token (it stays in the browser: the part after # is never sent):

%[1]s/console/#token=%[2]s

Try it:

curl -s -X POST %[1]s/beta/connections -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/json' -d '{"id":"contosohr","name":"Contoso HR"}'

curl -si -X POST %[1]s/beta/connections/contosohr/operations -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/json' \
  -d '{"@odata.type":"#microsoft.graph.connectionOperation","status":"inprogress","error":{"@odata.type":"microsoft.graph.errorDetail"}}'

`, base, r.tokens.readWrite, r.tenant)
	if r.https == "" {
		return
	}
	fmt.Fprintf(w, `HTTPS is at %[1]s, with a certificate from the development CA
%[2]s (made once, kept across restarts). Trust it in the process that calls connops:

  curl         curl --cacert %[2]s %[1]s/healthz
  Node         NODE_EXTRA_CA_CERTS=%[2]s node ...   (read once at start)
  Go, Python   SSL_CERT_FILE=%[2]s   (Go on Linux; Python's ssl and httpx; requests needs REQUESTS_CA_BUNDLE)
  .NET         SSL_CERT_FILE=%[2]s on Linux; on Windows import it into Cert:\CurrentUser\Root

SSL_CERT_FILE replaces the system's CA list for that process: set it only where
the process talks to connops alone.

`, r.https, r.caFile)
}
