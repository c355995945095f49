package app

import (
	"strings"
	"testing"
	"time"
)

func TestWebhookConfig(t *testing.T) {
	base := map[string]string{"DATABASE_URL": "postgres://u@localhost/db", "AUTH_HS256_SECRET": goodSecret}
	cfg, err := LoadConfig(envOf(base), Need{Database: true, Auth: true})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.WebhookWorkers != 8 || cfg.WebhookRetryWindow != 4*time.Hour || cfg.WebhookLease != 30*time.Second || cfg.WebhookAllowPrivateNetworks ||
		cfg.WebhookRetryMaxDelay != 5*time.Minute {
		t.Errorf("defaults: %+v", cfg.WebhookConfig)
	}
	for _, tt := range []struct{ key, value, want string }{
		{"WEBHOOK_WORKERS", "0", "WEBHOOK_WORKERS"},
		{"WEBHOOK_WORKERS", "many", "WEBHOOK_WORKERS"},
		{"WEBHOOK_RETRY_WINDOW", "soon", "WEBHOOK_RETRY_WINDOW"},
		{"WEBHOOK_RETRY_WINDOW", "200h", "CHANGE_RETENTION"},
		{"WEBHOOK_LEASE", "1s", "WEBHOOK_LEASE"},
		{"WEBHOOK_RETRY_MAX_DELAY", "0s", "WEBHOOK_RETRY_MAX_DELAY"},
		{"WEBHOOK_ALLOW_PRIVATE_NETWORKS", "maybe", "WEBHOOK_ALLOW_PRIVATE_NETWORKS"},
	} {
		env := map[string]string{tt.key: tt.value}
		for k, v := range base {
			env[k] = v
		}
		if _, err := LoadConfig(envOf(env), Need{Database: true, Auth: true}); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s=%s: %v, want an error naming %s", tt.key, tt.value, err, tt.want)
		}
	}
	env := map[string]string{"WEBHOOK_WORKERS": "3", "WEBHOOK_RETRY_WINDOW": "2s", "WEBHOOK_LEASE": "5s", "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",
		"WEBHOOK_CA_FILE": "/ca.pem", "WEBHOOK_RETRY_MAX_DELAY": "3s"}
	for k, v := range base {
		env[k] = v
	}
	cfg, err = LoadConfig(envOf(env), Need{Database: true, Auth: true})
	if err != nil {
		t.Fatal(err)
	}
	want := WebhookConfig{WebhookWorkers: 3, WebhookRetryWindow: 2 * time.Second, WebhookRetryMaxDelay: 3 * time.Second, WebhookLease: 5 * time.Second,
		WebhookAllowPrivateNetworks: true, WebhookCAFile: "/ca.pem"}
	if cfg.WebhookConfig != want {
		t.Errorf("read %+v, want %+v", cfg.WebhookConfig, want)
	}
}
