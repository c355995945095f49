package validate

import (
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// composeFile is the part of docker-compose.yml these checks read. YAML
// anchors and merge keys are resolved by the decoder, as compose does.
type composeFile struct {
	Services map[string]composeService `json:"services"`
	Volumes  map[string]any            `json:"volumes"`
}

type composeService struct {
	Image       string            `json:"image"`
	Build       any               `json:"build"`
	Environment map[string]string `json:"environment"`
	DependsOn   map[string]struct {
		Condition string `json:"condition"`
	} `json:"depends_on"`
	Healthcheck *struct {
		Test []string `json:"test"`
	} `json:"healthcheck"`
	Ports   []string `json:"ports"`
	Volumes []string `json:"volumes"`
}

// pinnedPostgres matches an exact release such as postgres:15.14-alpine.
var pinnedPostgres = regexp.MustCompile(`^postgres:\d+\.\d+(-[a-z0-9.]+)?$`)

func TestCompose(t *testing.T) {
	t.Parallel()
	f := readCompose(t)

	pg, ok := f.Services["postgres"]
	if !ok {
		t.Fatal("no postgres service")
	}
	if !pinnedPostgres.MatchString(pg.Image) {
		t.Errorf("postgres image %q is not pinned to a minor release like postgres:15.14-alpine", pg.Image)
	}
	if pg.Healthcheck == nil || !strings.Contains(strings.Join(pg.Healthcheck.Test, " "), "pg_isready") {
		t.Error("postgres needs a pg_isready healthcheck")
	}
	for _, v := range pg.Volumes {
		source, target, _ := strings.Cut(v, ":")
		if strings.HasPrefix(target, "/docker-entrypoint-initdb.d") {
			t.Errorf("volume %q: the schema must come from connops' migrations, not initdb", v)
		}
		if target == "/var/lib/postgresql/data" {
			if _, ok := f.Volumes[source]; !ok {
				t.Errorf("postgres data volume %q is not a named volume", source)
			}
		}
	}

	hostPorts := map[string]string{"connops-1": "8080", "connops-2": "8081"}
	for name, hostPort := range hostPorts {
		t.Run(name, func(t *testing.T) {
			svc, ok := f.Services[name]
			if !ok {
				t.Fatalf("no %s service", name)
			}
			checkComposeApp(t, svc, hostPort)
		})
	}
}

func readCompose(t *testing.T) composeFile {
	t.Helper()
	raw, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var f composeFile
	if err := yaml.Unmarshal(raw, &f); err != nil {
		t.Fatalf("decode docker-compose.yml: %v", err)
	}
	return f
}

func checkComposeApp(t *testing.T, svc composeService, hostPort string) {
	if svc.Build == nil {
		t.Error("not built from the Dockerfile")
	}
	if svc.DependsOn["postgres"].Condition != "service_healthy" {
		t.Error("must depend on postgres with condition service_healthy")
	}
	u, err := url.Parse(svc.Environment["DATABASE_URL"])
	if err != nil || u.Scheme != "postgres" || u.Hostname() != "postgres" {
		t.Errorf("DATABASE_URL %q must point at the postgres service", svc.Environment["DATABASE_URL"])
	}
	for name := range svc.Environment {
		if !isKnownEnv(name) {
			t.Errorf("environment %s is not a variable connops reads", name)
		}
	}
	secret := svc.Environment["AUTH_HS256_SECRET"]
	fallback, ok := strings.CutPrefix(secret, "${AUTH_HS256_SECRET:-")
	if !ok || !strings.HasSuffix(fallback, "}") {
		t.Errorf("AUTH_HS256_SECRET %q should be ${AUTH_HS256_SECRET:-dev default}", secret)
	} else if fallback = strings.TrimSuffix(fallback, "}"); len(fallback) < 32 || !strings.Contains(fallback, "dev") {
		t.Errorf("AUTH_HS256_SECRET default %q must be 32+ bytes and say it is for dev", fallback)
	}
	if !slices.Contains(svc.Ports, hostPort+":8080") {
		t.Errorf("ports %v should publish %s:8080", svc.Ports, hostPort)
	}
}
