// Package app builds one connops: validated configuration in, a running
// server (pool, store, service, router, background jobs) and its shutdown
// out. cmd/connops, connopstest and every in-process test suite build
// their server here, and only here.
package app

import (
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Config is everything connops reads from its environment, read once here.
// docs/operations.md lists the same variables; a test keeps the two in step.
type Config struct {
	DatabaseURL   string
	ListenAddr    string
	PublicBaseURL string
	LogLevel      slog.Level

	HS256Secret  []byte
	JWKSURL      string
	Issuer       string
	Audience     string
	TrustedProxy []string

	RateLimit          float64 // requests per second per tenant and app; 0 turns limiting off
	RateBurst          int
	MaxConnections     int // per tenant
	MaxOperations      int // per connection
	RequestTimeout     time.Duration
	ShutdownTimeout    time.Duration
	DrainDelay         time.Duration
	OperationRetention time.Duration
	IdempotencyTTL     time.Duration
	AdminAddr          string
	OTLPEndpoint       string
	MigrationLock      string // "session" or "table", see postgres.MigrationLock

	// StatementTimeout bounds each API statement on the server; 0 leaves
	// the server's setting alone (as behind PgBouncer, see docs/scaling.md).
	StatementTimeout time.Duration
	// TenantConcurrency bounds one tenant's requests working on the database
	// at once; 0 means half the pool.
	TenantConcurrency int
	// PageTokenKeys seal $skiptoken values; empty means the key the
	// replicas share through the database.
	PageTokenKeys [][]byte

	// ProvisioningDelay is how long a schema registration takes before the
	// engine completes it; ManualProvisioning leaves every registration in
	// progress until a caller with the control role finishes it.
	ProvisioningDelay  time.Duration
	ManualProvisioning bool
	// EngineLease is how long an engine's claim on work holds; a replica
	// that dies holding work delays it by at most this much.
	EngineLease time.Duration
	// MaxItems is the item quota of one connection.
	MaxItems int

	// TLSCertFile and TLSKeyFile, both set or both empty, make serve answer
	// HTTPS on ListenAddr with the pair in these files, reloaded when they
	// change (see certs.Reloader).
	TLSCertFile, TLSKeyFile string

	ChangeConfig
	WebhookConfig
}

// minSecretLen keeps HS256 secrets out of brute-force range.
const minSecretLen = 32

// Need says which variables a command cannot do without.
type Need struct {
	Database bool
	// Auth: serve needs some way to verify tokens; Secret: token needs the
	// HS256 secret itself.
	Auth, Secret bool
}

// LoadConfig reads and checks the environment. Errors name the variable.
func LoadConfig(getenv func(string) string, n Need) (Config, error) {
	cfg := Config{
		DatabaseURL:        getenv("DATABASE_URL"),
		ListenAddr:         or(getenv("LISTEN_ADDR"), ":8080"),
		PublicBaseURL:      strings.TrimRight(getenv("PUBLIC_BASE_URL"), "/"),
		HS256Secret:        []byte(getenv("AUTH_HS256_SECRET")),
		JWKSURL:            getenv("AUTH_JWKS_URL"),
		Issuer:             getenv("AUTH_ISSUER"),
		Audience:           getenv("AUTH_AUDIENCE"),
		AdminAddr:          getenv("ADMIN_ADDR"),
		OTLPEndpoint:       getenv("OTEL_EXPORTER_OTLP_ENDPOINT"),
		MigrationLock:      or(getenv("MIGRATION_LOCK"), "session"),
		RateLimit:          50,
		RateBurst:          100,
		MaxConnections:     30,
		MaxOperations:      1_000_000,
		RequestTimeout:     10 * time.Second,
		ShutdownTimeout:    20 * time.Second,
		DrainDelay:         2 * time.Second,
		OperationRetention: 30 * 24 * time.Hour,
		IdempotencyTTL:     24 * time.Hour,
		StatementTimeout:   5 * time.Second,
		ProvisioningDelay:  5 * time.Second,
		EngineLease:        30 * time.Second,
		MaxItems:           5_000_000,
	}
	if cfg.DatabaseURL == "" && n.Database {
		return cfg, fmt.Errorf("DATABASE_URL is required, e.g. postgres://user:password@host:5432/dbname")
	}
	if cfg.DatabaseURL != "" {
		if _, err := pgxpool.ParseConfig(cfg.DatabaseURL); err != nil {
			// pgx's parse errors can quote the URL, password included.
			return cfg, fmt.Errorf("DATABASE_URL is not a valid PostgreSQL URL or DSN")
		}
	}
	if err := checkAuth(cfg, n); err != nil {
		return cfg, err
	}
	if cfg.MigrationLock != "session" && cfg.MigrationLock != "table" {
		return cfg, fmt.Errorf("MIGRATION_LOCK must be session or table (table behind PgBouncer in transaction mode), not %q", cfg.MigrationLock)
	}
	if cfg.PublicBaseURL != "" {
		u, err := url.Parse(cfg.PublicBaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
			return cfg, fmt.Errorf("PUBLIC_BASE_URL must be an absolute http(s) URL such as https://connops.example.com")
		}
	}
	if v := getenv("LOG_LEVEL"); v != "" {
		if err := cfg.LogLevel.UnmarshalText([]byte(v)); err != nil {
			return cfg, fmt.Errorf("LOG_LEVEL must be debug, info, warn or error, not %q", v)
		}
	}
	for _, p := range SplitList(getenv("TRUSTED_PROXIES")) {
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				return cfg, fmt.Errorf("TRUSTED_PROXIES must be a comma-separated list of IP addresses or CIDR ranges; %q is neither", p)
			}
		}
		cfg.TrustedProxy = append(cfg.TrustedProxy, p)
	}
	if err := parseProvisioningDelay(getenv("PROVISIONING_DELAY"), &cfg); err != nil {
		return cfg, err
	}
	if err := readTLSFiles(getenv, &cfg); err != nil {
		return cfg, err
	}
	if err := readChangeConfig(getenv, &cfg.ChangeConfig); err != nil {
		return cfg, err
	}
	if err := readWebhookConfig(getenv, cfg.ChangeRetention, &cfg.WebhookConfig); err != nil {
		return cfg, err
	}
	for _, k := range SplitList(getenv("PAGE_TOKEN_KEYS")) {
		if len(k) < 16 {
			return cfg, fmt.Errorf("PAGE_TOKEN_KEYS must be a comma-separated list of secrets of at least 16 bytes each")
		}
		cfg.PageTokenKeys = append(cfg.PageTokenKeys, []byte(k))
	}
	return cfg, parseNumbers(getenv, &cfg)
}

