package httpapi_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connops/connops/internal/auth"
	"github.com/connops/connops/internal/connections"
	"github.com/connops/connops/internal/httpapi"
)

// Every documented cap has a test here: the largest allowed value works and
// one past it is refused with a Graph error that names the limit.

// lockedBuffer collects log output written from the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestRateLimitPerTenantAndApp(t *testing.T) {
	const burst = 3
	// One token every ten seconds: nothing refills while the test runs.
	e := newAppEnv(t, map[string]string{"RATE_LIMIT_RPS": "0.1", "RATE_LIMIT_BURST": strconv.Itoa(burst)}, nil)
	appA := token(t, "contoso", "app-a", connections.PermReadAll)
	const path = "/v1.0/external/connections"

	for i := range burst {
		if r := e.get(path, appA); r.status != http.StatusOK {
			t.Fatalf("request %d within the burst: %d %s", i+1, r.status, r.body)
		}
	}
	r := e.get(path, appA)
	wantError(t, r, http.StatusTooManyRequests, "TooManyRequests")
	retry, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || retry < 1 || retry > 10 {
		t.Errorf("Retry-After = %q, want an integer number of seconds from 1 to 10", r.header.Get("Retry-After"))
	}
	// Writes are limited by the same bucket, and a refused one stores nothing.
	rw := token(t, "contoso", "app-a", connections.PermReadWriteAll)
	wantError(t, e.post(path, rw, `{"id":"limited","name":"x"}`), http.StatusTooManyRequests, "TooManyRequests")
	if n := e.count(`SELECT count(*) FROM connections`); n != 0 {
		t.Errorf("a rate-limited create stored %d connections", n)
	}

	// The bucket belongs to the tenant and app: another app of the same
	// tenant, and the same app id in another tenant, are unaffected.
	others := map[string]string{
		"other app, same tenant": token(t, "contoso", "app-b", connections.PermReadAll),
		"same app, other tenant": token(t, "fabrikam", "app-a", connections.PermReadAll),
	}
	for name, tok := range others {
		if r := e.get(path, tok); r.status != http.StatusOK {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	// Tokens with other permissions or lifetimes do not buy a new bucket.
	fresh, err := auth.Issue([]byte(testSecret), auth.DevToken{TenantID: "contoso", AppID: "app-a",
		Roles: []string{connections.PermReadAll, "User.Read"}, TTL: 2 * time.Hour}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, e.get(path, fresh), http.StatusTooManyRequests, "TooManyRequests")
	// Unauthenticated requests never reach the limiter: they are 401, not 429.
	wantError(t, e.get(path, ""), http.StatusUnauthorized, "InvalidAuthenticationToken")
}

// TestRateLimitCountsBatchedRequests: each request inside a $batch draws from
// the caller's bucket like a request of its own, so a batch is no way around
// the limit.
func TestRateLimitCountsBatchedRequests(t *testing.T) {
	const burst = 4
	e := newAppEnv(t, map[string]string{"RATE_LIMIT_RPS": "0.1", "RATE_LIMIT_BURST": strconv.Itoa(burst)}, nil)
	tok := token(t, "contoso", "app-a", connections.PermReadAll)
	var reqs []string
	for i := range burst {
		reqs = append(reqs, fmt.Sprintf(`{"id":"%d","method":"GET","url":"/external/connections"}`, i))
	}
	// The batch itself takes one token, leaving burst-1 for its requests.
	r, items := e.batch("v1.0", tok, `{"requests":[`+strings.Join(reqs, ",")+`]}`)
	if r.status != http.StatusOK {
		t.Fatalf("batch: %d %s", r.status, r.body)
	}
	limited := 0
	for _, it := range items {
		if it.Status == http.StatusTooManyRequests {
			limited++
		}
	}
	if limited != 1 {
		t.Errorf("%d of %d batched requests were limited, want 1: %+v", limited, burst, items)
	}
	wantError(t, e.get(setV1, tok), http.StatusTooManyRequests, "TooManyRequests")
	wantError(t, e.post("/v1.0/$batch", tok, `{"requests":[`+reqs[0]+`]}`), http.StatusTooManyRequests, "TooManyRequests")
}

func TestRateLimitRefills(t *testing.T) {
	e := newAppEnv(t, map[string]string{"RATE_LIMIT_RPS": "1", "RATE_LIMIT_BURST": "1"}, nil)
	tok := token(t, "contoso", "app-a", connections.PermReadAll)
	if r := e.get("/v1.0/external/connections", tok); r.status != http.StatusOK {
		t.Fatalf("first: %d", r.status)
	}
	r := e.get("/v1.0/external/connections", tok)
	wantError(t, r, http.StatusTooManyRequests, "TooManyRequests")
	// A wait of under a second rounds up: Retry-After is never 0.
	if r.header.Get("Retry-After") != "1" {
		t.Errorf("Retry-After = %q, want 1", r.header.Get("Retry-After"))
	}
	time.Sleep(1100 * time.Millisecond)
	if r := e.get("/v1.0/external/connections", tok); r.status != http.StatusOK {
		t.Errorf("after refill: %d %s", r.status, r.body)
	}
}

func TestBodySizeLimit(t *testing.T) {
	e := newEnv(t)
	tok := writer(t, "contoso")
	e.createConnection(tok, "hrconn")
	const path = "/v1.0/external/connections/hrconn/operations"
	limit := httpapi.DefaultMaxBodyBytes
	// Pads a body to exactly n bytes with spaces, which JSON ignores.
	padded := func(body string, n int) string { return body + strings.Repeat(" ", n-len(body)) }

	if r := e.post(path, tok, padded(`{"id":"atlimit"}`, limit)); r.status != http.StatusCreated {
		t.Errorf("a body of exactly %d bytes: %d %s", limit, r.status, r.body)
	}
	got := wantError(t, e.post(path, tok, padded(`{"id":"overlimit"}`, limit+1)), http.StatusRequestEntityTooLarge, "requestEntityTooLarge")
	if !strings.Contains(got["message"].(string), strconv.Itoa(limit)) {
		t.Errorf("message %q does not name the limit", got["message"])
	}
	// Without a Content-Length the cap holds while reading.
	r := e.sendChunked(http.MethodPost, path, tok, padded(`{"id":"chunked"}`, limit+1))
	wantError(t, r, http.StatusRequestEntityTooLarge, "requestEntityTooLarge")
	if n := e.operationCount(); n != 1 {
		t.Errorf("operations = %d, want only the one at the limit", n)
	}

	// $batch gets four times the cap.
	batch := func(n int) string {
		return padded(`{"requests":[{"id":"1","method":"GET","url":"/external/connections/hrconn"}]}`, n)
	}
	if r := e.post("/v1.0/$batch", tok, batch(4*limit)); r.status != http.StatusOK {
		t.Errorf("a batch of %d bytes: %d %s", 4*limit, r.status, truncateBody(r.body))
	}
	wantError(t, e.post("/v1.0/$batch", tok, batch(4*limit+1)), http.StatusRequestEntityTooLarge, "requestEntityTooLarge")
	wantError(t, e.sendChunked(http.MethodPost, "/v1.0/$batch", tok, batch(4*limit+1)), http.StatusRequestEntityTooLarge, "requestEntityTooLarge")
}

// sendChunked sends body without a Content-Length.
func (e *env) sendChunked(method, path, tok, body string) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, io.MultiReader(strings.NewReader(body)))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: b}
}

