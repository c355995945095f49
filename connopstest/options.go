package connopstest

import (
	"log/slog"
	"time"
)

// Option configures a Server.
type Option func(*options)

type options struct {
	env map[string]string
	log *slog.Logger
}

// WithProvisioningDelay sets how long a schema registration takes before
// connops completes its operation (PROVISIONING_DELAY; 5s by default). 0
// completes it at once, within a poll.
func WithProvisioningDelay(d time.Duration) Option {
	return WithEnv("PROVISIONING_DELAY", d.String())
}

// WithManualProvisioning leaves every schema registration in progress until
// the test finishes it with CompleteOperation or FailOperation
// (PROVISIONING_DELAY=manual).
func WithManualProvisioning() Option {
	return WithEnv("PROVISIONING_DELAY", "manual")
}

// WithEnv sets one of the variables of docs/operations.md, such as
// MAX_CONNECTIONS_PER_TENANT or RATE_LIMIT_RPS (0 by default here), as if
// it were in the server's environment. DATABASE_URL and AUTH_HS256_SECRET
// are the Server's own and cannot be set. A bad value makes Start fail.
func WithEnv(name, value string) Option {
	return func(o *options) { o.env[name] = value }
}

// WithLogger sends the server's log (JSON or text, every request and
// background job) to log; it is discarded by default.
func WithLogger(log *slog.Logger) Option {
	return func(o *options) { o.log = log }
}