// SplitList splits a comma-separated value, dropping empty entries.
func SplitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if p := strings.TrimSpace(part); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func checkAuth(cfg Config, n Need) error {
	if len(cfg.HS256Secret) == 0 && n.Secret {
		return fmt.Errorf("AUTH_HS256_SECRET is required: development tokens are signed with it")
	}
	if n.Auth && len(cfg.HS256Secret) == 0 && cfg.JWKSURL == "" {
		return fmt.Errorf("AUTH_JWKS_URL or AUTH_HS256_SECRET is required: without one no token can be verified")
	}
	if len(cfg.HS256Secret) > 0 && len(cfg.HS256Secret) < minSecretLen {
		return fmt.Errorf("AUTH_HS256_SECRET must be at least %d bytes", minSecretLen)
	}
	if cfg.JWKSURL != "" {
		if u, err := url.Parse(cfg.JWKSURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("AUTH_JWKS_URL must be an absolute https URL")
		}
		// An issuer such as Entra ID signs every app's tokens with the same
		// keys: without an audience check, a token minted for another API
		// would be accepted here.
		if cfg.Audience == "" {
			return fmt.Errorf("AUTH_AUDIENCE is required with AUTH_JWKS_URL: it is what tells tokens for connops from tokens for other apps of the same issuer")
		}
	}
	return nil
}