func truncateBody(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}

func TestStringAndArrayLimits(t *testing.T) {
	e := newEnv(t)
	tok := writer(t, "contoso")
	e.createConnection(tok, "hrconn")
	const ops = "/v1.0/external/connections/hrconn/operations"
	const legacyOps = "/beta/connections/hrconn/operations"
	str := func(n int) string { return strings.Repeat("x", n) }
	// Limits count characters, not bytes.
	runes := func(n int) string { return strings.Repeat("é", n) }
	details := func(n int) string {
		return "[" + strings.TrimSuffix(strings.Repeat(`{"message":"m"},`, n), ",") + "]"
	}
	apps := func(n int, each string) string {
		return `["` + strings.TrimSuffix(strings.Repeat(each+`","`, n), `","`) + `"]`
	}
	conn := func(extra string) string {
		return `{"id":"c` + strconv.Itoa(int(time.Now().UnixNano()%1e9)) + `","name":"n"` + extra + `}`
	}

	tests := []struct {
		name, path    string
		ok, tooBig    string
		target        string
		createsAnOp   bool
		createsAConn  bool
		okStatus      int
		patchConnPath string
	}{
		{name: "operation id", path: ops, ok: `{"id":"` + str(128) + `"}`, tooBig: `{"id":"` + str(129) + `"}`, target: "id"},
		{name: "error code", path: ops, ok: `{"error":{"code":"` + runes(128) + `"}}`, tooBig: `{"error":{"code":"` + runes(129) + `"}}`, target: "error.code"},
		{name: "error message", path: ops, ok: `{"error":{"message":"` + runes(4096) + `"}}`, tooBig: `{"error":{"message":"` + runes(4097) + `"}}`, target: "error.message"},
		{name: "error target", path: ops, ok: `{"error":{"target":"` + str(256) + `"}}`, tooBig: `{"error":{"target":"` + str(257) + `"}}`, target: "error.target"},
		{name: "detail message", path: ops, ok: `{"error":{"details":[{"message":"` + str(4096) + `"}]}}`, tooBig: `{"error":{"details":[{"message":"` + str(4097) + `"}]}}`, target: "error.details[0].message"},
		{name: "inner error code", path: ops, ok: `{"error":{"innerError":{"code":"` + str(128) + `"}}}`, tooBig: `{"error":{"innerError":{"code":"` + str(129) + `"}}}`, target: "error.innerError.code"},
		{name: "details", path: ops, ok: `{"error":{"details":` + details(32) + `}}`, tooBig: `{"error":{"details":` + details(33) + `}}`, target: "error.details"},
		{name: "inner error details", path: ops, ok: `{"error":{"innerError":{"details":` + details(32) + `}}}`, tooBig: `{"error":{"innerError":{"details":` + details(33) + `}}}`, target: "error.innerError.details"},
		{name: "legacy details", path: legacyOps, ok: `{"error":{"details":` + details(32) + `}}`, tooBig: `{"error":{"details":` + details(33) + `}}`, target: "error.details"},
		{name: "legacy error code", path: legacyOps, ok: `{"error":{"errorCode":"` + str(128) + `"}}`, tooBig: `{"error":{"errorCode":"` + str(129) + `"}}`, target: "error.errorCode"},
		{name: "connection name", path: setV1, ok: `{"id":"namelimit","name":"` + runes(128) + `"}`, tooBig: `{"id":"namelimit2","name":"` + runes(129) + `"}`, target: "name"},
		{name: "connection description", path: setV1, ok: conn(`,"description":"` + runes(4096) + `"`), tooBig: conn(`,"description":"` + runes(4097) + `"`), target: "description"},
		{name: "connection id", path: setV1, ok: `{"id":"` + str(32) + `","name":"n"}`, tooBig: `{"id":"` + str(33) + `","name":"n"}`, target: "id"},
		{name: "authorizedAppIds entries", path: setV1, ok: `{"id":"apps32","name":"n","configuration":{"authorizedAppIds":` + apps(32, "app") + `}}`,
			tooBig: `{"id":"apps33","name":"n","configuration":{"authorizedAppIds":` + apps(33, "app") + `}}`, target: "configuration.authorizedAppIds"},
		{name: "authorizedAppIds entry length", path: setV1, ok: `{"id":"applen128","name":"n","configuration":{"authorizedAppIds":` + apps(1, str(128)) + `}}`,
			tooBig: `{"id":"applen129","name":"n","configuration":{"authorizedAppIds":` + apps(1, str(129)) + `}}`, target: "configuration.authorizedAppIds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r := e.post(tt.path, tok, tt.ok); r.status != http.StatusCreated {
				t.Fatalf("at the limit: %d %s", r.status, truncateBody(r.body))
			}
			before := e.operationCount() + e.count(`SELECT count(*) FROM connections`)
			got := wantError(t, e.post(tt.path, tok, tt.tooBig), http.StatusBadRequest, "invalidRequest")
			if got["target"] != tt.target {
				t.Errorf("target = %v, want %s (%v)", got["target"], tt.target, got["message"])
			}
			if !strings.Contains(got["message"].(string), tt.target) {
				t.Errorf("message %q does not name %s", got["message"], tt.target)
			}
			if after := e.operationCount() + e.count(`SELECT count(*) FROM connections`); after != before {
				t.Errorf("rows %d -> %d after a refused create", before, after)
			}
		})
	}

	// The same limits hold on PATCH.
	e.createConnection(tok, "patchme")
	if r := e.post(setV1+"/patchme/operations", tok, `{"id":"op1"}`); r.status != http.StatusCreated {
		t.Fatalf("op1: %d %s", r.status, r.body)
	}
	patches := []struct{ path, body, target string }{
		{setV1 + "/patchme", `{"name":"` + str(129) + `"}`, "name"},
		{setV1 + "/patchme", `{"description":"` + str(4097) + `"}`, "description"},
		{setV1 + "/patchme", `{"configuration":{"authorizedAppIds":` + apps(33, "a") + `}}`, "configuration.authorizedAppIds"},
		{setV1 + "/patchme/operations/op1", `{"error":{"message":"` + str(4097) + `"}}`, "error.message"},
		{setV1 + "/patchme/operations/op1", `{"error":{"details":` + details(33) + `}}`, "error.details"},
	}
	before := e.snapshot("contoso")
	for _, p := range patches {
		r := e.send(request{method: http.MethodPatch, path: p.path, token: tok, body: p.body})
		if got := wantError(t, r, http.StatusBadRequest, "invalidRequest"); got["target"] != p.target {
			t.Errorf("PATCH %s: target %v, want %s", p.path, got["target"], p.target)
		}
	}
	if after := e.snapshot("contoso"); after != before {
		t.Errorf("refused patches changed rows:\n%s\n%s", before, after)
	}
}

