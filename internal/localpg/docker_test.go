package localpg_test

import (
	"context"
	"errors"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/connops/connops/internal/localpg"
)

func TestDockerAvailableAnswersQuickly(t *testing.T) {
	t.Parallel()
	start := time.Now()
	ok := localpg.DockerAvailable(t.Context())
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("DockerAvailable took %v, want under 2s", took)
	}
	t.Logf("DockerAvailable = %v", ok)
}

func TestProvisionGivesAConnectableServer(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dsn, cleanup, err := localpg.Provision(ctx, localpg.Options{})
	if errors.Is(err, localpg.ErrNoBinaries) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	if db := currentDatabase(t, dsn); db != "postgres" {
		t.Errorf("current_database() = %q, want postgres", db)
	}
	if err := cleanup(context.WithoutCancel(ctx)); err != nil {
		t.Errorf("cleanup: %v", err)
	}
	if conn, err := pgx.Connect(ctx, dsn); err == nil {
		conn.Close(ctx)
		t.Error("server still answers after cleanup")
	}
}

// The tests below put a fake docker command first on PATH, because this
// machine may have the docker client but no engine. They change PATH, so
// none of them runs in parallel.

func TestDockerAvailableAsksTheEngine(t *testing.T) {
	for _, tc := range []struct {
		engine string
		want   bool
	}{
		{engine: "up", want: true},
		{engine: "down", want: false},
		{engine: "hung", want: false},
		{engine: "no docker on PATH", want: false},
	} {
		t.Run(tc.engine, func(t *testing.T) {
			if tc.engine == "no docker on PATH" {
				t.Setenv("PATH", t.TempDir())
			} else {
				installFakeDocker(t, tc.engine, 0)
			}
			start := time.Now()
			if got := localpg.DockerAvailable(t.Context()); got != tc.want {
				t.Errorf("DockerAvailable = %v, want %v", got, tc.want)
			}
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("DockerAvailable took %v, want under 2s", took)
			}
		})
	}
}

func TestProvisionRunsAContainerWithTheDockerCLI(t *testing.T) {
	ctx := t.Context()
	// The "container" is a real cluster, so that the readiness wait and the
	// DSN are tried for real. It is down when Provision starts and comes up
	// later, as a container's server does after initdb.
	c := startCluster(t)
	if err := c.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	const delay = 300 * time.Millisecond
	restarted := make(chan error, 1)
	go func() {
		time.Sleep(delay)
		restarted <- c.Restart(ctx)
	}()
	fake := installFakeDocker(t, "up", c.Port())

	start := time.Now()
	dsn, cleanup, err := localpg.Provision(ctx, localpg.Options{})
	took := time.Since(start)
	if err := <-restarted; err != nil {
		t.Fatalf("Restart: %v", err)
	}
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	if took < delay {
		t.Errorf("Provision returned after %v, before the server was started at %v", took, delay)
	}

	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("parse DSN %q: %v", dsn, err)
	}
	password, _ := u.User.Password()
	if want := net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Port())); u.Host != want {
		t.Errorf("DSN host = %q, want %q", u.Host, want)
	}
	if got := fake.password(t); got == "" || got != password {
		t.Errorf("docker run saw POSTGRES_PASSWORD=%q, DSN has %q; want the same, non-empty", got, password)
	}
	if db := currentDatabase(t, dsn); db != "postgres" {
		t.Errorf("current_database() = %q, want postgres", db)
	}
	if err := cleanup(context.WithoutCancel(ctx)); err != nil {
		t.Errorf("cleanup: %v", err)
	}

	calls := fake.calls(t)
	name := containerName(t, calls)
	want := [][]string{
		{"version", "--format", "{{.Server.Version}}"},
		// Pinned image; published on loopback only; the password comes
		// from the environment, not argv.
		{"run", "-d", "--rm", "--name", name, "-e", "POSTGRES_PASSWORD", "-p", "127.0.0.1::5432", "postgres:15-alpine"},
		{"port", name, "5432/tcp"},
		{"rm", "-f", "-v", name},
	}
	if diff := cmp.Diff(want, calls); diff != "" {
		t.Errorf("docker calls (-want +got):\n%s", diff)
	}
	for _, call := range calls {
		if strings.Contains(strings.Join(call, " "), password) {
			t.Errorf("docker %v has the password on its command line", call)
		}
	}
}

