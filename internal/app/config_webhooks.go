package app

import (
	"fmt"
	"strconv"
	"time"

	"github.com/connops/connops/internal/webhooks"
)

// WebhookConfig is the configuration of subscription deliveries.
type WebhookConfig struct {
	// WebhookWorkers bounds the notification POSTs in flight per replica.
	WebhookWorkers int
	// WebhookRetryWindow is how long after its commit a change is retried
	// before it is dropped and a missed lifecycle event sent.
	WebhookRetryWindow time.Duration
	// WebhookRetryMaxDelay caps the back-off between attempts.
	WebhookRetryMaxDelay time.Duration
	// WebhookLease is how long a delivery worker's claim on a subscription
	// holds; a replica killed mid-delivery delays its subscriptions by at
	// most this much.
	WebhookLease time.Duration
	// WebhookAllowPrivateNetworks lets deliveries reach loopback and
	// private addresses (and use plain http there): connops dev, tests.
	WebhookAllowPrivateNetworks bool
	// WebhookCAFile is a PEM file of CAs deliveries trust besides the
	// system's.
	WebhookCAFile string
}

const minWebhookLease = 5 * time.Second

// readWebhookConfig reads WEBHOOK_WORKERS, WEBHOOK_RETRY_WINDOW,
// WEBHOOK_RETRY_MAX_DELAY, WEBHOOK_LEASE, WEBHOOK_ALLOW_PRIVATE_NETWORKS and WEBHOOK_CA_FILE. The
// retry window must end before retention removes what it retries.
func readWebhookConfig(getenv func(string) string, changeRetention time.Duration, cfg *WebhookConfig) error {
	cfg.WebhookWorkers, cfg.WebhookRetryWindow, cfg.WebhookRetryMaxDelay, cfg.WebhookLease =
		webhooks.DefaultWorkers, webhooks.DefaultRetryWindow, webhooks.DefaultMaxDelay, webhooks.DefaultLease
	if v := getenv("WEBHOOK_WORKERS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1024 {
			return fmt.Errorf("WEBHOOK_WORKERS must be an integer from 1 to 1024, not %q", v)
		}
		cfg.WebhookWorkers = n
	}
	for _, d := range []struct {
		name string
		dst  *time.Duration
	}{{"WEBHOOK_RETRY_WINDOW", &cfg.WebhookRetryWindow}, {"WEBHOOK_RETRY_MAX_DELAY", &cfg.WebhookRetryMaxDelay},
		{"WEBHOOK_LEASE", &cfg.WebhookLease}} {
		v := getenv(d.name)
		if v == "" {
			continue
		}
		parsed, err := time.ParseDuration(v)
		if err != nil || parsed < time.Second {
			return fmt.Errorf("%s must be a duration of 1s or more, such as 4h, not %q", d.name, v)
		}
		*d.dst = parsed
	}
	if cfg.WebhookRetryWindow >= changeRetention {
		return fmt.Errorf("WEBHOOK_RETRY_WINDOW (%s) must be shorter than CHANGE_RETENTION (%s): retries read the change log",
			cfg.WebhookRetryWindow, changeRetention)
	}
	if cfg.WebhookLease < minWebhookLease {
		// A claim must outlast one 3 s POST and what records it, or a
		// second worker takes the subscription over mid-delivery.
		return fmt.Errorf("WEBHOOK_LEASE must be %s or more, not %q", minWebhookLease, getenv("WEBHOOK_LEASE"))
	}
	if v := getenv("WEBHOOK_ALLOW_PRIVATE_NETWORKS"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("WEBHOOK_ALLOW_PRIVATE_NETWORKS must be true or false, not %q", v)
		}
		cfg.WebhookAllowPrivateNetworks = b
	}
	cfg.WebhookCAFile = getenv("WEBHOOK_CA_FILE")
	return nil
}
