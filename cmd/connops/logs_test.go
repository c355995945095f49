package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5"

	"github.com/connops/connops/internal/app"
	"github.com/connops/connops/internal/auth"
	"github.com/connops/connops/internal/pgtest"
)

// logSecret is a secret the tests plant in a DSN, a token or a header; it
// must never reach a log line or an error.
const logSecret = "hunter2-secret"

// hs256Secret is long enough for loadConfig and recognizable in output.
const hs256Secret = "hs256-signing-secret-" + logSecret + "-0123456789"

// withPassword returns dsn with a password and the strings that would reveal
// it. On a trust-auth server (pgtest's local cluster) the planted password is
// ignored by the server; a DSN that already has one keeps it.
func withPassword(t *testing.T, dsn string) (string, []string) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		// Keyword/value form: a later keyword overrides an earlier one.
		if strings.Contains(dsn, "password=") {
			return dsn, []string{dsn}
		}
		return dsn + " password=" + logSecret, []string{logSecret, dsn}
	}
	if pw, ok := u.User.Password(); ok {
		return dsn, []string{u.User.String() + "@", dsn, "password=" + pw}
	}
	u.User = url.UserPassword(u.User.Username(), logSecret)
	return u.String(), []string{logSecret, u.String()}
}

func TestLogsHoldNoTokensOrSecrets(t *testing.T) {
	dsn, dsnSecrets := withPassword(t, pgtest.EmptyDSN(t))
	cfg, err := app.LoadConfig(envOf(map[string]string{
		"DATABASE_URL": dsn, "AUTH_HS256_SECRET": hs256Secret, "LISTEN_ADDR": "127.0.0.1:0", "LOG_LEVEL": "debug",
	}), app.Need{Database: true, Auth: true})
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	log := newLogger(&logs, cfg.LogLevel)
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, log, func(a string) { addrs <- a }) }()
	var base string
	select {
	case a := <-addrs:
		base = "http://" + a
	case err := <-done:
		t.Fatalf("serve: %v\n%s", err, logs.String())
	}

	sign := func(key string, claims jwt.MapClaims) string {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(key))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	now := time.Now()
	valid, err := auth.Issue([]byte(hs256Secret), auth.DevToken{TenantID: "contoso", AppID: "app-logs",
		Roles: []string{"ExternalConnection.ReadWrite.All"}, TTL: time.Hour}, now)
	if err != nil {
		t.Fatal(err)
	}
	expired := sign(hs256Secret, jwt.MapClaims{"tid": "contoso", "appid": "app-logs", "roles": []string{"ExternalConnection.ReadWrite.All"},
		"exp": now.Add(-time.Hour).Unix(), "note": logSecret + "-in-expired"})
	forged := sign("some-other-secret-0123456789abcdef", jwt.MapClaims{"tid": "contoso", "exp": now.Add(time.Hour).Unix(), "note": logSecret + "-in-forged"})
	garbage := "garbage." + base64.RawURLEncoding.EncodeToString([]byte(logSecret+"-garbage")) + ".sig"
	basic := base64.StdEncoding.EncodeToString([]byte("user:" + logSecret + "-basic"))
	tokens := map[string]string{"valid": valid, "expired": expired, "forged": forged, "garbage": garbage}

	type call struct {
		method, path, auth, body string
		want                     int
	}
	calls := []call{
		{"GET", "/v1.0/external/connections", "Bearer " + valid, "", http.StatusOK},
		{"POST", "/v1.0/external/connections", "Bearer " + valid, `{"id":"logconn","name":"n"}`, http.StatusCreated},
		{"POST", "/v1.0/external/connections/logconn/operations", "Bearer " + valid, `{"id":"op1","error":{"message":"m"}}`, http.StatusCreated},
		{"GET", "/v1.0/external/connections", "Bearer " + expired, "", http.StatusUnauthorized},
		{"GET", "/v1.0/external/connections", "Bearer " + forged, "", http.StatusUnauthorized},
		{"GET", "/v1.0/external/connections", "Bearer " + garbage, "", http.StatusUnauthorized},
		{"GET", "/v1.0/external/connections", "Basic " + basic, "", http.StatusUnauthorized},
		{"GET", "/v1.0/external/connections", "bearer " + valid + " " + logSecret, "", http.StatusUnauthorized},
		// A token in the query string or the path must not be logged with the URL.
		{"GET", "/v1.0/external/connections?access_token=" + valid, "Bearer " + valid, "", http.StatusBadRequest},
		{"GET", "/v1.0/external/connections/" + logSecret + "conn", "Bearer " + valid, "", http.StatusNotFound},
		{"GET", "/no/such/" + valid, "Bearer " + valid, "", http.StatusNotFound},
		{"POST", "/v1.0/external/connections", "Bearer " + valid, `{"id":"` + logSecret + `","name":` + valid + `}`, http.StatusBadRequest},
		{"POST", "/v1.0/$batch", "Bearer " + valid, `{"requests":[{"id":"1","method":"GET","url":"/external/connections/logconn","headers":{"Authorization":"Bearer ` + forged + `"}}]}`, http.StatusOK},
		{"POST", "/v1.0/$batch", "Bearer " + expired, `{"requests":[]}`, http.StatusUnauthorized},
	}
	send := func(c call) int {
		t.Helper()
		req, err := http.NewRequest(c.method, base+c.path, strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", c.auth)
		req.Header.Set("Cookie", "session="+logSecret+"-cookie")
		req.Header.Set("X-Api-Key", logSecret+"-apikey")
		if c.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	for _, c := range calls {
		if got := send(c); got != c.want {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, got, c.want)
		}
	}

	// A 500: the table a query needs is gone, so the error is logged.
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(context.Background(), `ALTER TABLE operations RENAME TO operations_gone`); err != nil {
		t.Fatal(err)
	}
	conn.Close(context.Background())
	if got := send(call{"GET", "/v1.0/external/connections/logconn/operations", "Bearer " + valid, "", 0}); got != http.StatusInternalServerError {
		t.Errorf("query on a missing table: %d, want 500", got)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}

	out := logs.String()
	// The paths above were taken, so their log lines are what is checked.
	for _, want := range []string{`"msg":"migration applied"`, `"msg":"serving"`, `"status":401`, `"status":400`, `"status":404`, `"msg":"request failed"`, `"msg":"stopped"`} {
		if !strings.Contains(out, want) {
			t.Errorf("the log has no %s line:\n%s", want, out)
		}
	}
	secrets := map[string]string{"HS256 secret": hs256Secret, "planted secret": logSecret}
	for i, s := range dsnSecrets {
		secrets[fmt.Sprintf("DSN secret %d", i)] = s
	}
	for name, tok := range tokens {
		secrets[name+" token"] = tok
		secrets[name+" token signature"] = tok[strings.LastIndex(tok, ".")+1:]
		secrets[name+" token payload"] = strings.Split(tok, ".")[1]
	}
	for name, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("the log contains the %s (%q)", name, s)
		}
	}
	if t.Failed() {
		t.Logf("log:\n%s", out)
	}
}

