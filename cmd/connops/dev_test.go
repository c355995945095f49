package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/connops/connops/internal/auth"
	"github.com/connops/connops/internal/pgtest"
)

// TestDevFixtureFlags starts connops dev as a test script would: fixed
// secret, tenant and manual provisioning, addresses of its choosing, and
// everything it needs read from the ready line. A second start on the same
// data directory keeps the CA, so trust set up once holds.
func TestDevFixtureFlags(t *testing.T) {
	dsn := pgtest.EmptyDSN(t)
	dataDir := t.TempDir()
	args := []string{"dev", "--listen", "127.0.0.1:0", "--tls-listen", "127.0.0.1:0", "--secret", goodSecret,
		"--tenant", "fabrikam", "--provisioning-delay", "manual", "--data-dir", dataDir}
	env := map[string]string{"DATABASE_URL": dsn, "SHUTDOWN_DRAIN_DELAY": "0s"}
	d := startDev(t, args, env)

	for _, key := range []string{"http", "https", "ca", "tenant", "token", "control_token"} {
		if d.ready[key] == "" {
			t.Errorf("ready line has no %s: %v", key, d.ready)
		}
	}
	if !strings.HasPrefix(d.ready["http"], "http://127.0.0.1:") || !strings.HasPrefix(d.ready["https"], "https://127.0.0.1:") {
		t.Errorf("ready line URLs %s, %s: want the bound loopback addresses", d.ready["http"], d.ready["https"])
	}
	verifier := auth.NewHS256([]byte(goodSecret))
	for _, key := range []string{"token", "control_token"} {
		caller, err := verifier.Verify(context.Background(), d.ready[key])
		if err != nil || caller.TenantID != "fabrikam" {
			t.Errorf("%s: caller %+v, err %v; want tenant fabrikam signed with --secret", key, caller, err)
		}
	}

	// Over HTTPS with the printed CA: a schema registration stays in
	// progress (manual) until the control token completes it.
	client := clientTrustingFile(t, d.ready["ca"])
	user := apiClient{base: d.ready["https"], token: d.ready["token"], http: client}
	control := apiClient{base: d.ready["https"], token: d.ready["control_token"], http: client}
	user.mustDo(t, http.StatusCreated, http.MethodPost, "/v1.0/external/connections", `{"id":"fixture","name":"Fixture"}`, nil)
	reg := user.mustDo(t, http.StatusAccepted, http.MethodPatch, "/v1.0/external/connections/fixture/schema",
		`{"baseType":"microsoft.graph.externalItem","properties":[{"name":"title","type":"String","isSearchable":true}]}`, nil)
	location := reg.header.Get("Location")
	if !strings.HasPrefix(location, d.ready["https"]+"/v1.0/") {
		t.Fatalf("Location = %q, want it under %s", location, d.ready["https"])
	}
	opPath := strings.TrimPrefix(location, d.ready["https"])
	time.Sleep(300 * time.Millisecond)
	if got := jsonField(t, user.mustDo(t, http.StatusOK, http.MethodGet, opPath, "", nil).body, "status"); got != "inprogress" {
		t.Fatalf("with --provisioning-delay manual the registration is %s, want inprogress", got)
	}
	control.mustDo(t, http.StatusNoContent, http.MethodPatch, opPath, `{"status":"completed"}`, nil)
	if got := jsonField(t, user.mustDo(t, http.StatusOK, http.MethodGet, opPath, "", nil).body, "status"); got != "completed" {
		t.Errorf("after the control token's PATCH the registration is %s", got)
	}
	if err := d.stop(); err != nil {
		t.Fatalf("dev returned %v", err)
	}

	firstCA, err := os.ReadFile(d.ready["ca"])
	if err != nil {
		t.Fatal(err)
	}
	again := startDev(t, args, env)
	secondCA, err := os.ReadFile(again.ready["ca"])
	if err != nil {
		t.Fatal(err)
	}
	if again.ready["ca"] != d.ready["ca"] || !bytes.Equal(firstCA, secondCA) {
		t.Error("a restart on the same --data-dir made a new CA")
	}
	// A client set up with the first run's CA trusts the second run.
	if res, err := client.Get(again.ready["https"] + "/healthz"); err != nil {
		t.Errorf("the first run's CA is not trusted by the second run: %v", err)
	} else {
		res.Body.Close()
	}
}

// TestDevFailsClearly: what a test script can get wrong ends connops dev at
// once with a message naming the flag or variable, before any database is
// started (no DATABASE_URL is set, so one would be).
func TestDevFailsClearly(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	busy := taken.Addr().String()
	dataDir := t.TempDir()
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want []string
	}{
		{"HTTP port taken", []string{"--listen", busy}, nil, []string{"--listen", busy, "address already in use"}},
		{"HTTPS port taken", []string{"--listen", "127.0.0.1:0", "--tls-listen", busy}, nil, []string{"--tls-listen", busy}},
		{"bad provisioning delay", []string{"--provisioning-delay", "soon"}, nil, []string{"--provisioning-delay", "PROVISIONING_DELAY", "manual"}},
		{"short secret", []string{"--secret", "short"}, nil, []string{"--secret", "32 bytes"}},
		{"empty tenant", []string{"--tenant", ""}, nil, []string{"--tenant"}},
		{"unknown flag", []string{"--frobnicate"}, nil, nil},
		{"stray argument", []string{"now"}, nil, []string{"no arguments"}},
		{"certificate files", nil, map[string]string{"TLS_CERT_FILE": "/a.pem", "TLS_KEY_FILE": "/a-key.pem"}, []string{"TLS_CERT_FILE", "connops serve"}},
		{"bad LISTEN_ADDR", nil, map[string]string{"LISTEN_ADDR": "127.0.0.1:notaport"}, []string{"LISTEN_ADDR"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"dev", "--data-dir", dataDir, "--tls-listen", "127.0.0.1:0"}, tt.args...)
			start := time.Now()
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), args, envOf(tt.env), &stdout, &stderr)
			if err == nil {
				t.Fatalf("dev %v succeeded", tt.args)
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("took %v to fail: it should not start a database first", took)
			}
			if strings.Contains(stdout.String(), "connops dev ready") {
				t.Errorf("printed a ready line although it failed:\n%s", stdout.String())
			}
		})
	}
}

// TestDevExitCode runs the built binary: a taken port is exit status 1 and
// one line on stderr that says which port.
func TestDevExitCode(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cmd := exec.Command(buildBinary(t), "dev", "--listen", taken.Addr().String(), "--data-dir", t.TempDir())
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("exit: %v, want status 1", err)
	}
	if !strings.Contains(stderr.String(), "connops: listen on --listen") || !strings.Contains(stderr.String(), taken.Addr().String()) {
		t.Errorf("stderr does not say which port:\n%s", stderr.String())
	}
}
