package httpapi_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/connops/connops/internal/connections"
)

func TestEveryFailureIsAGraphError(t *testing.T) {
	e := newFakeEnv(t, &fakeService{err: connections.ErrNotFound})
	tok := writer(t, "contoso")

	wantError(t, e.get("/v1.0/nothing/here", tok), http.StatusNotFound, "resourceNotFound")
	wantError(t, e.get("/v2.0/connections", tok), http.StatusNotFound, "resourceNotFound")
	wantError(t, e.send(request{method: http.MethodPut, path: "/v1.0/connections/contosohr", token: tok, body: `{}`}),
		http.StatusMethodNotAllowed, "notSupported")

	r := e.send(request{method: http.MethodGet, path: "/v1.0/connections/none", token: tok,
		header: map[string]string{"client-request-id": "my-correlation-id"}})
	got := wantError(t, r, http.StatusNotFound, "itemNotFound")
	if r.header.Get("client-request-id") != "my-correlation-id" {
		t.Errorf("client-request-id header = %q", r.header.Get("client-request-id"))
	}
	if inner := got["innerError"].(map[string]any); inner["client-request-id"] != "my-correlation-id" {
		t.Errorf("innerError = %v", inner)
	}
	if r.header.Get("request-id") == "" || r.header.Get("request-id") == "my-correlation-id" {
		t.Errorf("request-id = %q", r.header.Get("request-id"))
	}
}

// TestBareKindsMapThroughTheTable: a domain kind that reaches the HTTP
// layer without a message of its own (a store's %w-wrapped sentinel, say)
// still gets its status and code, never a 500.
func TestBareKindsMapThroughTheTable(t *testing.T) {
	tests := []struct {
		kind   error
		status int
		code   string
	}{
		{connections.ErrInvalid, 400, "invalidRequest"},
		{connections.ErrNotFound, 404, "itemNotFound"},
		{connections.ErrAlreadyExists, 409, "nameAlreadyExists"},
		{connections.ErrConflict, 409, "conflict"},
		{connections.ErrUnprocessable, 422, "idempotencyKeyReused"},
		{connections.ErrLimitExceeded, 409, "limitExceeded"},
		{connections.ErrPreconditionFailed, 412, "resourceModified"},
		{connections.ErrForbidden, 403, "accessDenied"},
		{connections.ErrUnavailable, 503, "serviceNotAvailable"},
		{fmt.Errorf("select operation x: %w", connections.ErrNotFound), 404, "itemNotFound"},
	}
	for _, tt := range tests {
		t.Run(tt.kind.Error(), func(t *testing.T) {
			e := newFakeEnv(t, &fakeService{err: tt.kind})
			r := e.get("/v1.0/external/connections/conna/operations/op1", writer(t, "contoso"))
			got := wantError(t, r, tt.status, tt.code)
			if msg, _ := got["message"].(string); msg == tt.kind.Error() || strings.Contains(msg, "select operation") {
				t.Errorf("message %q repeats the internal error", msg)
			}
		})
	}
}

func TestPanicIsAGraph500(t *testing.T) {
	e := newFakeEnv(t, &fakeService{panics: true})
	r := e.get("/v1.0/connections/contosohr", writer(t, "contoso"))
	got := wantError(t, r, http.StatusInternalServerError, "generalException")
	if got["message"] == "secret internal detail" {
		t.Errorf("panic value leaked: %v", got["message"])
	}
}

func TestDatabaseUnavailableIs503(t *testing.T) {
	e := newFakeEnv(t, &fakeService{err: connections.ErrUnavailable})
	r := e.post("/v1.0/connections/contosohr/operations", writer(t, "contoso"), `{}`)
	wantError(t, r, http.StatusServiceUnavailable, "serviceNotAvailable")
	if r.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	if r := e.get("/healthz", ""); r.status != http.StatusOK {
		t.Errorf("healthz depends on the database: %d", r.status)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	e := newEnv(t)
	if r := e.get("/healthz", ""); r.status != http.StatusOK {
		t.Errorf("healthz: %d", r.status)
	}
	if r := e.get("/readyz", ""); r.status != http.StatusOK {
		t.Errorf("readyz: %d %s", r.status, r.body)
	}
}

// TestRefusedBodiesNeverReachTheService: bodies that are not what the route
// takes are refused by the HTTP layer, naming the problem, before the
// domain is called at all.
func TestRefusedBodiesNeverReachTheService(t *testing.T) {
	fake := &fakeService{}
	e := newFakeEnv(t, fake)
	tok := writer(t, "contoso")
	for _, tt := range []struct{ name, body, target string }{
		{"not JSON", `{"id":`, ""},
		{"unknown property", `{"id":"a","name":"n","colour":"red"}`, "colour"},
		{"wrong type", `{"id":7,"name":"n"}`, "id"},
		{"invalid UTF-8", "{\"id\":\"a\xff\",\"name\":\"n\"}", ""},
		{"trailing data", `{"id":"a","name":"n"} {}`, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := wantError(t, e.post("/v1.0/external/connections", tok, tt.body), http.StatusBadRequest, "invalidRequest")
			if target, _ := got["target"].(string); target != tt.target {
				t.Errorf("target = %q, want %q", target, tt.target)
			}
		})
	}
	if calls := fake.called(); len(calls) != 0 {
		t.Errorf("refused bodies reached the service: %v", calls)
	}
}

