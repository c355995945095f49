package app

import (
	"strings"
	"testing"
)

func TestLoadConfigMigrationLock(t *testing.T) {
	tests := []struct {
		name, value, want string
		bad               bool
	}{
		{name: "default", value: "", want: "session"},
		{name: "session", value: "session", want: "session"},
		{name: "table", value: "table", want: "table"},
		{name: "unknown", value: "advisory", bad: true},
		{name: "case matters", value: "Table", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"DATABASE_URL": "postgres://u@localhost/db", "AUTH_HS256_SECRET": goodSecret,
				"MIGRATION_LOCK": tt.value}
			cfg, err := LoadConfig(envOf(env), Need{Database: true, Auth: true})
			if tt.bad {
				if err == nil || !strings.Contains(err.Error(), "MIGRATION_LOCK") {
					t.Fatalf("error = %v, want one naming MIGRATION_LOCK", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.MigrationLock != tt.want {
				t.Errorf("MigrationLock = %q, want %q", cfg.MigrationLock, tt.want)
			}
		})
	}
}
