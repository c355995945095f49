package validate

import (
	"os"
	"strings"
	"testing"
)

// TestDockerfile checks the Dockerfile's shape line by line; no Docker engine
// is needed. It is no substitute for `docker build`.
func TestDockerfile(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var froms, last []string // last holds the final stage's instructions
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(strings.ToUpper(line), "FROM ") {
			froms = append(froms, line)
			last = nil
		}
		last = append(last, line)
	}
	if len(froms) < 2 {
		t.Fatalf("want a multi-stage build, got %d FROM lines", len(froms))
	}
	for _, from := range froms {
		fields := strings.Fields(from)
		image := fields[1]
		if strings.HasPrefix(image, "--platform") {
			image = fields[2]
		}
		if tag := imageTag(image); tag == "" || tag == "latest" {
			t.Errorf("%q: pin the base image tag", from)
		}
	}
	if !strings.Contains(froms[len(froms)-1], "distroless/static-debian12:nonroot") {
		t.Errorf("final stage %q should be distroless static nonroot", froms[len(froms)-1])
	}
	final := strings.Join(last, "\n")
	for _, want := range []string{"USER 65532", "EXPOSE 8080", `ENTRYPOINT ["/connops"]`, `CMD ["serve"]`} {
		if !strings.Contains(final, want) {
			t.Errorf("final stage lacks %s", want)
		}
	}
	if !strings.Contains(string(raw), "CGO_ENABLED=0") {
		t.Error("the binary must be static (CGO_ENABLED=0) to run on distroless static")
	}

	ignore, err := os.ReadFile("../../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{".git", ".data", "*.test"} {
		if !strings.Contains(string(ignore), want) {
			t.Errorf(".dockerignore should exclude %s", want)
		}
	}
}