func TestNestingDepthLimit(t *testing.T) {
	e := newEnv(t)
	tok := writer(t, "contoso")
	e.createConnection(tok, "hrconn")
	const path = "/v1.0/external/connections/hrconn/operations"
	nested := func(depth int) string { // depth levels in all, the outer object included
		return `{"error":{"details":` + strings.Repeat("[", depth-2) + strings.Repeat("]", depth-2) + `}}`
	}

	for _, body := range []string{
		nested(17),
		`{"id":"x",` + strings.Repeat(`"a":{`, 20) + `}`,
		strings.Repeat("[", 100_000),
		`{"error":{"message":"\"` + `"},"x":` + strings.Repeat("[", 20) + `}`,
	} {
		got := wantError(t, e.post(path, tok, body), http.StatusBadRequest, "invalidRequest")
		if msg := got["message"].(string); !strings.Contains(msg, "16") || !strings.Contains(msg, "deeper") {
			t.Errorf("message %q does not name the depth limit of 16", msg)
		}
	}
	// At the limit the body is judged on its content, not its depth.
	got := wantError(t, e.post(path, tok, nested(16)), http.StatusBadRequest, "invalidRequest")
	if strings.Contains(got["message"].(string), "deeper") {
		t.Errorf("a body at the limit was refused for depth: %v", got["message"])
	}
	// Brackets inside strings, escaped quotes included, do not count.
	brackets := strings.Repeat("[{", 40)
	body := `{"id":"strings","error":{"message":"` + brackets + `\"` + brackets + `\\","target":"\\\"` + brackets + `"}}`
	if r := e.post(path, tok, body); r.status != http.StatusCreated {
		t.Errorf("brackets in strings: %d %s", r.status, r.body)
	}
	// The deepest body the API accepts, a batch carrying an inner error's
	// details, fits.
	deep := `{"requests":[{"id":"1","method":"POST","url":"/external/connections/hrconn/operations",` +
		`"body":{"id":"deep","error":{"innerError":{"details":[{"message":"m"}]}}}}]}`
	_, items := e.batch("v1.0", tok, deep)
	if items["1"].Status != http.StatusCreated {
		t.Errorf("deep batch: %+v", items)
	}
	wantError(t, e.post("/v1.0/$batch", tok, `{"requests":`+strings.Repeat("[", 17)+`}`), http.StatusBadRequest, "invalidRequest")
	if n := e.operationCount(); n != 2 {
		t.Errorf("operations = %d, want 2", n)
	}
}

