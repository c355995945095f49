package app

import (
	"strings"
	"testing"
	"time"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

const goodSecret = "0123456789abcdef0123456789abcdef"

func TestLoadConfigNamesTheBadVariable(t *testing.T) {
	base := map[string]string{"DATABASE_URL": "postgres://u@localhost/db", "AUTH_HS256_SECRET": goodSecret}
	tests := []struct {
		name, key, value, want string
	}{
		{"no database", "DATABASE_URL", "", "DATABASE_URL"},
		{"bad database", "DATABASE_URL", "postgres://u:secretpw@host:notaport/db", "DATABASE_URL"},
		{"no way to verify tokens", "AUTH_HS256_SECRET", "", "AUTH_JWKS_URL"},
		{"short secret", "AUTH_HS256_SECRET", "short", "AUTH_HS256_SECRET"},
		{"relative base", "PUBLIC_BASE_URL", "/api", "PUBLIC_BASE_URL"},
		{"ftp base", "PUBLIC_BASE_URL", "ftp://x", "PUBLIC_BASE_URL"},
		{"log level", "LOG_LEVEL", "loud", "LOG_LEVEL"},
		{"shutdown", "SHUTDOWN_TIMEOUT", "soon", "SHUTDOWN_TIMEOUT"},
		{"negative shutdown", "SHUTDOWN_TIMEOUT", "-5s", "SHUTDOWN_TIMEOUT"},
		{"bad jwks", "AUTH_JWKS_URL", "not a url", "AUTH_JWKS_URL"},
		{"jwks without audience", "AUTH_JWKS_URL", "https://login.example.com/keys", "AUTH_AUDIENCE"},
		{"bad proxies", "TRUSTED_PROXIES", "10.0.0.0/8,nonsense", "TRUSTED_PROXIES"},
		{"bad rate", "RATE_LIMIT_RPS", "fast", "RATE_LIMIT_RPS"},
		{"bad burst", "RATE_LIMIT_BURST", "0", "RATE_LIMIT_BURST"},
		{"bad cap", "MAX_CONNECTIONS_PER_TENANT", "-1", "MAX_CONNECTIONS_PER_TENANT"},
		{"bad operations cap", "MAX_OPERATIONS_PER_CONNECTION", "lots", "MAX_OPERATIONS_PER_CONNECTION"},
		{"bad retention", "OPERATION_RETENTION", "forever", "OPERATION_RETENTION"},
		{"bad idempotency ttl", "IDEMPOTENCY_TTL", "0s", "IDEMPOTENCY_TTL"},
		{"bad request timeout", "REQUEST_TIMEOUT", "x", "REQUEST_TIMEOUT"},
		{"certificate without key", "TLS_CERT_FILE", "/tls/tls.crt", "TLS_KEY_FILE"},
		{"key without certificate", "TLS_KEY_FILE", "/tls/tls.key", "TLS_CERT_FILE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			env[tt.key] = tt.value
			_, err := LoadConfig(envOf(env), Need{Database: true, Auth: true})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one naming %s", err, tt.want)
			}
			if strings.Contains(err.Error(), "secretpw") {
				t.Errorf("error leaks the password: %v", err)
			}
		})
	}
}

func TestLoadConfigDefaults(t *testing.T) {
	cfg, err := LoadConfig(envOf(map[string]string{"DATABASE_URL": "postgres://u@localhost/db", "AUTH_HS256_SECRET": goodSecret,
		"PUBLIC_BASE_URL": "https://connops.example.com/"}), Need{Database: true, Auth: true})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ListenAddr != ":8080" || cfg.ShutdownTimeout != 20*time.Second || cfg.PublicBaseURL != "https://connops.example.com" {
		t.Errorf("defaults: %+v", cfg)
	}
}
