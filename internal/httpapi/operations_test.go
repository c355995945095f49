package httpapi_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The seed's example request, with a real status value, on the seed's route.
const seedBody = `{
  "@odata.type": "#microsoft.graph.connectionOperation",
  "status": "inprogress",
  "error": {
    "@odata.type": "microsoft.graph.errorDetail"
  }
}`

func TestCreateOperationSeedExample(t *testing.T) {
	e := newEnv(t)
	tok := writer(t, "contoso")
	e.createConnection(tok, "contosohr")

	r := e.post("/beta/connections/contosohr/operations", tok, seedBody)
	if r.status != http.StatusCreated {
		t.Fatalf("status = %d, want 201: %s", r.status, r.body)
	}
	body := r.json(t)
	id, _ := body["id"].(string)
	if id == "" {
		t.Fatalf("no id in %s", r.body)
	}
	wantLocation := e.url + "/beta/connections/contosohr/operations/" + id
	if got := r.header.Get("Location"); got != wantLocation {
		t.Errorf("Location = %q, want %q", got, wantLocation)
	}
	delete(body, "@odata.context")
	delete(body, "@odata.etag")
	want := map[string]any{
		"@odata.type": "#microsoft.graph.connectionOperation",
		"id":          id,
		"status":      "inprogress",
		"error":       map[string]any{"@odata.type": "#microsoft.graph.errorDetail", "errorCode": nil},
	}
	if diff := cmp.Diff(want, body); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}

	// The same row, read on v1.0, in the current shape.
	r = e.get("/v1.0/external/connections/contosohr/operations/"+id, tok)
	if r.status != http.StatusOK {
		t.Fatalf("read back: %d %s", r.status, r.body)
	}
	body = r.json(t)
	if body["id"] != id || body["status"] != "inprogress" {
		t.Errorf("read back %s", r.body)
	}
	if _, ok := body["error"].(map[string]any); !ok {
		t.Errorf("error should be a publicError object, got %s", r.body)
	}

	// The row: an enum status and a JSONB error.
	var status, statusType, errType string
	err := e.pool.QueryRow(context.Background(), `SELECT status::text, pg_typeof(status)::text, pg_typeof(error)::text
		FROM operations WHERE tenant_id = 'contoso' AND connection_id = 'contosohr' AND id = $1`, id).Scan(&status, &statusType, &errType)
	if err != nil {
		t.Fatal(err)
	}
	if status != "inprogress" || statusType != "operation_status" || errType != "jsonb" {
		t.Errorf("row: status %s (%s), error %s", status, statusType, errType)
	}
}

func TestOperationErrorReadsBackInBothShapes(t *testing.T) {
	e := newEnv(t)
	tok := writer(t, "contoso")
	e.createConnection(tok, "contosohr")

	legacy := `{"id":"op1","status":"failed","error":{"errorCode":"InvalidSchema","message":"bad schema",
		"details":[{"message":"priority cannot be refinable","source":"priority"}]}}`
	if r := e.post("/beta/connections/contosohr/operations", tok, legacy); r.status != http.StatusCreated {
		t.Fatalf("legacy create: %d %s", r.status, r.body)
	}
	current := `{"id":"op2","status":"failed","error":{"code":"InvalidSchema","message":"bad schema","target":"properties[1]",
		"details":[{"code":"InvalidPropertyFlags","message":"priority cannot be refinable","target":"priority"}],
		"innerError":{"code":"inner","message":"deeper"}}}`
	if r := e.post("/v1.0/connections/contosohr/operations", tok, current); r.status != http.StatusCreated {
		t.Fatalf("current create: %d %s", r.status, r.body)
	}

	v1 := e.get("/v1.0/external/connections/contosohr/operations/op1", tok).json(t)
	wantPublic := map[string]any{"code": "InvalidSchema", "message": "bad schema",
		"details": []any{map[string]any{"message": "priority cannot be refinable", "target": "priority"}}}
	if diff := cmp.Diff(wantPublic, v1["error"]); diff != "" {
		t.Errorf("legacy-created op on v1.0 (-want +got):\n%s", diff)
	}
	beta := e.get("/beta/connections/contosohr/operations/op2", tok).json(t)
	wantLegacy := map[string]any{"@odata.type": "#microsoft.graph.errorDetail", "errorCode": "InvalidSchema", "message": "bad schema",
		"details": []any{map[string]any{"@odata.type": "#microsoft.graph.innerErrorDetail", "message": "priority cannot be refinable", "source": "priority"}}}
	if diff := cmp.Diff(wantLegacy, beta["error"]); diff != "" {
		t.Errorf("current-created op on legacy beta (-want +got):\n%s", diff)
	}
	full := e.get("/beta/external/connections/contosohr/operations/op2", tok).json(t)
	var want map[string]any
	if err := json.Unmarshal([]byte(current), &want); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want["error"], full["error"]); diff != "" {
		t.Errorf("current shape round trip (-want +got):\n%s", diff)
	}
}