func TestPageSizeLimit(t *testing.T) {
	e := newEnv(t)
	tok := writer(t, "contoso")
	e.createConnection(tok, "hrconn")
	for _, path := range []string{setV1, setV1 + "/hrconn/operations", "/beta/connections/hrconn/operations"} {
		if r := e.get(path+"?$top=1000", tok); r.status != http.StatusOK {
			t.Errorf("%s $top=1000: %d %s", path, r.status, r.body)
		}
		got := wantError(t, e.get(path+"?$top=1001", tok), http.StatusBadRequest, "invalidRequest")
		if got["target"] != "$top" || !strings.Contains(got["message"].(string), "1000") {
			t.Errorf("%s: target %v message %v", path, got["target"], got["message"])
		}
	}
	// $skip is an offset the database must scan past, so it is capped;
	// deeper pages come from the nextLink's $skiptoken, which seeks.
	if r := e.get(setV1+"/hrconn/operations?$skip="+strconv.Itoa(connections.MaxSkip), tok); r.status != http.StatusOK {
		t.Errorf("$skip at the cap: %d %s", r.status, r.body)
	}
	got := wantError(t, e.get(setV1+"/hrconn/operations?$skip="+strconv.Itoa(connections.MaxSkip+1), tok), http.StatusBadRequest, "invalidRequest")
	if got["target"] != "$skip" || !strings.Contains(got["message"].(string), strconv.Itoa(connections.MaxSkip)) {
		t.Errorf("$skip past the cap: %v", got)
	}
}

