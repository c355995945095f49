package validate

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// isKnownEnv reports whether connops reads the variable name. Keep it in step
// with LoadConfig in internal/app/config.go; TestEnvReadByBinary catches a
// variable the manifests set but the binary no longer reads.
func isKnownEnv(name string) bool {
	switch name {
	case "DATABASE_URL", "LISTEN_ADDR", "AUTH_HS256_SECRET", "PUBLIC_BASE_URL",
		"LOG_LEVEL", "SHUTDOWN_TIMEOUT",
		"AUTH_JWKS_URL", "AUTH_ISSUER", "AUTH_AUDIENCE", "OPERATION_RETENTION",
		"ADMIN_ADDR", "OTEL_EXPORTER_OTLP_ENDPOINT", "TRUSTED_PROXIES", "RATE_LIMIT_RPS",
		"RATE_LIMIT_BURST", "MAX_CONNECTIONS_PER_TENANT", "MAX_OPERATIONS_PER_CONNECTION", "REQUEST_TIMEOUT", "IDEMPOTENCY_TTL",
		"SHUTDOWN_DRAIN_DELAY", "MIGRATION_LOCK", "TLS_CERT_FILE", "TLS_KEY_FILE":
		return true
	}
	return false
}

// isSecretEnv reports whether the variable holds a credential, which must come
// from a Secret and never from a ConfigMap or a literal value.
func isSecretEnv(name string) bool {
	return name == "DATABASE_URL" || name == "AUTH_HS256_SECRET"
}

// envLiteral matches a quoted upper-case name such as "DATABASE_URL".
var envLiteral = regexp.MustCompile(`"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)"`)

// TestEnvReadByBinary checks every variable the deployment files set against
// the binary's source: connops names each variable it reads as a string
// literal in cmd/connops or in internal/app, which reads the configuration.
func TestEnvReadByBinary(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../../cmd/connops/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("find cmd/connops sources: %v", err)
	}
	appFiles, err := filepath.Glob("../../internal/app/*.go")
	if err != nil || len(appFiles) == 0 {
		t.Fatalf("find internal/app sources: %v", err)
	}
	files = append(files, appFiles...)
	inSource := make(map[string]bool)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range envLiteral.FindAllStringSubmatch(string(src), -1) {
			inSource[m[1]] = true
		}
	}

	set := make(map[string]string) // variable -> where it is set
	for _, dir := range []string{"../base", "../overlays/example"} {
		s := render(t, dir)
		for _, cm := range s.ConfigMaps {
			for key := range cm.Data {
				set[key] = dir
			}
		}
		for _, d := range s.Deployments {
			for _, c := range d.Spec.Template.Spec.Containers {
				for _, e := range c.Env {
					set[e.Name] = dir
				}
			}
		}
	}
	for svcName, svc := range readCompose(t).Services {
		if svcName == "postgres" {
			continue
		}
		for name := range svc.Environment {
			set[name] = "docker-compose.yml"
		}
	}
	for name, where := range set {
		if !inSource[name] {
			t.Errorf("%s sets %s, which cmd/connops does not read", where, name)
		}
	}
}
