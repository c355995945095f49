package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connops/connops/internal/connections"
	"github.com/golang-jwt/jwt/v5"
)

// Regression tests for the hardening issue: each is a request a hostile or
// careless client sent that once got a 500, took other tenants down, or
// cost the replica far more than it should.

func TestStringsWithNULAreRefused(t *testing.T) {
	e := newEnv(t)
	tok := writer(t, "contoso")
	e.createConnection(tok, "conna")
	for _, tt := range []struct{ path, body, target string }{
		{"/v1.0/external/connections", `{"id":"connb","name":"a\u0000b"}`, "name"},
		{"/v1.0/external/connections", `{"id":"connb","name":"n","description":"\u0000"}`, "description"},
		{"/v1.0/external/connections", `{"id":"connb","name":"n","configuration":{"authorizedAppIds":["a\u0000"]}}`, "configuration.authorizedAppIds"},
		{"/v1.0/external/connections/conna/operations", `{"id":"op\u0000"}`, "id"},
		{"/v1.0/external/connections/conna/operations", `{"error":{"message":"x\u0000y"}}`, "error.message"},
		{"/v1.0/external/connections/conna/operations", `{"error":{"details":[{"target":"\u0000"}]}}`, "error.details[0].target"},
		// The legacy shape names the property as it was sent.
		{"/beta/connections/conna/operations", `{"error":{"errorCode":"\u0000"}}`, "error.errorCode"},
		{"/beta/connections/conna/operations", `{"error":{"details":[{"source":"\u0000"}]}}`, "error.details[0].source"},
	} {
		got := wantError(t, e.post(tt.path, tok, tt.body), http.StatusBadRequest, "invalidRequest")
		if got["target"] != tt.target || !strings.Contains(got["message"].(string), "'"+tt.target+"'") {
			t.Errorf("%s: target %v, message %v; want %s", tt.body, got["target"], got["message"], tt.target)
		}
	}
	if n := e.count(`SELECT count(*) FROM connections`); n != 1 {
		t.Errorf("connections stored: %d", n)
	}
	if n := e.operationCount(); n != 0 {
		t.Errorf("operations stored: %d", n)
	}
}

func TestConnectionIDsAreUniqueWithoutRegardToCase(t *testing.T) {
	e := newEnv(t)
	tok := writer(t, "contoso")
	e.createConnection(tok, "conna")
	wantError(t, e.post("/v1.0/external/connections", tok, `{"id":"CONNA","name":"n"}`), http.StatusConflict, "nameAlreadyExists")
	if n := e.count(`SELECT count(*) FROM connections`); n != 1 {
		t.Errorf("connections stored: %d", n)
	}
	// Another tenant may use any casing.
	if r := e.post("/v1.0/external/connections", writer(t, "fabrikam"), `{"id":"CONNA","name":"n"}`); r.status != http.StatusCreated {
		t.Errorf("other tenant: %d %s", r.status, r.body)
	}
}

// TestOwnedByCreateOfATakenID: an OwnedBy app that picks an id another app
// holds learns that the id is taken in its tenant (Graph's 409 tells that
// to any caller) and nothing more: the same answer as for its own, and the
// connection stays invisible to it.
func TestOwnedByCreateOfATakenID(t *testing.T) {
	e := newEnv(t)
	owner := token(t, "contoso", "app-a", connections.PermReadWriteOwnedBy)
	other := token(t, "contoso", "app-b", connections.PermReadWriteOwnedBy)
	e.createConnection(owner, "shared")
	e.createConnection(other, "mine")
	theirs := wantError(t, e.post("/v1.0/external/connections", other, `{"id":"shared","name":"n"}`), http.StatusConflict, "nameAlreadyExists")
	own := wantError(t, e.post("/v1.0/external/connections", other, `{"id":"mine","name":"n"}`), http.StatusConflict, "nameAlreadyExists")
	if strings.ReplaceAll(theirs["message"].(string), "shared", "X") != strings.ReplaceAll(own["message"].(string), "mine", "X") {
		t.Errorf("the answers differ: %q vs %q", theirs["message"], own["message"])
	}
	wantError(t, e.get("/v1.0/external/connections/shared", other), http.StatusNotFound, "itemNotFound")
}

