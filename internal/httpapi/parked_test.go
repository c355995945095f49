package httpapi_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A wait over HTTP/1.x is parked: net/http lets go of its connection and
// the answer is written by hand when the wait ends (parked.go). These
// tests check that answer against what a plain GET answers, and what
// ends a parked wait besides its change: the client leaving, the
// replica shutting down. Over HTTP/2 the wait is held instead.

// watchers reads the change hub's watcher gauge from /metrics.
func (e *env) watchers() (int, error) {
	res, err := http.Get(e.url + "/metrics")
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "connops_change_watchers "); ok {
			return strconv.Atoi(v)
		}
	}
	return 0, errors.New("/metrics has no connops_change_watchers")
}

// reachWatchers waits up to 5 s for the gauge to read n.
func (e *env) reachWatchers(n int) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := e.watchers()
		if err != nil || got == n {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("watchers stayed at %d, want %d", got, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *env) untilWatchers(n int) {
	e.t.Helper()
	if err := e.reachWatchers(n); err != nil {
		e.t.Fatal(err)
	}
}

// completeOnceWatched PATCHes op to completed once a wait watches it (or
// after 5 s, when the wait under test then fails on its own).
func (e *env) completeOnceWatched(op, tok string) {
	go func() {
		_ = e.reachWatchers(1)
		e.patch(op, tok, `{"status":"completed"}`, nil)
	}()
}

// parkedEnv is an env whose waits time out after 1 s: a wait on an
// operation nobody changes is then surely parked (its first read shows it
// must wait) and answers in 1 s.
func parkedEnv(t *testing.T) *env { return newAppEnv(t, map[string]string{"WAIT_MAX": "1s"}, nil) }

func TestParkedWaitAnswersAsAPlainGetDoes(t *testing.T) {
	e := parkedEnv(t)
	tok, op := e.waitconnOperation()

	waited, took := e.waitGet(op, tok, "wait=1", "")
	plain := e.get(op, tok)
	if took < 900*time.Millisecond {
		t.Fatalf("answered after %s: the wait did not wait", took)
	}
	if waited.status != http.StatusOK || string(waited.body) != string(plain.body) {
		t.Fatalf("waited: %d %s\nplain GET: %d %s", waited.status, waited.body, plain.status, plain.body)
	}
	if !waited.closes || plain.closes {
		t.Errorf("connection closes after the waited answer %v, after the plain GET %v: a parked wait's connection ends with its answer, and only its",
			waited.closes, plain.closes)
	}
	// The same headers as the plain GET, with the same values where they
	// do not name the request, plus the wait's own.
	for key := range plain.header {
		if waited.header.Get(key) == "" {
			t.Errorf("the waited answer lacks %s (plain GET: %q)", key, plain.header.Get(key))
		}
	}
	for _, key := range []string{"Content-Type", "ETag", "OData-Version", "Cache-Control", "Content-Length"} {
		if waited.header.Get(key) != plain.header.Get(key) {
			t.Errorf("%s: waited %q, plain GET %q", key, waited.header.Get(key), plain.header.Get(key))
		}
	}
	extra := []string{}
	for key := range waited.header {
		if plain.header.Get(key) == "" {
			extra = append(extra, key)
		}
	}
	slices.Sort(extra)
	if !slices.Equal(extra, []string{"Preference-Applied"}) {
		t.Errorf("headers beyond the plain GET's: %v, want Preference-Applied (and Connection, which the client takes)", extra)
	}
	if waited.header.Get("Request-Id") == plain.header.Get("Request-Id") || waited.header.Get("Request-Id") == "" {
		t.Errorf("request-id %q: each answer names its own request", waited.header.Get("Request-Id"))
	}
	// The client opens another connection for its next request.
	if r := e.get(op, tok); r.status != http.StatusOK {
		t.Errorf("GET after the parked answer: %d", r.status)
	}
}

func TestParkedWaitAnswersHEADWithoutABody(t *testing.T) {
	e := parkedEnv(t)
	tok, op := e.waitconnOperation()
	r := e.send(request{method: http.MethodHead, path: op, token: tok, header: map[string]string{"Prefer": "wait=1"}})
	plain := e.get(op, tok)
	if r.status != http.StatusOK || len(r.body) != 0 || r.header.Get("ETag") != plain.header.Get("ETag") || !r.closes {
		t.Fatalf("HEAD: %d, %d body bytes, ETag %q (GET's %q), closes %v: want a parked 200 without a body",
			r.status, len(r.body), r.header.Get("ETag"), plain.header.Get("ETag"), r.closes)
	}
	if r.header.Get("Content-Length") != strconv.Itoa(len(plain.body)) {
		t.Errorf("Content-Length %q, want the GET's %d", r.header.Get("Content-Length"), len(plain.body))
	}
}

// TestParkedWaitEndsWhenTheClientLeaves: a client that closes its
// connection mid-wait takes its watcher with it at once, and the log
// says it left (499) rather than that the wait failed.
func TestParkedWaitEndsWhenTheClientLeaves(t *testing.T) {
	var logs lockedBuffer
	e := newAppEnv(t, nil, &logs)
	tok, op := e.waitconnOperation()

	u, _ := url.Parse(e.url)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	req := "GET " + op + " HTTP/1.1\r\nHost: " + u.Host + "\r\nAuthorization: Bearer " + tok + "\r\nPrefer: wait=30\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	e.untilWatchers(1)
	start := time.Now()
	_ = conn.Close()
	e.untilWatchers(0)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("the watcher went %s after the client left", took)
	}
	deadline := time.Now().Add(2 * time.Second)
	for !strings.Contains(logs.String(), `"status":499`) {
		if time.Now().After(deadline) {
			t.Fatalf("no request line with status 499 in the log:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if strings.Contains(logs.String(), "request failed") {
		t.Errorf("a client leaving was logged as a failure:\n%s", logs.String())
	}
}

// h2Client serves e's app over HTTPS with HTTP/2 and returns a client
// that speaks it, and the server's URL.
func (e *env) h2Client() (*http.Client, string) { return e.tlsClient(true) }

// tlsClient serves e's app over HTTPS, with HTTP/2 or HTTP/1.1 only.
func (e *env) tlsClient(h2 bool) (*http.Client, string) {
	e.t.Helper()
	srv := httptest.NewUnstartedServer(e.app.Handler)
	srv.EnableHTTP2 = h2
	srv.StartTLS()
	e.t.Cleanup(srv.Close)
	return srv.Client(), srv.URL
}

// TestParkedWaitOverTLS: an HTTPS client that speaks HTTP/1.1 (Node's
// fetch does) is parked on its TLS connection and answered through it.
func TestParkedWaitOverTLS(t *testing.T) {
	e := parkedEnv(t)
	tok, op := e.waitconnOperation()
	client, base := e.tlsClient(false)
	res, body := waitOver(t, client, base+op, tok, 1)
	if res.ProtoMajor != 1 || res.StatusCode != http.StatusOK || !strings.Contains(body, `"inprogress"`) || !res.Close {
		t.Fatalf("%s %d close=%v %s: want an HTTP/1.1 200 that closes its connection", res.Proto, res.StatusCode, res.Close, body)
	}
	if res2, _ := waitOver(t, client, base+op, tok, 1); res2.StatusCode != http.StatusOK {
		t.Errorf("the next request, on a new connection: %d", res2.StatusCode)
	}
}

func waitOver(t *testing.T, client *http.Client, url, tok string, seconds int) (*http.Response, string) {
	t.Helper()
	res, body, err := tryWaitOver(client, url, tok, seconds)
	if err != nil {
		t.Fatal(err)
	}
	return res, body
}

// tryWaitOver is waitOver for a goroutine other than the test's.
func tryWaitOver(client *http.Client, url, tok string, seconds int) (*http.Response, string, error) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Prefer", "wait="+strconv.Itoa(seconds))
	res, err := client.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	return res, string(body), err
}

func TestWaitOverHTTP2IsHeldInItsStream(t *testing.T) {
	e := newEnv(t)
	tok, op := e.waitconnOperation()
	client, base := e.h2Client()
	e.completeOnceWatched(op, tok)
	res, body := waitOver(t, client, base+op, tok, 10)
	if res.ProtoMajor != 2 || res.StatusCode != http.StatusOK || !strings.Contains(body, `"completed"`) {
		t.Fatalf("%s %d %s: want an HTTP/2 200 completed", res.Proto, res.StatusCode, body)
	}
	if res.Header.Get("Preference-Applied") != "wait=10" || res.Header.Get("Connection") != "" {
		t.Errorf("Preference-Applied %q, Connection %q", res.Header.Get("Preference-Applied"), res.Header.Get("Connection"))
	}
	// The connection stays open for the next request.
	if res2, _ := waitOver(t, client, base+op, tok, 1); res2.StatusCode != http.StatusOK {
		t.Errorf("second request on the HTTP/2 connection: %d", res2.StatusCode)
	}
}

// TestReleaseAnswersEveryWaitAtOnce: a replica shutting down answers its
// waits, parked and held, with the operation as it is, and every later
// wait without waiting.
func TestReleaseAnswersEveryWaitAtOnce(t *testing.T) {
	e := newEnv(t)
	tok, op := e.waitconnOperation()
	client, base := e.h2Client()

	type answer struct {
		status int
		body   string
		took   time.Duration
	}
	parked, held := make(chan answer, 1), make(chan answer, 1)
	go func() {
		r, took := e.waitGet(op, tok, "wait=30", "")
		parked <- answer{r.status, string(r.body), took}
	}()
	go func() {
		start := time.Now()
		res, body, err := tryWaitOver(client, base+op, tok, 30)
		if err != nil {
			held <- answer{0, err.Error(), time.Since(start)}
			return
		}
		held <- answer{res.StatusCode, body, time.Since(start)}
	}()
	e.untilWatchers(2)
	e.app.ReleaseWaits()
	for name, c := range map[string]chan answer{"parked (HTTP/1.1)": parked, "held (HTTP/2)": held} {
		select {
		case a := <-c:
			if a.status != http.StatusOK || !strings.Contains(a.body, `"inprogress"`) || a.took > 5*time.Second {
				t.Errorf("%s wait: %d after %s, %s: want 200 inprogress soon after the release", name, a.status, a.took, a.body)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("the %s wait was not answered within 5 s of the release", name)
		}
	}
	r, took := e.waitGet(op, tok, "wait=30", "")
	if r.status != http.StatusOK || took > 2*time.Second || r.header.Get("Preference-Applied") != "" {
		t.Errorf("a wait after the release: %d after %s, Preference-Applied %q: want an answer at once, no wait applied",
			r.status, took, r.header.Get("Preference-Applied"))
	}
}
