package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
)

// errUsage means the usage text was already printed; main only sets the exit code.
var errUsage = errors.New("usage")

const usage = `connops serves Microsoft Graph's connectionOperation API on PostgreSQL.

Usage:
  connops serve              run migrations, then serve HTTP (HTTPS with TLS_CERT_FILE, TLS_KEY_FILE)
  connops migrate up|status  apply or list the embedded migrations
  connops token --tenant T [--app A] [--roles R1,R2] [--ttl 1h]
                             print a development token signed with AUTH_HS256_SECRET
  connops dev [flags]        start a throwaway database and serve HTTP and HTTPS with a dev token;
                             flags make it a test fixture (see connops dev --help)
  connops dev-cert [--data-dir DIR] [--hosts H1,H2]
                             make the development CA and a server certificate signed by it
  connops healthcheck [--path /readyz]
                             GET /readyz on LISTEN_ADDR; exit 0 when it answers 200 (for
                             container healthchecks: the image has no shell or curl)

Run 'connops <command> --help' for a command's options.

Environment (docs/operations.md lists every variable):
  DATABASE_URL        PostgreSQL URL (required by serve and migrate; optional for dev)
  LISTEN_ADDR         address to listen on (default :8080)
  AUTH_HS256_SECRET   shared secret whose HS256 tokens are accepted (at least 32 bytes)
  PUBLIC_BASE_URL     base of absolute links, e.g. https://connops.example.com (default: from the request)
  TLS_CERT_FILE, TLS_KEY_FILE
                      PEM certificate and key: serve HTTPS on LISTEN_ADDR, reloading them when they change
  TRUSTED_PROXIES     proxies whose X-Forwarded-For, -Proto and -Host are believed
  LOG_LEVEL           debug, info, warn or error (default info)
  SHUTDOWN_TIMEOUT    how long in-flight requests may take to finish on SIGTERM (default 20s)
`

// run dispatches to a subcommand. It is main without the process: tests call
// it with their own arguments, environment and writers.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return runServe(ctx, rest, getenv, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, rest, getenv, stdout, stderr)
	case "token":
		return runToken(rest, getenv, stdout, stderr)
	case "dev":
		return runDev(ctx, rest, getenv, stdout, stderr)
	case "dev-cert":
		return runDevCert(rest, stdout, stderr)
	case "healthcheck":
		return runHealthcheck(ctx, rest, getenv, stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "connops: unknown command %q\n\n%s", cmd, usage)
	return errUsage
}

// parseFlags parses a subcommand's flags; --help prints its usage and ends the
// command successfully (reported as errHelp).
func parseFlags(fs *flag.FlagSet, args []string, synopsis string, stdout, stderr io.Writer) error {
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s\n", synopsis)
		if hasFlags(fs) {
			fmt.Fprintln(fs.Output(), "\nOptions:")
			fs.PrintDefaults()
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return errHelp
		}
		return errUsage
	}
	return nil
}

// errHelp ends a command after printing its help; run turns it into success.
var errHelp = errors.New("help shown")

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}
