package main

// Helpers shared by the fault, idempotency and metrics tests: a connops
// served in-process over real HTTP, a small API client, and a load driver
// that records every answer.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connops/connops/internal/app"
	"github.com/connops/connops/internal/auth"
	"github.com/connops/connops/internal/connections"
)

// report prints a figures line both to the test log and to stdout, so it shows
// in `go test -v` and in CI output even when the test passes without -v.
func report(t *testing.T, format string, args ...any) {
	t.Helper()
	line := fmt.Sprintf(format, args...)
	t.Log(line)
	fmt.Printf("%s: %s\n", t.Name(), line)
}

// testConfig builds a serve configuration the way the binary does, from an
// environment, so defaults match production. Rate limiting is off unless
// extra turns it on: the load tests are one tenant's app at full speed.
func testConfig(t *testing.T, dsn string, extra map[string]string) app.Config {
	t.Helper()
	env := map[string]string{
		"DATABASE_URL":      dsn,
		"LISTEN_ADDR":       "127.0.0.1:0",
		"AUTH_HS256_SECRET": goodSecret,
		"RATE_LIMIT_RPS":    "0",
	}
	maps.Copy(env, extra)
	cfg, err := app.LoadConfig(envOf(env), app.Need{Database: true, Auth: true})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// liveServer is serve running in this process on a real listener.
type liveServer struct {
	base string
	logs *syncBuffer
	stop func() error // cancels serve and waits for it; safe to call twice
}

func startServe(t *testing.T, cfg app.Config) *liveServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	addrs := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, newLogger(logs, slog.LevelInfo), func(a string) { addrs <- a }) }()
	s := &liveServer{logs: logs}
	select {
	case a := <-addrs:
		s.base = "http://" + a
		if cfg.TLSCertFile != "" {
			s.base = "https://" + a
		}
	case err := <-done:
		cancel()
		t.Fatalf("serve returned before listening: %v\n%s", err, tail(logs.String(), 4000))
	case <-time.After(2 * time.Minute):
		cancel()
		t.Fatalf("serve did not listen within 2 minutes\n%s", tail(logs.String(), 4000))
	}
	var once sync.Once
	var stopErr error
	s.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(cfg.ShutdownTimeout + 30*time.Second):
				stopErr = errors.New("serve did not return after cancel")
			}
		})
		return stopErr
	}
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Errorf("serve: %v", err)
		}
		if t.Failed() {
			t.Logf("server errors:\n%s", errorLines(logs.String(), 20))
		}
	})
	return s
}

