package main

import (
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// config is everything connops reads from its environment, read once here.
type config struct {
	DatabaseURL     string
	ListenAddr      string
	HS256Secret     []byte
	PublicBaseURL   string
	LogLevel        slog.Level
	ShutdownTimeout time.Duration
}

// minSecretLen keeps HS256 secrets out of brute-force range.
const minSecretLen = 32

// loadConfig reads and checks the environment. needDatabase is false only for
// `connops dev`, which can start its own database. Errors name the variable.
func loadConfig(getenv func(string) string, needDatabase, needSecret bool) (config, error) {
	cfg := config{
		DatabaseURL:     getenv("DATABASE_URL"),
		ListenAddr:      getenv("LISTEN_ADDR"),
		HS256Secret:     []byte(getenv("AUTH_HS256_SECRET")),
		PublicBaseURL:   strings.TrimRight(getenv("PUBLIC_BASE_URL"), "/"),
		ShutdownTimeout: 20 * time.Second,
	}
	if cfg.ListenAddr == "" {
		cfg.ListenAddr = ":8080"
	}
	if cfg.DatabaseURL == "" && needDatabase {
		return cfg, fmt.Errorf("DATABASE_URL is required, e.g. postgres://user:password@host:5432/dbname")
	}
	if cfg.DatabaseURL != "" {
		if _, err := pgx.ParseConfig(cfg.DatabaseURL); err != nil {
			// pgx's parse errors can quote the URL, password included.
			return cfg, fmt.Errorf("DATABASE_URL is not a valid PostgreSQL URL or DSN")
		}
	}
	if len(cfg.HS256Secret) == 0 && needSecret {
		return cfg, fmt.Errorf("AUTH_HS256_SECRET is required: tokens signed with it are how callers authenticate")
	}
	if len(cfg.HS256Secret) > 0 && len(cfg.HS256Secret) < minSecretLen {
		return cfg, fmt.Errorf("AUTH_HS256_SECRET must be at least %d bytes", minSecretLen)
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
	if v := getenv("SHUTDOWN_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return cfg, fmt.Errorf("SHUTDOWN_TIMEOUT must be a positive duration such as 20s, not %q", v)
		}
		cfg.ShutdownTimeout = d
	}
	return cfg, nil
}
