package main

// Idempotency-Key over real HTTP against serve: replay, mismatch, concurrent
// retries, scoping, connection creates, $batch, and expiry.

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connops/connops/internal/pgtest"
)

// idemEnv is one serve on its own migrated database with a connection
// "idem" in tenant contoso, and a client for app-a.
type idemEnv struct {
	t      *testing.T
	dsn    string
	srv    *liveServer
	client apiClient
}

func newIdemEnv(t *testing.T, extra map[string]string) *idemEnv {
	t.Helper()
	dsn := pgtest.DSN(t)
	srv := startServe(t, testConfig(t, dsn, extra))
	e := &idemEnv{t: t, dsn: dsn, srv: srv, client: e2eClient(t, srv, "contoso", "app-a")}
	createConnection(t, e.client, "idem")
	return e
}

func e2eClient(t *testing.T, srv *liveServer, tenant, app string) apiClient {
	return newClient(srv.base, devToken(t, tenant, app), 30*time.Second)
}

// count runs a count(*) query.
func (e *idemEnv) count(sql string, args ...any) int {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, e.dsn)
	if err != nil {
		e.t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *idemEnv) operations(connectionID string) int {
	return e.count(`SELECT count(*) FROM operations WHERE connection_id = $1`, connectionID)
}

func keyed(k string) map[string]string { return map[string]string{"Idempotency-Key": k} }

func TestIdempotencyRetryReplaysTheOriginal(t *testing.T) {
	e := newIdemEnv(t, nil)
	body := `{"status":"inprogress"}`
	first := e.client.mustDo(t, http.StatusCreated, http.MethodPost, operationsPath("idem"), body, keyed("retry-1"))
	again := e.client.mustDo(t, http.StatusCreated, http.MethodPost, operationsPath("idem"), body, keyed("retry-1"))
	if first.header.Get("Idempotent-Replayed") != "" {
		t.Errorf("the original answer says Idempotent-Replayed: %q", first.header.Get("Idempotent-Replayed"))
	}
	if got := again.header.Get("Idempotent-Replayed"); got != "true" {
		t.Errorf("the retry's Idempotent-Replayed = %q, want true", got)
	}
	if !bytes.Equal(first.body, again.body) {
		t.Errorf("the retry's body differs:\noriginal %s\nretry    %s", first.body, again.body)
	}
	for _, h := range []string{"Location", "ETag"} {
		if first.header.Get(h) == "" || first.header.Get(h) != again.header.Get(h) {
			t.Errorf("%s: original %q, retry %q", h, first.header.Get(h), again.header.Get(h))
		}
	}
	if n := e.operations("idem"); n != 1 {
		t.Errorf("%d operations stored, want 1", n)
	}
	report(t, "original id=%s replayed id=%s same-body=%v rows=%d", idOf(first.body), idOf(again.body),
		bytes.Equal(first.body, again.body), e.operations("idem"))
}

func TestIdempotencyKeyReusedWithAnotherBody(t *testing.T) {
	e := newIdemEnv(t, nil)
	createConnection(t, e.client, "idemother")
	e.client.mustDo(t, http.StatusCreated, http.MethodPost, operationsPath("idem"), `{"status":"inprogress"}`, keyed("reuse-1"))
	for _, c := range []struct{ name, path, body string }{
		{"another body", operationsPath("idem"), `{"status":"completed"}`},
		{"another connection", operationsPath("idemother"), `{"status":"inprogress"}`},
	} {
		r := e.client.mustDo(t, http.StatusUnprocessableEntity, http.MethodPost, c.path, c.body, keyed("reuse-1"))
		if code, ok := graphError(r.body); !ok || code != "idempotencyKeyReused" {
			t.Errorf("%s: error code %q (envelope ok %v), want idempotencyKeyReused", c.name, code, ok)
		}
	}
	if n := e.count(`SELECT count(*) FROM operations`); n != 1 {
		t.Errorf("%d operations stored, want 1", n)
	}
}

// TestIdempotencyConcurrentRetries sends 20 requests with one key at once.
// The implementation makes later ones wait for the first transaction (the key
// row's primary key), then replay it, so all are 201 with one id.
func TestIdempotencyConcurrentRetries(t *testing.T) {
	e := newIdemEnv(t, nil)
	const n = 20
	start := make(chan struct{})
	results := make([]outcome, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i] = post(e.client, operationsPath("idem"), `{"status":"inprogress"}`, "together-1")
		}()
	}
	close(start)
	wg.Wait()
	statuses := map[int]int{}
	ids := map[string]int{}
	replayed := 0
	for _, o := range results {
		if o.err != nil {
			t.Errorf("request failed: %v", o.err)
			continue
		}
		statuses[o.status]++
		if o.status == http.StatusCreated {
			ids[o.id]++
		}
		if o.replayed {
			replayed++
		}
	}
	rows := e.operations("idem")
	report(t, "requests=%d statuses=%v distinct-ids=%d replayed=%d rows=%d", n, statuses, len(ids), replayed, rows)
	if statuses[http.StatusCreated] != n || len(ids) != 1 {
		t.Errorf("statuses %v, ids %v; want %d × 201 with one id", statuses, ids, n)
	}
	if replayed != n-1 {
		t.Errorf("%d answers marked replayed, want %d", replayed, n-1)
	}
	if rows != 1 {
		t.Errorf("%d operations stored, want 1", rows)
	}
}