func parseNumbers(getenv func(string) string, cfg *Config) error {
	durations := []struct {
		name string
		dst  *time.Duration
	}{
		{"REQUEST_TIMEOUT", &cfg.RequestTimeout},
		{"SHUTDOWN_TIMEOUT", &cfg.ShutdownTimeout},
		{"OPERATION_RETENTION", &cfg.OperationRetention},
		{"IDEMPOTENCY_TTL", &cfg.IdempotencyTTL},
		{"ENGINE_LEASE", &cfg.EngineLease},
	}
	for _, d := range []struct {
		name string
		dst  *time.Duration
	}{{"SHUTDOWN_DRAIN_DELAY", &cfg.DrainDelay}, {"DATABASE_STATEMENT_TIMEOUT", &cfg.StatementTimeout}} {
		if v := getenv(d.name); v != "" {
			parsed, err := time.ParseDuration(v)
			if err != nil || parsed < 0 {
				return fmt.Errorf("%s must be a duration of 0s or more, not %q", d.name, v)
			}
			*d.dst = parsed
		}
	}
	for _, d := range durations {
		if v := getenv(d.name); v != "" {
			parsed, err := time.ParseDuration(v)
			if err != nil || parsed <= 0 {
				return fmt.Errorf("%s must be a positive duration such as 20s or 720h, not %q", d.name, v)
			}
			*d.dst = parsed
		}
	}
	if v := getenv("RATE_LIMIT_RPS"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 {
			return fmt.Errorf("RATE_LIMIT_RPS must be a non-negative number (0 turns limiting off), not %q", v)
		}
		cfg.RateLimit = f
	}
	ints := []struct {
		name string
		dst  *int
	}{
		{"RATE_LIMIT_BURST", &cfg.RateBurst},
		{"MAX_CONNECTIONS_PER_TENANT", &cfg.MaxConnections},
		{"MAX_OPERATIONS_PER_CONNECTION", &cfg.MaxOperations},
		{"TENANT_DB_CONCURRENCY", &cfg.TenantConcurrency},
		{"ITEMS_PER_CONNECTION", &cfg.MaxItems},
	}
	for _, i := range ints {
		if v := getenv(i.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return fmt.Errorf("%s must be a positive integer, not %q", i.name, v)
			}
			*i.dst = n
		}
	}
	return nil
}

func or(v, fallback string) string {
	if v == "" {
		return fallback
	}
	return v
}

// parseProvisioningDelay reads PROVISIONING_DELAY: a duration of 0s or
// more, or "manual".
func parseProvisioningDelay(v string, cfg *Config) error {
	switch v {
	case "":
		return nil
	case "manual":
		cfg.ManualProvisioning = true
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return fmt.Errorf("PROVISIONING_DELAY must be a duration of 0s or more (0 completes at once) or manual, not %q", v)
	}
	cfg.ProvisioningDelay = d
	return nil
}

// readTLSFiles reads TLS_CERT_FILE and TLS_KEY_FILE. One without the other
// is a mistake (a half-done secret mount, a typo), and serving plain HTTP
// instead would hide it, so it is refused.
func readTLSFiles(getenv func(string) string, cfg *Config) error {
	cfg.TLSCertFile = getenv("TLS_CERT_FILE")
	cfg.TLSKeyFile = getenv("TLS_KEY_FILE")
	switch {
	case cfg.TLSCertFile != "" && cfg.TLSKeyFile == "":
		return fmt.Errorf("TLS_KEY_FILE is required with TLS_CERT_FILE: HTTPS needs the certificate's private key too")
	case cfg.TLSKeyFile != "" && cfg.TLSCertFile == "":
		return fmt.Errorf("TLS_CERT_FILE is required with TLS_KEY_FILE: HTTPS needs the certificate too")
	}
	return nil
}
