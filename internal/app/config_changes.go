package app

import (
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// ChangeConfig is the configuration of the change log and what reads it:
// waits, streams and (webhooks) deliveries.
type ChangeConfig struct {
	// ChangeRetention is how long the change log keeps a change.
	ChangeRetention time.Duration
	// WaitMax caps the wait a Prefer: wait=N asks for.
	WaitMax time.Duration
	// StreamHeartbeat is how often an idle event stream sends a comment.
	StreamHeartbeat time.Duration
	// ListenDatabaseURL is where the change hub LISTENs: a direct
	// connection when DATABASE_URL goes through PgBouncer in transaction
	// mode, which cannot LISTEN. Empty: DATABASE_URL.
	ListenDatabaseURL string
}

// readChangeConfig reads CHANGE_RETENTION, WAIT_MAX, STREAM_HEARTBEAT and
// LISTEN_DATABASE_URL.
func readChangeConfig(getenv func(string) string, cfg *ChangeConfig) error {
	cfg.ChangeRetention, cfg.WaitMax, cfg.StreamHeartbeat = 168*time.Hour, 60*time.Second, 15*time.Second
	for _, d := range []struct {
		name string
		dst  *time.Duration
		max  time.Duration
	}{
		{"CHANGE_RETENTION", &cfg.ChangeRetention, 0},
		// Beyond 10 minutes a held request outlives what proxies allow.
		{"WAIT_MAX", &cfg.WaitMax, 10 * time.Minute},
		{"STREAM_HEARTBEAT", &cfg.StreamHeartbeat, 5 * time.Minute},
	} {
		v := getenv(d.name)
		if v == "" {
			continue
		}
		parsed, err := time.ParseDuration(v)
		if err != nil || parsed <= 0 || (d.max > 0 && parsed > d.max) {
			if d.max > 0 {
				return fmt.Errorf("%s must be a positive duration of at most %s, not %q", d.name, d.max, v)
			}
			return fmt.Errorf("%s must be a positive duration such as 168h, not %q", d.name, v)
		}
		*d.dst = parsed
	}
	cfg.ListenDatabaseURL = getenv("LISTEN_DATABASE_URL")
	if cfg.ListenDatabaseURL != "" {
		if _, err := pgxpool.ParseConfig(cfg.ListenDatabaseURL); err != nil {
			return fmt.Errorf("LISTEN_DATABASE_URL is not a valid PostgreSQL URL or DSN")
		}
	}
	return nil
}