func TestConnectionsPerTenantQuota(t *testing.T) {
	const limit = 3
	e := newAppEnv(t, map[string]string{"MAX_CONNECTIONS_PER_TENANT": strconv.Itoa(limit)}, nil)
	admin := writer(t, "contoso")
	owned := token(t, "contoso", "app-owned", connections.PermReadWriteOwnedBy)
	e.createConnection(admin, "conn1")
	e.createConnection(admin, "conn2")
	// OwnedBy apps draw on the same tenant quota.
	if r := e.post(setV1, owned, `{"id":"conn3","name":"x"}`); r.status != http.StatusCreated {
		t.Fatalf("third: %d %s", r.status, r.body)
	}
	for _, tok := range []string{admin, owned} {
		got := wantError(t, e.post(setV1, tok, `{"id":"conn4","name":"x"}`), http.StatusConflict, "limitExceeded")
		if !strings.Contains(got["message"].(string), strconv.Itoa(limit)) {
			t.Errorf("message %q does not name the quota", got["message"])
		}
	}
	// The same through $batch.
	_, items := e.batch("v1.0", admin, `{"requests":[{"id":"1","method":"POST","url":"/external/connections","body":{"id":"conn4","name":"x"}}]}`)
	if items["1"].Status != http.StatusConflict {
		t.Errorf("batch create over quota: %+v", items["1"])
	}
	if n := e.count(`SELECT count(*) FROM connections WHERE tenant_id = 'contoso'`); n != limit {
		t.Fatalf("contoso has %d connections, want %d", n, limit)
	}
	// The quota is per tenant.
	e.createConnection(writer(t, "fabrikam"), "conn4")
	// Deleting one frees a slot.
	if r := e.send(request{method: http.MethodDelete, path: setV1 + "/conn1", token: admin}); r.status != http.StatusAccepted {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	e.createConnection(admin, "conn4")
	wantError(t, e.post(setV1, admin, `{"id":"conn5","name":"x"}`), http.StatusConflict, "limitExceeded")
}

func TestConnectionsQuotaHoldsUnderConcurrentCreates(t *testing.T) {
	const limit = 5
	e := newAppEnv(t, map[string]string{"MAX_CONNECTIONS_PER_TENANT": strconv.Itoa(limit)}, nil)
	admin := writer(t, "contoso")
	var wg sync.WaitGroup
	statuses := make(chan int, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, e.url+setV1, strings.NewReader(fmt.Sprintf(`{"id":"race%d","name":"x"}`, i)))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+admin)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			res.Body.Close()
			statuses <- res.StatusCode
		}()
	}
	wg.Wait()
	close(statuses)
	created := 0
	for s := range statuses {
		switch s {
		case http.StatusCreated:
			created++
		case http.StatusConflict:
		default:
			t.Errorf("status %d", s)
		}
	}
	if n := e.count(`SELECT count(*) FROM connections`); n != limit || created != limit {
		t.Errorf("%d created (%d rows), want exactly %d", created, n, limit)
	}
}

