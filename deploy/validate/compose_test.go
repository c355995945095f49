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
	Command     []string          `json:"command"`
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

	// Each replica and the port mapping it publishes.
	published := map[string]string{"connops-1": "8080:8080", "connops-2": "8081:8080", "connops-tls": "8443:8443"}
	for name, port := range published {
		t.Run(name, func(t *testing.T) {
			svc, ok := f.Services[name]
			if !ok {
				t.Fatalf("no %s service", name)
			}
			checkComposeApp(t, svc, port)
		})
	}
	t.Run("connops-tls", func(t *testing.T) { checkComposeTLS(t, f) })
}

// checkComposeTLS: the HTTPS replica serves the pair the dev-cert one-shot
// made with connops itself, from the shared volume, and starts only after
// it succeeded.
func checkComposeTLS(t *testing.T, f composeFile) {
	certSvc, ok := f.Services["dev-cert"]
	if !ok {
		t.Fatal("no dev-cert service")
	}
	if len(certSvc.Command) == 0 || certSvc.Command[0] != "dev-cert" || certSvc.Image != f.Services["connops-1"].Image {
		t.Errorf("dev-cert should run `connops dev-cert` from the connops image, runs %v in %q", certSvc.Command, certSvc.Image)
	}
	dataDir := ""
	for i, arg := range certSvc.Command {
		if arg == "--data-dir" && i+1 < len(certSvc.Command) {
			dataDir = certSvc.Command[i+1]
		}
	}
	certVolume := volumeAt(t, f, certSvc, dataDir)
	tlsSvc := f.Services["connops-tls"]
	if tlsSvc.DependsOn["dev-cert"].Condition != "service_completed_successfully" {
		t.Error("connops-tls must wait for dev-cert with condition service_completed_successfully")
	}
	for name, file := range map[string]string{"TLS_CERT_FILE": "/server.pem", "TLS_KEY_FILE": "/server-key.pem"} {
		if got := tlsSvc.Environment[name]; got != dataDir+file {
			t.Errorf("%s = %q, want %s%s, the file dev-cert writes", name, got, dataDir, file)
		}
	}
	if got := tlsSvc.Environment["LISTEN_ADDR"]; got != ":8443" {
		t.Errorf("LISTEN_ADDR = %q, want :8443", got)
	}
	if v := volumeAt(t, f, tlsSvc, dataDir); v != certVolume || !strings.HasSuffix(mountOf(tlsSvc, v), ":ro") {
		t.Errorf("connops-tls should mount %s read-only over %s, mounts %v", certVolume, dataDir, tlsSvc.Volumes)
	}
}

// volumeAt is the named volume svc mounts at dir or above it.
func volumeAt(t *testing.T, f composeFile, svc composeService, dir string) string {
	t.Helper()
	for _, v := range svc.Volumes {
		source, target, _ := strings.Cut(v, ":")
		target, _, _ = strings.Cut(target, ":")
		if dir == target || strings.HasPrefix(dir, target+"/") {
			if _, ok := f.Volumes[source]; !ok {
				t.Errorf("volume %q is not a named volume", source)
			}
			return source
		}
	}
	t.Errorf("no volume holds %q in %v", dir, svc.Volumes)
	return ""
}

func mountOf(svc composeService, volume string) string {
	for _, v := range svc.Volumes {
		if strings.HasPrefix(v, volume+":") {
			return v
		}
	}
	return ""
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

func checkComposeApp(t *testing.T, svc composeService, port string) {
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
	if !slices.Contains(svc.Ports, port) {
		t.Errorf("ports %v should publish %s", svc.Ports, port)
	}
	// Other services wait on it with condition: service_healthy; the image
	// has no shell, so the check is connops's own subcommand.
	if svc.Healthcheck == nil || !slices.Equal(svc.Healthcheck.Test, []string{"CMD", "/connops", "healthcheck"}) {
		t.Errorf("healthcheck should be [CMD /connops healthcheck], is %+v", svc.Healthcheck)
	}
}