func TestBadDatabaseURLIsNotEchoed(t *testing.T) {
	t.Parallel()
	cases := map[string][]string{
		"unreachable URL":      {"serve", "postgres://connops:" + logSecret + "@127.0.0.1:1/db?sslmode=disable&connect_timeout=2"},
		"unreachable keywords": {"serve", "host=127.0.0.1 port=1 user=connops password=" + logSecret + " dbname=db sslmode=disable connect_timeout=2"},
		"malformed URL":        {"serve", "postgres://connops:" + logSecret + "@127.0.0.1:notaport/db"},
		"malformed keywords":   {"serve", "host=127.0.0.1 password=" + logSecret + " port=notaport"},
		"unknown parameter":    {"serve", "postgres://connops:" + logSecret + "@127.0.0.1:1/db?sslmode=sideways"},
		"migrate unreachable":  {"migrate", "postgres://connops:" + logSecret + "@127.0.0.1:1/db?sslmode=disable&connect_timeout=2"},
		"migrate status":       {"migrate", "postgres://connops:" + logSecret + "@127.0.0.1:1/db?sslmode=disable&connect_timeout=2"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			args := []string{c[0]}
			switch {
			case name == "migrate status":
				args = append(args, "status")
			case c[0] == "migrate":
				args = append(args, "up")
			}
			var stdout, stderr syncBuffer
			env := envOf(map[string]string{"DATABASE_URL": c[1], "AUTH_HS256_SECRET": hs256Secret, "LOG_LEVEL": "debug", "LISTEN_ADDR": "127.0.0.1:0"})
			err := run(context.Background(), args, env, &stdout, &stderr)
			if err == nil {
				t.Fatal("run succeeded with an unusable DATABASE_URL")
			}
			t.Logf("run: %v", err)
			for where, text := range map[string]string{"error": err.Error(), "stdout": stdout.String(), "stderr": stderr.String()} {
				if strings.Contains(text, logSecret) {
					t.Errorf("the %s shows the password: %s", where, text)
				}
				if strings.Contains(text, hs256Secret) {
					t.Errorf("the %s shows the HS256 secret: %s", where, text)
				}
			}
		})
	}
}

func TestHTTPServerLimits(t *testing.T) {
	srv := newHTTPServer(http.NotFoundHandler(), slog.New(slog.DiscardHandler))
	want := map[string]time.Duration{
		"ReadHeaderTimeout": 5 * time.Second, "ReadTimeout": 30 * time.Second,
		"WriteTimeout": 30 * time.Second, "IdleTimeout": 2 * time.Minute,
	}
	got := map[string]time.Duration{
		"ReadHeaderTimeout": srv.ReadHeaderTimeout, "ReadTimeout": srv.ReadTimeout,
		"WriteTimeout": srv.WriteTimeout, "IdleTimeout": srv.IdleTimeout,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if srv.MaxHeaderBytes != 64<<10 {
		t.Errorf("MaxHeaderBytes = %d, want %d", srv.MaxHeaderBytes, 64<<10)
	}
	if srv.ErrorLog == nil {
		t.Error("ErrorLog is nil: server errors would bypass the JSON log")
	}

	// The header cap in action, on the server serve builds.
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	ts := httptest.NewUnstartedServer(ok)
	ts.Config = newHTTPServer(ok, slog.New(slog.DiscardHandler))
	ts.Start()
	defer ts.Close()
	send := func(pad int) int {
		conn, err := net.Dial("tcp", ts.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: %s\r\nConnection: close\r\n\r\n", strings.Repeat("p", pad))
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("header of %d bytes: %v", pad, err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := send(60 << 10); got != http.StatusNoContent {
		t.Errorf("60 KiB header: %d", got)
	}
	if got := send(100 << 10); got != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("100 KiB header: %d, want 431", got)
	}
}