func TestCreateOperationDefaultsAndIDs(t *testing.T) {
	e := newEnv(t)
	tok := writer(t, "contoso")
	e.createConnection(tok, "contosohr")

	r := e.post("/v1.0/external/connections/contosohr/operations", tok, `{}`)
	if r.status != http.StatusCreated {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	body := r.json(t)
	if body["status"] != "unspecified" || body["error"] != nil {
		t.Errorf("defaults: %s", r.body)
	}
	if !strings.HasPrefix(r.header.Get("Location"), e.url+"/v1.0/external/connections/contosohr/operations/") {
		t.Errorf("Location %q", r.header.Get("Location"))
	}

	if r := e.post("/v1.0/connections/contosohr/operations", tok, `{"id":"mine-1","status":"completed"}`); r.status != http.StatusCreated {
		t.Fatalf("client id: %d %s", r.status, r.body)
	}
	before := e.operationCount()
	r = e.post("/v1.0/connections/contosohr/operations", tok, `{"id":"mine-1","status":"failed"}`)
	wantError(t, r, http.StatusConflict, "nameAlreadyExists")
	if got := e.operationCount(); got != before {
		t.Errorf("operations = %d after conflict, want %d", got, before)
	}

	r = e.post("/v1.0/connections/nosuchconn/operations", tok, `{"status":"completed"}`)
	wantError(t, r, http.StatusNotFound, "itemNotFound")
	r = e.get("/v1.0/connections/contosohr/operations/nope", tok)
	wantError(t, r, http.StatusNotFound, "itemNotFound")
}

func TestCreateOperationRejectsBadInput(t *testing.T) {
	e := newEnv(t)
	tok := writer(t, "contoso")
	e.createConnection(tok, "contosohr")
	long := strings.Repeat("x", 4097)
	manyDetails := "[" + strings.TrimSuffix(strings.Repeat(`{"message":"m"},`, 33), ",") + "]"

	tests := []struct {
		name, path, body string
		contentType      string
		status           int
		code, target     string
	}{
		{name: "malformed JSON", body: `{"status": inprogress}`, target: ""},
		{name: "truncated JSON", body: `{"status": "inprogress"`},
		{name: "trailing data", body: `{"status": "inprogress"} {"status":"failed"}`},
		{name: "trailing garbage", body: `{"status": "inprogress"}x`},
		{name: "array body", body: `[{"status": "inprogress"}]`},
		{name: "string body", body: `"inprogress"`},
		{name: "null body", body: `null`},
		{name: "empty body", body: ` `},
		{name: "status wrong type", body: `{"status": 1}`, target: "status"},
		{name: "id wrong type", body: `{"id": 5}`, target: "id"},
		{name: "error wrong type", body: `{"error": "boom"}`, target: "error"},
		{name: "details wrong type", body: `{"error": {"code": "x", "details": {"message": "m"}}}`, target: "error.details"},
		{name: "detail message wrong type", body: `{"error": {"details": [{"message": 3}]}}`, target: "error.details[0].message"},
		{name: "unknown property", body: `{"status": "completed", "colour": "red"}`, target: "colour"},
		{name: "unknown nested property", body: `{"error": {"code": "x", "severity": 3}}`, target: "error.severity"},
		{name: "legacy property on current route", body: `{"error": {"errorCode": "x"}}`, target: "error.errorCode"},
		{name: "current property on legacy route", path: "/beta/connections/contosohr/operations", body: `{"error": {"code": "x"}}`, target: "error.code"},
		{name: "duplicate property", body: `{"status": "completed", "status": "failed"}`, target: "status"},
		{name: "seed placeholder status", body: `{"status": "String"}`, target: "status"},
		{name: "wrong case status", body: `{"status": "inProgress"}`, target: "status"},
		{name: "unknownFutureValue on create", body: `{"status": "unknownFutureValue"}`, target: "status"},
		{name: "wrong odata type", body: `{"@odata.type": "#microsoft.graph.user"}`, target: "@odata.type"},
		{name: "wrong error odata type", path: "/beta/connections/contosohr/operations", body: `{"error": {"@odata.type": "microsoft.graph.user"}}`, target: "error.@odata.type"},
		{name: "id with slash", body: `{"id": "a/b"}`, target: "id"},
		{name: "id too long", body: `{"id": "` + strings.Repeat("a", 129) + `"}`, target: "id"},
		{name: "message too long", body: `{"error": {"message": "` + long + `"}}`, target: "error.message"},
		{name: "legacy code too long", path: "/beta/connections/contosohr/operations", body: `{"error": {"errorCode": "` + strings.Repeat("c", 129) + `"}}`, target: "error.errorCode"},
		{name: "legacy source too long", path: "/beta/connections/contosohr/operations", body: `{"error": {"details": [{"source": "` + strings.Repeat("s", 257) + `"}]}}`, target: "error.details[0].source"},
		{name: "too many details", body: `{"error": {"details": ` + manyDetails + `}}`, target: "error.details"},
		{name: "text content type", body: `{"status": "completed"}`, contentType: "text/plain", status: http.StatusUnsupportedMediaType, code: "unsupportedMediaType"},
		{name: "form content type", body: `status=completed`, contentType: "application/x-www-form-urlencoded", status: http.StatusUnsupportedMediaType, code: "unsupportedMediaType"},
		{name: "no content type", body: `{"status": "completed"}`, contentType: "-", status: http.StatusUnsupportedMediaType, code: "unsupportedMediaType"},
		{name: "body over limit", body: `{"error": {"message": "` + strings.Repeat("x", 300<<10) + `"}}`, status: http.StatusRequestEntityTooLarge, code: "requestEntityTooLarge"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.path == "" {
				tt.path = "/v1.0/external/connections/contosohr/operations"
			}
			if tt.status == 0 {
				tt.status, tt.code = http.StatusBadRequest, "invalidRequest"
			}
			header := map[string]string{}
			switch tt.contentType {
			case "":
			case "-":
				header["Content-Type"] = ""
			default:
				header["Content-Type"] = tt.contentType
			}
			before := e.operationCount()
			r := e.send(request{method: http.MethodPost, path: tt.path, token: tok, body: tt.body, header: header})
			got := wantError(t, r, tt.status, tt.code)
			if tt.target != "" && got["target"] != tt.target {
				t.Errorf("target = %v, want %s (message %v)", got["target"], tt.target, got["message"])
			}
			if tt.target != "" && !strings.Contains(got["message"].(string), tt.target) {
				t.Errorf("message %q does not name %s", got["message"], tt.target)
			}
			if after := e.operationCount(); after != before {
				t.Errorf("operations %d -> %d: a rejected write stored something", before, after)
			}
		})
	}
}