func TestFilterLimits(t *testing.T) {
	e := newEnv(t)
	tok := writer(t, "contoso")
	e.createConnection(tok, "hrconn")
	const path = "/v1.0/external/connections/hrconn/operations"
	filter := func(f string) string { return path + "?$filter=" + url.QueryEscape(f) }
	ors := func(n int) string { return strings.TrimSuffix(strings.Repeat("id eq 'a' or ", n), " or ") }
	in := func(n int) string {
		return "id in (" + strings.TrimSuffix(strings.Repeat("'a',", n), ",") + ")"
	}
	parens := func(n int) string { return strings.Repeat("(", n) + "id eq 'a'" + strings.Repeat(")", n) }
	nots := func(n int) string { return strings.Repeat("not ", n) + "id eq 'a'" }
	long := func(n int) string { // a valid filter of exactly n characters
		return "id eq '" + strings.Repeat("x", n-len("id eq ''")) + "'"
	}

	tests := []struct {
		name        string
		ok, tooBig  string
		wantMessage string
	}{
		{"length", long(2048), long(2049), "2048"},
		// Every node counts as a term: comparisons, in lists, and, or and
		// not. Sixteen comparisons joined by or are 31; one not makes 32.
		{"terms", "not (" + ors(16) + ")", "not not (" + ors(16) + ")", "32"},
		{"comparisons", ors(16), ors(17), "32"},
		{"in values", in(100), in(101), "100"},
		{"parenthesis depth", parens(16), parens(17), "16"},
		{"not depth", nots(16), nots(17), "16"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, p := range []string{tt.ok} {
				if r := e.get(filter(p), tok); r.status != http.StatusOK {
					t.Errorf("at the limit: %d %s", r.status, truncateBody(r.body))
				}
				countPath := strings.Replace(filter(p), "/operations?", "/operations/$count?", 1)
				if r := e.get(countPath, tok); r.status != http.StatusOK {
					t.Errorf("$count at the limit: %d %s", r.status, truncateBody(r.body))
				}
			}
			got := wantError(t, e.get(filter(tt.tooBig), tok), http.StatusBadRequest, "invalidRequest")
			if got["target"] != "$filter" || !strings.Contains(got["message"].(string), tt.wantMessage) {
				t.Errorf("target %v, message %q; want $filter and %s", got["target"], got["message"], tt.wantMessage)
			}
			countPath := strings.Replace(filter(tt.tooBig), "/operations?", "/operations/$count?", 1)
			wantError(t, e.get(countPath, tok), http.StatusBadRequest, "invalidRequest")
		})
	}
	// Terms count across and, or and not alike.
	mixed := strings.TrimSuffix(strings.Repeat("not (id eq 'a') and ", 20), " and ")
	wantError(t, e.get(filter(mixed), tok), http.StatusBadRequest, "invalidRequest")
}