// TestQueryOptionErrors: malformed, unknown or repeated options are 400s
// naming the option, decided before the domain is called.
func TestQueryOptionErrors(t *testing.T) {
	fake := &fakeService{}
	e := newFakeEnv(t, fake)
	tok := writer(t, "contoso")
	for _, tt := range []struct{ path, target string }{
		{"/v1.0/external/connections/c/operations?$top=ten", "$top"},
		{"/v1.0/external/connections/c/operations?$expand=x", "$expand"},
		{"/beta/external/connections/c/operations?top=1&$top=3", "$top"},
		{"/v1.0/external/connections/c/operations?$filter=id%20eq%20'%00'", "$filter"},
		{"/v1.0/external/connections/c/operations?$skiptoken=forged", "$skiptoken"},
		{"/v1.0/external/connections/c/operations/op?$top=1", "$top"},
	} {
		got := wantError(t, e.get(tt.path, tok), http.StatusBadRequest, "invalidRequest")
		if got["target"] != tt.target {
			t.Errorf("%s: target = %v, want %s", tt.path, got["target"], tt.target)
		}
	}
	if calls := fake.called(); len(calls) != 0 {
		t.Errorf("refused queries reached the service: %v", calls)
	}
	// $skipToken, as @microsoft/microsoft-graph-client spells it, is the
	// same option: a forged one is refused as a token, not as unknown.
	got := wantError(t, e.get("/v1.0/external/connections/c/operations?$skipToken=forged", tok), http.StatusBadRequest, "invalidRequest")
	if got["target"] != "$skiptoken" {
		t.Errorf("$skipToken: target = %v", got["target"])
	}
}

func TestBadPathBytesAre400(t *testing.T) {
	fake := &fakeService{}
	e := newFakeEnv(t, fake)
	tok := writer(t, "contoso")
	for _, p := range []string{"/v1.0/external/connections/a%00b", "/v1.0/external/connections/a%FFb", "/v1.0/connections/x/operations/%01"} {
		got := wantError(t, e.get(p, tok), http.StatusBadRequest, "invalidRequest")
		if got["target"] != "path" {
			t.Errorf("%s: target = %v", p, got["target"])
		}
	}
	if calls := fake.called(); len(calls) != 0 {
		t.Errorf("bad paths reached the service: %v", calls)
	}
}

func TestHeadAndOptions(t *testing.T) {
	e := newFakeEnv(t, &fakeService{})
	tok := writer(t, "contoso")
	head := e.send(request{method: http.MethodHead, path: "/v1.0/external/connections/conna", token: tok})
	get := e.get("/v1.0/external/connections/conna", tok)
	if head.status != http.StatusOK || len(head.body) != 0 || head.header.Get("ETag") != get.header.Get("ETag") {
		t.Errorf("HEAD: %d, %d body bytes, ETag %q (GET's %q)", head.status, len(head.body), head.header.Get("ETag"), get.header.Get("ETag"))
	}
	opts := e.send(request{method: http.MethodOptions, path: "/v1.0/external/connections/conna/operations"})
	allow := strings.Split(strings.ReplaceAll(opts.header.Get("Allow"), " ", ""), ",")
	slices.Sort(allow)
	if opts.status != http.StatusNoContent || !slices.Equal(allow, []string{"GET", "HEAD", "OPTIONS", "POST"}) {
		t.Errorf("OPTIONS: %d, Allow %v", opts.status, allow)
	}
}

// TestUncleanPathsRouteCleanly: // and /./ reach the resource the clean
// path names, in Graph's shape, never a redirect.
func TestUncleanPathsRouteCleanly(t *testing.T) {
	e := newFakeEnv(t, &fakeService{})
	tok := writer(t, "contoso")
	for _, p := range []string{"/v1.0//external/connections/conna", "/v1.0/./external/connections/conna", "/v1.0/external/connections//conna"} {
		r := e.get(p, tok)
		if r.status != http.StatusOK || r.json(t)["id"] != "conna" {
			t.Errorf("%s: %d %s", p, r.status, r.body)
		}
	}
}

// TestRequestWithoutHostGetsUsableLinks: HTTP/1.0 needs no Host; links
// then name the address the request came in on.
func TestRequestWithoutHostGetsUsableLinks(t *testing.T) {
	e := newFakeEnv(t, &fakeService{})
	addr := strings.TrimPrefix(e.url, "http://")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	body := `{"id":"conna","name":"n"}`
	fmt.Fprintf(conn, "POST /v1.0/external/connections HTTP/1.0\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		writer(t, "contoso"), len(body), body)
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if loc := res.Header.Get("Location"); res.StatusCode != http.StatusCreated || !strings.HasPrefix(loc, "http://"+addr+"/") {
		t.Errorf("%d, Location %q", res.StatusCode, loc)
	}
}