func TestIdempotencyKeyGivenTwice(t *testing.T) {
	e := newEnv(t)
	tok := writer(t, "contoso")
	e.createConnection(tok, "conna")
	req, _ := http.NewRequest(http.MethodPost, e.url+"/v1.0/external/connections/conna/operations", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Add("Idempotency-Key", "one")
	req.Header.Add("Idempotency-Key", "two")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("two keys: %d, want 400", res.StatusCode)
	}
	if n := e.operationCount(); n != 0 {
		t.Errorf("operations stored: %d", n)
	}
}

// TestForgedPageTokens: a nextLink's token opens for its query only, and a
// token altered in any way is a 400, never a 500.
func TestForgedPageTokens(t *testing.T) {
	e := newEnv(t)
	tok := writer(t, "contoso")
	e.createConnection(tok, "conna")
	e.seedOperations("contoso", "conna", 5)
	r := e.get("/v1.0/external/connections/conna/operations?$top=2&$orderby=status", tok)
	next, _ := r.json(t)["@odata.nextLink"].(string)
	_, token, ok := strings.Cut(next, "$skiptoken=")
	if !ok {
		t.Fatalf("no token in %q", next)
	}
	payload, mac, _ := strings.Cut(token, ".")
	for _, forged := range []string{
		// A position with a status no enum holds, which once reached the
		// database as a cast and failed with 22P02.
		"WyJub3Rhc3RhdHVzIiwib3AxIl0." + mac,
		payload + "." + strings.Repeat("A", len(mac)),
		payload,
		"%00",
	} {
		path := "/v1.0/external/connections/conna/operations?$top=2&$orderby=status&$skiptoken=" + forged
		wantError(t, e.get(path, tok), http.StatusBadRequest, "invalidRequest")
	}
	// The genuine token does not open for another order.
	wantError(t, e.get("/v1.0/external/connections/conna/operations?$top=2&$skiptoken="+token, tok), http.StatusBadRequest, "invalidRequest")
	if r := e.get(strings.TrimPrefix(next, e.url), tok); r.status != http.StatusOK {
		t.Errorf("the genuine nextLink: %d %s", r.status, r.body)
	}
}

// TestBatchesDoNotNest refuses $batch as an item in every spelling that
// reaches the same route once decoded and cleaned.
func TestBatchesDoNotNest(t *testing.T) {
	e := newEnv(t)
	tok := writer(t, "contoso")
	for _, url := range []string{"/$batch", "/%24batch", "%24BATCH", "/./$batch", "//$batch", "/x/../%24batch",
		"http://localhost/v1.0/%24batch", "https://graph.microsoft.com/beta/%24batch"} {
		body := fmt.Sprintf(`{"requests":[{"id":"1","method":"POST","url":%q,"headers":{"Content-Type":"application/json"},"body":{"requests":[]}}]}`, url)
		got := wantError(t, e.post("/v1.0/$batch", tok, body), http.StatusBadRequest, "invalidRequest")
		if got["target"] != "requests[0].url" {
			t.Errorf("%s: target %v", url, got["target"])
		}
	}
}

func TestBatchFailedDependencyCapsClientRequestID(t *testing.T) {
	e := newEnv(t)
	tok := writer(t, "contoso")
	long := strings.Repeat("c", 4096)
	r, items := e.batch("v1.0", tok, `{"requests":[
		{"id":"1","method":"GET","url":"/external/connections/nope"},
		{"id":"2","method":"GET","url":"/external/connections","dependsOn":["1"],"headers":{"client-request-id":"`+long+`"}}]}`)
	if r.status != http.StatusOK || items["2"].Status != http.StatusFailedDependency {
		t.Fatalf("%d %v", r.status, items)
	}
	inner := items["2"].Body["error"].(map[string]any)["innerError"].(map[string]any)
	if id, _ := inner["client-request-id"].(string); len(id) > 128 {
		t.Errorf("failed-dependency answer echoes a client-request-id of %d bytes", len(id))
	}
}