func TestBatchSizeLimit(t *testing.T) {
	e := newEnv(t)
	tok := writer(t, "contoso")
	e.createConnection(tok, "hrconn")
	batch := func(n int) string {
		var reqs []string
		for i := range n {
			reqs = append(reqs, fmt.Sprintf(`{"id":"%d","method":"GET","url":"/external/connections/hrconn"}`, i))
		}
		return `{"requests":[` + strings.Join(reqs, ",") + `]}`
	}
	if r, items := e.batch("v1.0", tok, batch(httpapi.MaxBatchRequests)); r.status != http.StatusOK || len(items) != 20 {
		t.Errorf("batch of 20: %d, %d answers", r.status, len(items))
	}
	got := wantError(t, e.post("/v1.0/$batch", tok, batch(httpapi.MaxBatchRequests+1)), http.StatusBadRequest, "invalidRequest")
	if !strings.Contains(got["message"].(string), "20") {
		t.Errorf("message %q does not name the limit", got["message"])
	}
	wantError(t, e.post("/beta/$batch", tok, batch(httpapi.MaxBatchRequests+1)), http.StatusBadRequest, "invalidRequest")
	// A batch cannot nest another batch to multiply itself.
	nested := `{"requests":[{"id":"1","method":"POST","url":"/$batch","body":` + batch(20) + `}]}`
	wantError(t, e.post("/v1.0/$batch", tok, nested), http.StatusBadRequest, "invalidRequest")
}

func TestIdempotencyKeyLimit(t *testing.T) {
	e := newEnv(t)
	tok := writer(t, "contoso")
	e.createConnection(tok, "hrconn")
	const path = "/v1.0/external/connections/hrconn/operations"
	post := func(key, body string) response {
		return e.send(request{method: http.MethodPost, path: path, token: tok, body: body,
			header: map[string]string{"Idempotency-Key": key}})
	}
	if r := post(strings.Repeat("k", connections.MaxIdempotencyKeyLen), `{"id":"a"}`); r.status != http.StatusCreated {
		t.Errorf("key of %d characters: %d %s", connections.MaxIdempotencyKeyLen, r.status, r.body)
	}
	for name, key := range map[string]string{
		"too long":  strings.Repeat("k", connections.MaxIdempotencyKeyLen+1),
		"has space": "a b",
		"not ascii": "clé",
	} {
		got := wantError(t, post(key, `{"id":"b"}`), http.StatusBadRequest, "invalidRequest")
		if got["target"] != "Idempotency-Key" {
			t.Errorf("%s: target %v", name, got["target"])
		}
	}
	if n := e.operationCount(); n != 1 {
		t.Errorf("operations = %d, want 1", n)
	}
	if n := e.count(`SELECT count(*) FROM idempotency_keys`); n != 1 {
		t.Errorf("idempotency keys = %d, want 1", n)
	}
}