func TestCreateOperationAcceptsContentTypeParameters(t *testing.T) {
	e := newEnv(t)
	tok := writer(t, "contoso")
	e.createConnection(tok, "contosohr")
	r := e.send(request{method: http.MethodPost, path: "/v1.0/connections/contosohr/operations", token: tok,
		body: `{"status":"completed","error":null,"id":null}`, header: map[string]string{"Content-Type": "application/json; charset=utf-8"}})
	if r.status != http.StatusCreated {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
}

func TestGzipBodiesAreAccepted(t *testing.T) {
	e := newEnv(t)
	tok := writer(t, "contoso")
	e.createConnection(tok, "hrconn")
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write([]byte(`{"id":"zipped","status":"completed"}`))
	_ = zw.Close()
	r := e.send(request{method: http.MethodPost, path: "/v1.0/external/connections/hrconn/operations", token: tok,
		body: buf.String(), header: map[string]string{"Content-Encoding": "gzip"}})
	if r.status != http.StatusCreated {
		t.Fatalf("gzip create: %d %s", r.status, r.body)
	}
	r = e.send(request{method: http.MethodPost, path: "/v1.0/external/connections/hrconn/operations", token: tok,
		body: "not gzip", header: map[string]string{"Content-Encoding": "gzip"}})
	wantError(t, r, http.StatusBadRequest, "invalidRequest")
	r = e.send(request{method: http.MethodPost, path: "/v1.0/external/connections/hrconn/operations", token: tok,
		body: `{}`, header: map[string]string{"Content-Encoding": "br"}})
	wantError(t, r, http.StatusUnsupportedMediaType, "unsupportedMediaType")
	// A small compressed body that expands past the limit is refused.
	buf.Reset()
	zw = gzip.NewWriter(&buf)
	_, _ = zw.Write([]byte(`{"error":{"message":"` + strings.Repeat("x", 1<<20) + `"}}`))
	_ = zw.Close()
	r = e.send(request{method: http.MethodPost, path: "/v1.0/external/connections/hrconn/operations", token: tok,
		body: buf.String(), header: map[string]string{"Content-Encoding": "gzip"}})
	wantError(t, r, http.StatusRequestEntityTooLarge, "requestEntityTooLarge")
	if n := e.operationCount(); n != 1 {
		t.Errorf("operations = %d, want 1", n)
	}
}