func TestProvisionFallsBackToAClusterWhenNoEngineAnswers(t *testing.T) {
	ctx := t.Context()
	fake := installFakeDocker(t, "down", 0)
	dsn, cleanup, err := localpg.Provision(ctx, localpg.Options{})
	if errors.Is(err, localpg.ErrNoBinaries) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	t.Cleanup(func() { _ = cleanup(context.WithoutCancel(ctx)) })
	if db := currentDatabase(t, dsn); db != "postgres" {
		t.Errorf("current_database() = %q, want postgres", db)
	}
	want := [][]string{{"version", "--format", "{{.Server.Version}}"}}
	if diff := cmp.Diff(want, fake.calls(t)); diff != "" {
		t.Errorf("docker calls (-want +got):\n%s", diff)
	}
}

func TestProvisionRemovesAContainerItCouldNotSetUp(t *testing.T) {
	for _, tc := range []struct {
		name    string
		engine  string
		wantErr string // in the error, so the user sees docker's own reason
	}{
		{name: "run fails", engine: "run fails", wantErr: "pull access denied"},
		{name: "never ready", engine: "up", wantErr: "fake container log line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Nothing listens on the reported port, so only ctx ends the wait.
			fake := installFakeDocker(t, tc.engine, deadPort(t))
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			defer cancel()
			_, _, err := localpg.Provision(ctx, localpg.Options{})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Provision error = %v, want one containing %q", err, tc.wantErr)
			}
			t.Logf("Provision error: %v", err)
			calls := fake.calls(t)
			name := containerName(t, calls)
			if diff := cmp.Diff([]string{"rm", "-f", "-v", name}, calls[len(calls)-1]); diff != "" {
				t.Errorf("last docker call (-want +got):\n%s", diff)
			}
		})
	}
}

// fakeDockerScript answers like the docker CLI. With engine "up" it reports
// a container whose port 5432 is published on @PORT@; "down" is a client
// without an engine, "hung" an engine that never answers, and "run fails"
// an engine that cannot pull the image. Every call is appended to calls, its
// arguments tab-separated.
const fakeDockerScript = `#!/bin/sh
state='@STATE@'
for a in "$@"; do printf '%s\t' "$a"; done >>"$state/calls"
echo >>"$state/calls"
case "$1" in
version)
	case '@ENGINE@' in
	down)
		echo 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?' >&2
		exit 1 ;;
	hung) sleep 10 ;;
	esac
	echo 28.2.2 ;;
run)
	printf '%s' "$POSTGRES_PASSWORD" >"$state/password"
	if [ '@ENGINE@' = 'run fails' ]; then
		echo "docker: Error response from daemon: pull access denied for postgres" >&2
		exit 125
	fi
	echo 4f0c8e1a2b3d4c5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6 ;;
port)
	echo '0.0.0.0:@PORT@'
	echo '[::]:@PORT@' ;;
logs) echo 'FATAL:  fake container log line' >&2 ;;
rm) echo "$4" ;;
*)
	echo "fake docker: unexpected command $1" >&2
	exit 1 ;;
esac
`

type fakeDocker struct{ state string }

// installFakeDocker puts the fake first on PATH for the rest of the test.
func installFakeDocker(t *testing.T, engine string, port int) fakeDocker {
	t.Helper()
	dir, state := t.TempDir(), t.TempDir()
	script := strings.NewReplacer("@STATE@", state, "@ENGINE@", engine, "@PORT@", strconv.Itoa(port)).Replace(fakeDockerScript)
	if err := os.WriteFile(filepath.Join(dir, "docker"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return fakeDocker{state: state}
}

func (f fakeDocker) calls(t *testing.T) [][]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(f.state, "calls"))
	if err != nil {
		t.Fatalf("fake docker was never called: %v", err)
	}
	var calls [][]string
	for line := range strings.Lines(string(data)) {
		calls = append(calls, strings.Split(strings.TrimSuffix(line, "\t\n"), "\t"))
	}
	return calls
}

func (f fakeDocker) password(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(f.state, "password"))
	if err != nil {
		t.Fatalf("fake docker run was never called: %v", err)
	}
	return string(data)
}

// containerName is the --name of the docker run among calls.
func containerName(t *testing.T, calls [][]string) string {
	t.Helper()
	for _, call := range calls {
		if call[0] != "run" {
			continue
		}
		for i, arg := range call[:len(call)-1] {
			if arg == "--name" && call[i+1] != "" {
				return call[i+1]
			}
		}
		t.Fatalf("docker %v names no container", call)
	}
	t.Fatalf("no docker run in %v", calls)
	return ""
}

func startCluster(t *testing.T) *localpg.Cluster {
	t.Helper()
	c, err := localpg.Start(t.Context(), localpg.Options{})
	if errors.Is(err, localpg.ErrNoBinaries) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// deadPort returns a loopback port that nothing listens on, for now.
func deadPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func currentDatabase(t *testing.T, dsn string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to %s: %v", dsn, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var db string
	if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil {
		t.Fatalf("SELECT current_database(): %v", err)
	}
	return db
}