func TestClientRequestIDLimit(t *testing.T) {
	e := newEnv(t)
	tok := writer(t, "contoso")
	for _, tt := range []struct {
		sent string
		echo bool
	}{{strings.Repeat("c", 128), true}, {strings.Repeat("c", 129), false}} {
		r := e.send(request{method: http.MethodGet, path: setV1, token: tok, header: map[string]string{"client-request-id": tt.sent}})
		if got := r.header.Get("client-request-id") == tt.sent; got != tt.echo {
			t.Errorf("client-request-id of %d characters echoed = %v, want %v", len(tt.sent), got, tt.echo)
		}
	}
}

func TestTokenSizeLimit(t *testing.T) {
	e := newEnv(t)
	big := strings.Repeat("a", 64<<10) + "." + strings.Repeat("b", 10) + ".c"
	got := wantError(t, e.get(setV1, big), http.StatusUnauthorized, "InvalidAuthenticationToken")
	if strings.Contains(got["message"].(string), "aaaaaaaa") {
		t.Errorf("the answer echoes the token")
	}
}

// clientIPs returns the client_ip of every request line logged.
func clientIPs(t *testing.T, logs string) []string {
	t.Helper()
	var ips []string
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		var line struct {
			Msg      string `json:"msg"`
			ClientIP string `json:"client_ip"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, sc.Text())
		}
		if line.Msg == "request" {
			ips = append(ips, line.ClientIP)
		}
	}
	return ips
}

func TestTrustedProxies(t *testing.T) {
	spoofed := map[string]string{"X-Forwarded-For": "203.0.113.7", "X-Real-IP": "198.51.100.9"}
	tests := []struct {
		name    string
		proxies []string
		want    string
	}{
		{"none trusted by default", nil, "127.0.0.1"},
		{"other proxy trusted", []string{"10.0.0.0/8"}, "127.0.0.1"},
		{"loopback trusted", []string{"127.0.0.1"}, "203.0.113.7"},
		{"loopback range trusted", []string{"127.0.0.0/8", "::1"}, "203.0.113.7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs lockedBuffer
			e := newAppEnv(t, map[string]string{"TRUSTED_PROXIES": strings.Join(tt.proxies, ",")}, &logs)
			tok := writer(t, "contoso")
			e.send(request{method: http.MethodGet, path: setV1, token: tok, header: spoofed})
			e.send(request{method: http.MethodGet, path: setV1, header: spoofed}) // 401s are logged too
			ips := clientIPs(t, logs.String())
			if len(ips) != 2 {
				t.Fatalf("logged %d requests, want 2:\n%s", len(ips), logs.String())
			}
			for _, ip := range ips {
				if ip != tt.want {
					t.Errorf("client_ip = %q, want %q", ip, tt.want)
				}
			}
		})
	}
	t.Run("bad proxy list is refused", func(t *testing.T) {
		t.Parallel()
		if _, err := httpapi.New(httpapi.Config{TrustedProxies: []string{"not-an-ip"}, PageTokens: testTokens(t)}, nil, nil, nil, slog.New(slog.DiscardHandler)); err == nil {
			t.Error("New accepted a malformed trusted proxy")
		}
	})
}

func TestHeaderSizeLimit(t *testing.T) {
	t.Parallel()
	// The same cap as cmd/connops newHTTPServer; a test there checks its
	// value. Go allows 4 KiB over MaxHeaderBytes before refusing.
	const maxHeaderBytes = 64 << 10
	srv := httptest.NewUnstartedServer(newFakeHandler(t, &fakeService{}))
	srv.Config.MaxHeaderBytes = maxHeaderBytes
	srv.Start()
	defer srv.Close()
	tok := writer(t, "contoso")

	send := func(pad int) int {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(conn, "GET /v1.0/external/connections HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nX-Pad: %s\r\nConnection: close\r\n\r\n",
			tok, strings.Repeat("p", pad))
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("header of %d bytes: %v", pad, err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := send(32 << 10); got != http.StatusOK {
		t.Errorf("32 KiB header: %d", got)
	}
	if got := send(100 << 10); got != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("100 KiB header: %d, want 431", got)
	}
}