// errorLines returns up to n log lines logged at level ERROR.
func errorLines(logs string, n int) string {
	var out []string
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, `"level":"ERROR"`) && len(out) < n {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// devToken signs a read-write token for tenant and app.
func devToken(t *testing.T, tenant, app string) string {
	t.Helper()
	tok, err := auth.Issue([]byte(goodSecret), auth.DevToken{
		TenantID: tenant, AppID: app, Roles: []string{connections.PermReadWriteAll}, TTL: time.Hour,
	}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// apiClient calls connops as one app. Keep-alives are on, as a real client's.
type apiClient struct {
	base, token string
	http        *http.Client
}

func newClient(base, token string, timeout time.Duration) apiClient {
	tr := &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 0}
	return apiClient{base: base, token: token, http: &http.Client{Timeout: timeout, Transport: tr}}
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (c apiClient) do(method, path, body string, header map[string]string) (reply, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return reply{}, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return reply{}, err
	}
	return reply{status: res.StatusCode, header: res.Header, body: b}, nil
}

// mustDo is do for set-up steps, which must get want.
func (c apiClient) mustDo(t *testing.T, want int, method, path, body string, header map[string]string) reply {
	t.Helper()
	r, err := c.do(method, path, body, header)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if r.status != want {
		t.Fatalf("%s %s = %d, want %d\n%s", method, path, r.status, want, r.body)
	}
	return r
}

func createConnection(t *testing.T, c apiClient, id string) {
	t.Helper()
	c.mustDo(t, http.StatusCreated, http.MethodPost, "/v1.0/external/connections",
		fmt.Sprintf(`{"id":%q,"name":"Fault test %s"}`, id, id), nil)
}

func operationsPath(connectionID string) string {
	return "/v1.0/external/connections/" + connectionID + "/operations"
}

// idOf reads "id" from a JSON body.
func idOf(body []byte) string {
	var v struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(body, &v)
	return v.ID
}

// graphError checks body is Graph's error envelope and returns its code.
func graphError(body []byte) (code string, ok bool) {
	var v struct {
		Error *struct {
			Code       string `json:"code"`
			Message    string `json:"message"`
			InnerError struct {
				RequestID string `json:"request-id"`
				Date      string `json:"date"`
			} `json:"innerError"`
		} `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&v); err != nil || v.Error == nil {
		return "", false
	}
	e := v.Error
	return e.Code, e.Code != "" && e.Message != "" && e.InnerError.RequestID != "" && e.InnerError.Date != ""
}

// retryAfterSeconds parses an integer Retry-After, as clients will.
func retryAfterOK(h http.Header) bool {
	n, err := strconv.Atoi(h.Get("Retry-After"))
	return err == nil && n > 0
}

// outcome is one request of a load run.
type outcome struct {
	start, end time.Time
	status     int // 0 when the request got no HTTP answer
	err        error
	id         string // the created id on 201
	key        string // Idempotency-Key, if sent
	replayed   bool
	envelopeOK bool // non-2xx: Graph error envelope
	retryOK    bool // 503/429: integer Retry-After
}

func (o outcome) took() time.Duration { return o.end.Sub(o.start) }

// recorder collects outcomes from concurrent workers.
type recorder struct {
	mu  sync.Mutex
	all []outcome
}

func (r *recorder) add(o outcome) {
	r.mu.Lock()
	r.all = append(r.all, o)
	r.mu.Unlock()
}

func (r *recorder) snapshot() []outcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]outcome(nil), r.all...)
}

// post sends one create and records what came back.
func post(c apiClient, path, body, key string) outcome {
	var hdr map[string]string
	if key != "" {
		hdr = map[string]string{"Idempotency-Key": key}
	}
	o := outcome{start: time.Now(), key: key}
	r, err := c.do(http.MethodPost, path, body, hdr)
	o.end = time.Now()
	if err != nil {
		o.err = err
		return o
	}
	o.status = r.status
	if r.status == http.StatusCreated {
		o.id = idOf(r.body)
		o.replayed = r.header.Get("Idempotent-Replayed") == "true"
		return o
	}
	_, o.envelopeOK = graphError(r.body)
	o.retryOK = retryAfterOK(r.header)
	return o
}

// tallies summarises outcomes.
type tallies struct {
	requests, acked, unavailable, serverErrors, otherStatus, transport int
	badUnavailable                                                     int // 503 without integer Retry-After or envelope
	maxLatency                                                         time.Duration
	acceptedIDs                                                        map[string]bool
}

func tally(all []outcome) tallies {
	t := tallies{acceptedIDs: map[string]bool{}}
	for _, o := range all {
		t.requests++
		t.maxLatency = max(t.maxLatency, o.took())
		switch {
		case o.err != nil:
			t.transport++
		case o.status == http.StatusCreated:
			t.acked++
			t.acceptedIDs[o.id] = true
		case o.status == http.StatusServiceUnavailable:
			t.unavailable++
			if !o.retryOK || !o.envelopeOK {
				t.badUnavailable++
			}
		case o.status >= 500:
			t.serverErrors++
		default:
			t.otherStatus++
		}
	}
	return t
}

// firstErrors returns up to n distinct descriptions of failed outcomes, for
// failure messages.
func firstErrors(all []outcome, n int) []string {
	seen := map[string]bool{}
	var out []string
	for _, o := range all {
		var s string
		switch {
		case o.err != nil:
			s = "transport: " + o.err.Error()
		case o.status != http.StatusCreated && o.status != http.StatusServiceUnavailable:
			s = "status " + strconv.Itoa(o.status)
		default:
			continue
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
			if len(out) == n {
				break
			}
		}
	}
	return out
}
