package httpapi_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connops/connops/internal/connections"
)

const opsPath = "/v1.0/external/connections/waitconn/operations"

// newOperation creates an operation in progress and returns its path.
func (e *env) newOperation(tok, connection, id string) string {
	e.t.Helper()
	path := "/v1.0/external/connections/" + connection + "/operations"
	if r := e.post(path, tok, `{"id":"`+id+`","status":"inprogress"}`); r.status != http.StatusCreated {
		e.t.Fatalf("create operation: %d %s", r.status, r.body)
	}
	return path + "/" + id
}

// waitconnOperation creates connection waitconn and its operation op1,
// in progress, as contoso's writer, and returns the token and its path.
func (e *env) waitconnOperation() (tok, op string) {
	e.t.Helper()
	tok = writer(e.t, "contoso")
	e.createConnection(tok, "waitconn")
	return tok, e.newOperation(tok, "waitconn", "op1")
}

// waitGet is a GET with Prefer: wait and optional If-None-Match, timed.
func (e *env) waitGet(path, tok, prefer, ifNoneMatch string) (response, time.Duration) {
	e.t.Helper()
	h := map[string]string{"Prefer": prefer}
	if ifNoneMatch != "" {
		h["If-None-Match"] = ifNoneMatch
	}
	start := time.Now()
	r := e.send(request{method: http.MethodGet, path: path, token: tok, header: h})
	return r, time.Since(start)
}

func TestWaitAnswersWhenTheOperationChanges(t *testing.T) {
	e := newEnv(t)
	tok, op := e.waitconnOperation()

	go func() {
		time.Sleep(300 * time.Millisecond)
		e.patch(op, tok, `{"status":"completed"}`, nil)
	}()
	r, took := e.waitGet(op, tok, "wait=10", "")
	if r.status != http.StatusOK || r.json(t)["status"] != "completed" {
		t.Fatalf("status %d body %s, want 200 completed", r.status, r.body)
	}
	if got := r.header.Get("Preference-Applied"); got != "wait=10" {
		t.Errorf("Preference-Applied = %q, want wait=10", got)
	}
	if took < 250*time.Millisecond || took > 3*time.Second {
		t.Errorf("answered after %s: want soon after the change at 300ms", took)
	}
	t.Logf("wait answered %s after the request, the change committed at ~300ms", took)
}

func TestWaitTimesOutWithTheCurrentOperation(t *testing.T) {
	e := newAppEnv(t, map[string]string{"WAIT_MAX": "1s"}, nil)
	tok, op := e.waitconnOperation()

	r, took := e.waitGet(op, tok, "wait=30", "")
	if r.status != http.StatusOK || r.json(t)["status"] != "inprogress" {
		t.Fatalf("status %d body %s", r.status, r.body)
	}
	if got := r.header.Get("Preference-Applied"); got != "wait=1" {
		t.Errorf("Preference-Applied = %q, want wait=1 (WAIT_MAX caps the wait)", got)
	}
	if took < 900*time.Millisecond || took > 3*time.Second {
		t.Errorf("answered after %s, want about 1s", took)
	}
}

func TestWaitOnAFinalOperationAnswersAtOnce(t *testing.T) {
	e := newEnv(t)
	tok, op := e.waitconnOperation()
	e.patch(op, tok, `{"status":"failed"}`, nil)

	r, took := e.waitGet(op, tok, "wait=30", "")
	if r.status != http.StatusOK || r.json(t)["status"] != "failed" || took > 2*time.Second {
		t.Fatalf("status %d after %s, body %s: want 200 failed at once", r.status, took, r.body)
	}
}

func TestWaitWithIfNoneMatch(t *testing.T) {
	e := newAppEnv(t, map[string]string{"WAIT_MAX": "1s"}, nil)
	tok, op := e.waitconnOperation()
	first := e.get(op, tok)
	tag := first.header.Get("ETag")

	// The caller holds the current version and nothing changes: 304.
	r, took := e.waitGet(op, tok, "wait=1", tag)
	if r.status != http.StatusNotModified || len(r.body) != 0 || r.header.Get("ETag") != tag || took < 900*time.Millisecond {
		t.Fatalf("status %d after %s, ETag %q: want 304 with the same ETag after the wait", r.status, took, r.header.Get("ETag"))
	}
	if r.header.Get("Preference-Applied") != "wait=1" {
		t.Errorf("Preference-Applied = %q", r.header.Get("Preference-Applied"))
	}

	// A change made between two waits is not missed: the next wait with
	// the old ETag answers at once.
	if p := e.patch(op, tok, `{"status":"unspecified"}`, nil); p.status != http.StatusNoContent {
		t.Fatalf("PATCH: %d %s", p.status, p.body)
	}
	r, took = e.waitGet(op, tok, "wait=30", tag)
	if r.status != http.StatusOK || r.json(t)["status"] != "unspecified" || r.header.Get("ETag") == tag || took > 2*time.Second {
		t.Fatalf("status %d after %s body %s: want 200 unspecified at once", r.status, took, r.body)
	}

	// Without a wait, If-None-Match is a plain conditional GET.
	if r := e.send(request{method: http.MethodGet, path: op, token: tok, header: map[string]string{"If-None-Match": r.header.Get("ETag")}}); r.status != http.StatusNotModified {
		t.Errorf("conditional GET with the current ETag: %d, want 304", r.status)
	}
}