// TestSlowBodyIs408: a body that stops arriving until the server's read
// deadline is the client's delay: 408, not a 503 that would read as the
// database being down.
func TestSlowBodyIs408(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(newFakeHandler(t, &fakeService{}))
	srv.Config.ReadTimeout = 300 * time.Millisecond
	srv.Start()
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "POST /v1.0/external/connections HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"id\":", writer(t, "contoso"))
	buf := make([]byte, 4096)
	n, _ := conn.Read(buf)
	if !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 408") {
		t.Errorf("answer: %q", buf[:min(n, 200)])
	}
}

// TestListPagesAreBoundedInBytes: a page of large items ends early with a
// nextLink instead of answering megabytes, and paging still returns every
// operation exactly once; a batch of such lists is bounded as a whole.
func TestListPagesAreBoundedInBytes(t *testing.T) {
	e := newEnv(t)
	tok := writer(t, "contoso")
	e.createConnection(tok, "conna")
	// 40 operations with 200 KB errors: 8 MB in all, 20 KB by id alone.
	if _, err := e.pool.Exec(context.Background(), `
		INSERT INTO operations (tenant_id, connection_id, id, status, error)
		SELECT 'contoso', 'conna', 'op' || lpad(i::text, 3, '0'), 'failed',
		       jsonb_build_object('message', repeat('m', 200000))
		FROM generate_series(1, 40) AS i`); err != nil {
		t.Fatal(err)
	}
	const budget = connections.DefaultPageBytes
	r := e.get("/v1.0/external/connections/conna/operations?$top=1000", tok)
	if r.status != http.StatusOK || len(r.body) > budget+300_000 {
		t.Fatalf("first page: %d, %d bytes", r.status, len(r.body))
	}
	if next, _ := r.json(t)["@odata.nextLink"].(string); next == "" || len(ids(t, r)) >= 40 {
		t.Errorf("a page of %d items carries no nextLink", len(ids(t, r)))
	}
	all := e.pageAll("/v1.0/external/connections/conna/operations?$top=1000", tok)
	if len(all) != 40 || all[0] != "op001" || all[39] != "op040" {
		t.Errorf("paging returned %d ids: %v", len(all), all)
	}
	// Without the error selected, the whole list fits on one page.
	if r := e.get("/v1.0/external/connections/conna/operations?$top=1000&$select=id", tok); len(ids(t, r)) != 40 {
		t.Errorf("$select=id page: %d items", len(ids(t, r)))
	}

	var reqs []string
	for i := range 20 {
		reqs = append(reqs, fmt.Sprintf(`{"id":"%d","method":"GET","url":"/external/connections/conna/operations?$top=1000"}`, i))
	}
	br := e.post("/v1.0/$batch", tok, `{"requests":[`+strings.Join(reqs, ",")+`]}`)
	if br.status != http.StatusOK || len(br.body) > 4<<20+20*300_000 {
		t.Errorf("batch of 20 lists: %d, %d bytes", br.status, len(br.body))
	}
	var batch struct {
		Responses []struct {
			Status int `json:"status"`
			Body   struct {
				Value    []json.RawMessage `json:"value"`
				NextLink string            `json:"@odata.nextLink"`
			} `json:"body"`
		} `json:"responses"`
	}
	if err := json.Unmarshal(br.body, &batch); err != nil || len(batch.Responses) != 20 {
		t.Fatalf("batch answer: %v", err)
	}
	for _, item := range batch.Responses {
		if item.Status != http.StatusOK || len(item.Body.Value) == 0 || item.Body.NextLink == "" {
			t.Errorf("batch item: %d, %d items, nextLink %q", item.Status, len(item.Body.Value), item.Body.NextLink)
		}
	}
}