func TestIdempotencyKeysScopedByTenantAndApp(t *testing.T) {
	e := newIdemEnv(t, nil)
	otherApp := e2eClient(t, e.srv, "contoso", "app-b")
	otherTenant := e2eClient(t, e.srv, "fabrikam", "app-a")
	createConnection(t, otherTenant, "idem")
	body := `{"status":"inprogress"}`
	ids := map[string]bool{}
	for name, c := range map[string]apiClient{"contoso/app-a": e.client, "contoso/app-b": otherApp, "fabrikam/app-a": otherTenant} {
		r := c.mustDo(t, http.StatusCreated, http.MethodPost, operationsPath("idem"), body, keyed("shared-key"))
		if r.header.Get("Idempotent-Replayed") != "" {
			t.Errorf("%s: answer replayed another caller's key", name)
		}
		ids[idOf(r.body)] = true
	}
	if len(ids) != 3 {
		t.Errorf("three callers got %d distinct ids, want 3", len(ids))
	}
	if n := e.count(`SELECT count(*) FROM operations`); n != 3 {
		t.Errorf("%d operations stored, want 3", n)
	}
	if n := e.count(`SELECT count(*) FROM idempotency_keys WHERE key = 'shared-key'`); n != 3 {
		t.Errorf("%d key rows, want 3 (one per tenant and app)", n)
	}
}

func TestIdempotencyOnConnectionCreate(t *testing.T) {
	e := newIdemEnv(t, nil)
	body := `{"id":"idemconn","name":"Idempotent connection"}`
	first := e.client.mustDo(t, http.StatusCreated, http.MethodPost, "/v1.0/external/connections", body, keyed("conn-1"))
	again := e.client.mustDo(t, http.StatusCreated, http.MethodPost, "/v1.0/external/connections", body, keyed("conn-1"))
	if again.header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(first.body, again.body) ||
		first.header.Get("Location") != again.header.Get("Location") {
		t.Errorf("retry is not a replay: replayed %q\noriginal %s\nretry    %s",
			again.header.Get("Idempotent-Replayed"), first.body, again.body)
	}
	// Without the key the same body is a new create, which conflicts.
	e.client.mustDo(t, http.StatusConflict, http.MethodPost, "/v1.0/external/connections", body, nil)
	e.client.mustDo(t, http.StatusUnprocessableEntity, http.MethodPost, "/v1.0/external/connections",
		`{"id":"idemconn2","name":"Another"}`, keyed("conn-1"))
	if n := e.count(`SELECT count(*) FROM connections WHERE id LIKE 'idemconn%'`); n != 1 {
		t.Errorf("%d connections stored, want 1", n)
	}
}

func TestIdempotencyInsideBatch(t *testing.T) {
	e := newIdemEnv(t, nil)
	batch := `{"requests":[{"id":"1","method":"POST","url":"/external/connections/idem/operations",
		"headers":{"Content-Type":"application/json","Idempotency-Key":"batch-key-1"},
		"body":{"status":"inprogress"}}]}`
	type inner struct {
		ID      string            `json:"id"`
		Status  int               `json:"status"`
		Headers map[string]string `json:"headers"`
		Body    json.RawMessage   `json:"body"`
	}
	send := func() inner {
		r := e.client.mustDo(t, http.StatusOK, http.MethodPost, "/v1.0/$batch", batch, nil)
		var out struct{ Responses []inner }
		if err := json.Unmarshal(r.body, &out); err != nil || len(out.Responses) != 1 {
			t.Fatalf("batch answer: %v\n%s", err, r.body)
		}
		return out.Responses[0]
	}
	first, again := send(), send()
	if first.Status != http.StatusCreated || again.Status != http.StatusCreated {
		t.Fatalf("inner statuses %d then %d, want 201 twice\n%s\n%s", first.Status, again.Status, first.Body, again.Body)
	}
	if idOf(first.Body) == "" || idOf(first.Body) != idOf(again.Body) {
		t.Errorf("ids %q then %q, want the same", idOf(first.Body), idOf(again.Body))
	}
	if again.Headers["Idempotent-Replayed"] != "true" {
		t.Errorf("second batch's inner headers %v lack Idempotent-Replayed: true", again.Headers)
	}
	if first.Headers["Location"] != again.Headers["Location"] {
		t.Errorf("Location %q then %q", first.Headers["Location"], again.Headers["Location"])
	}
	if n := e.operations("idem"); n != 1 {
		t.Errorf("%d operations stored, want 1", n)
	}
}

func TestIdempotencyKeyExpires(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a key to expire")
	}
	e := newIdemEnv(t, map[string]string{"IDEMPOTENCY_TTL": "1s"})
	body := `{"status":"inprogress"}`
	first := e.client.mustDo(t, http.StatusCreated, http.MethodPost, operationsPath("idem"), body, keyed("short-lived"))
	soon := e.client.mustDo(t, http.StatusCreated, http.MethodPost, operationsPath("idem"), body, keyed("short-lived"))
	if soon.header.Get("Idempotent-Replayed") != "true" {
		t.Error("a retry within the TTL was not replayed")
	}
	time.Sleep(2500 * time.Millisecond)
	later := e.client.mustDo(t, http.StatusCreated, http.MethodPost, operationsPath("idem"), body, keyed("short-lived"))
	if later.header.Get("Idempotent-Replayed") != "" || idOf(later.body) == idOf(first.body) {
		t.Errorf("after expiry the key replayed (id %s, first %s)", idOf(later.body), idOf(first.body))
	}
	// The renewed key is live again: another body with it is refused.
	e.client.mustDo(t, http.StatusUnprocessableEntity, http.MethodPost, operationsPath("idem"), `{"status":"failed"}`, keyed("short-lived"))
	if n := e.operations("idem"); n != 2 {
		t.Errorf("%d operations stored, want 2", n)
	}
	ids := []string{idOf(first.body), idOf(later.body)}
	sort.Strings(ids)
	report(t, "ttl=1s ids=%v rows=%d", ids, e.operations("idem"))
}