func TestWaitSeesAChangeOnAnotherReplica(t *testing.T) {
	a := newEnv(t)
	b := a.replica()
	tok := writer(t, "contoso")
	a.createConnection(tok, "waitconn")
	op := a.newOperation(tok, "waitconn", "op1")

	// The hub's safety poll would find the change within 2 s anyway; the
	// NOTIFY from replica a must wake the waiter on b well before that.
	changed := make(chan time.Time, 1)
	go func() {
		time.Sleep(500 * time.Millisecond)
		a.patch(op, tok, `{"status":"completed"}`, nil)
		changed <- time.Now()
	}()
	r, _ := b.waitGet(op, tok, "wait=20", "")
	woke := time.Since(<-changed)
	if r.status != http.StatusOK || r.json(t)["status"] != "completed" {
		t.Fatalf("status %d body %s", r.status, r.body)
	}
	if woke > time.Second {
		t.Errorf("the waiter on the other replica answered %s after the commit: want well under the 2s safety poll", woke)
	}
	t.Logf("cross-replica wake: answered %s after the PATCH returned", woke)
}

func TestWaitAnswers404WhenTheOperationGoes(t *testing.T) {
	e := newEnv(t)
	tok, op := e.waitconnOperation()
	go func() {
		time.Sleep(300 * time.Millisecond)
		e.send(request{method: http.MethodDelete, path: op, token: tok})
	}()
	r, took := e.waitGet(op, tok, "wait=10", "")
	wantError(t, r, http.StatusNotFound, "itemNotFound")
	if took > 3*time.Second {
		t.Errorf("404 after %s", took)
	}
}

func TestWaitChecksIdentityAndScope(t *testing.T) {
	e := newEnv(t)
	_, op := e.waitconnOperation()
	for name, c := range map[string]struct {
		tok    string
		status int
		code   string
	}{
		"no token":      {"", http.StatusUnauthorized, "InvalidAuthenticationToken"},
		"other tenant":  {writer(t, "fabrikam"), http.StatusNotFound, "itemNotFound"},
		"no permission": {token(t, "contoso", "app-x", connections.PermItemReadAll), http.StatusForbidden, "accessDenied"},
	} {
		r, took := e.waitGet(op, c.tok, "wait=10", "")
		if took > 2*time.Second {
			t.Errorf("%s: refused after %s, want at once", name, took)
		}
		wantError(t, r, c.status, c.code)
	}
}

// TestWaitersHoldNoTenantSlot: with one database slot per tenant, waiters
// in flight leave the tenant's other requests unaffected.
func TestWaitersHoldNoTenantSlot(t *testing.T) {
	e := newAppEnv(t, map[string]string{"TENANT_DB_CONCURRENCY": "1"}, nil)
	tok, op := e.waitconnOperation()

	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.waitGet(op, tok, "wait=3", "")
		}()
	}
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	if r := e.get(opsPath, tok); r.status != http.StatusOK {
		t.Fatalf("list while 8 waiters wait: %d %s", r.status, r.body)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("a list took %s while waiters waited: they hold the tenant's slot", took)
	}
	wg.Wait()
}

func TestWaitIsIgnoredInsideBatch(t *testing.T) {
	e := newEnv(t)
	tok := writer(t, "contoso")
	e.createConnection(tok, "waitconn")
	e.newOperation(tok, "waitconn", "op1")
	body := `{"requests":[{"id":"1","method":"GET","url":"/external/connections/waitconn/operations/op1","headers":{"Prefer":"wait=20"}}]}`
	start := time.Now()
	r := e.post("/v1.0/$batch", tok, body)
	if r.status != http.StatusOK || time.Since(start) > 3*time.Second {
		t.Fatalf("batch: %d after %s", r.status, time.Since(start))
	}
	if strings.Contains(string(r.body), "Preference-Applied") {
		t.Errorf("a batch item says it applied a wait: %s", r.body)
	}
}