// TestLockedConnectionDoesNotStallOthers: while a transaction holds one
// tenant's connection (as a connection delete does), another tenant's
// creates answer at their usual speed, and the locked one's give up after
// the group lock timeout with a 503 instead of holding their deadline.
func TestLockedConnectionDoesNotStallOthers(t *testing.T) {
	e := newEnv(t)
	a, b := writer(t, "tenanta"), writer(t, "tenantb")
	e.createConnection(a, "conna")
	e.createConnection(b, "connb")
	tx, err := e.pool.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	if _, err := tx.Exec(context.Background(), `SELECT 1 FROM connection_counts WHERE tenant_id = 'tenanta' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	blocked := make([]response, 4)
	for i := range blocked {
		wg.Add(1)
		go func() {
			defer wg.Done()
			blocked[i] = e.post("/v1.0/external/connections/conna/operations", a, `{}`)
		}()
	}
	time.Sleep(100 * time.Millisecond) // let tenant A's creates reach the lock
	var slowest time.Duration
	for range 20 {
		start := time.Now()
		if r := e.post("/v1.0/external/connections/connb/operations", b, `{}`); r.status != http.StatusCreated {
			t.Fatalf("tenant B's create: %d %s", r.status, r.body)
		}
		slowest = max(slowest, time.Since(start))
	}
	if r := e.get("/readyz", ""); r.status != http.StatusOK {
		t.Errorf("readyz while a connection is locked: %d", r.status)
	}
	wg.Wait()
	t.Logf("tenant B's slowest create while tenant A's connection was locked: %v", slowest)
	if slowest > time.Second {
		t.Errorf("tenant B waited %v for a create", slowest)
	}
	for _, r := range blocked {
		wantError(t, r, http.StatusServiceUnavailable, "serviceNotAvailable")
	}
	if n := e.count(`SELECT count(*) FROM operations WHERE tenant_id = 'tenanta'`); n != 0 {
		t.Errorf("tenant A's refused creates stored %d rows", n)
	}
}

// TestTenantConcurrencyIsBounded: with one slot a tenant, a tenant whose
// request is stuck on a lock cannot take a second pool connection, and
// another tenant's reads go on unhindered.
func TestTenantConcurrencyIsBounded(t *testing.T) {
	e := newAppEnv(t, map[string]string{"TENANT_DB_CONCURRENCY": "1"}, nil)
	a, b := writer(t, "tenanta"), writer(t, "tenantb")
	e.createConnection(a, "conna")
	e.createConnection(b, "connb")
	tx, err := e.pool.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	if _, err := tx.Exec(context.Background(), `SELECT 1 FROM connection_counts WHERE tenant_id = 'tenanta' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	stuck := make(chan response, 1)
	go func() { stuck <- e.post("/v1.0/external/connections/conna/operations", a, `{}`) }()
	time.Sleep(100 * time.Millisecond)
	// Tenant A's next request waits for A's one slot; it gets it once the
	// stuck create gives up (lock timeout), well within the slot wait.
	start := time.Now()
	if r := e.get("/v1.0/external/connections/conna", a); r.status != http.StatusOK {
		t.Errorf("tenant A's read after its stuck create: %d", r.status)
	}
	waited := time.Since(start)
	if r := <-stuck; r.status != http.StatusServiceUnavailable {
		t.Errorf("stuck create: %d", r.status)
	}
	start = time.Now()
	if r := e.get("/v1.0/external/connections/connb", b); r.status != http.StatusOK {
		t.Errorf("tenant B: %d", r.status)
	}
	t.Logf("tenant A's read waited %v behind its own stuck create; tenant B's took %v", waited, time.Since(start))
	if waited < time.Second {
		t.Errorf("tenant A's second request did not wait for its slot (%v)", waited)
	}
}

// TestTokenClaimsWithNULAre401: a tid that cannot be a key is a refused
// token, not a database error.
func TestTokenClaimsWithNULAre401(t *testing.T) {
	e := newEnv(t)
	bad := signed(t, jwt.SigningMethodHS256, []byte(testSecret), claims("con\x00toso", time.Now().Add(time.Hour)))
	got := wantError(t, e.get("/v1.0/external/connections", bad), http.StatusUnauthorized, "InvalidAuthenticationToken")
	if msg := got["message"].(string); !strings.Contains(msg, "tid") {
		t.Errorf("message %q does not name the claim", msg)
	}
}
