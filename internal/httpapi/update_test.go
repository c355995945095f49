package httpapi_test

import (
	"net/http"
	"testing"
)

func (e *env) patch(path, token, body string, header map[string]string) response {
	e.t.Helper()
	return e.send(request{method: http.MethodPatch, path: path, token: token, body: body, header: header})
}

func TestPatchOperation(t *testing.T) {
	e := newEnv(t)
	tok := writer(t, "contoso")
	e.createConnection(tok, "hrconn")
	const path = "/v1.0/external/connections/hrconn/operations/op1"
	if r := e.post("/v1.0/external/connections/hrconn/operations", tok, `{"id":"op1","status":"inprogress"}`); r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	first := e.get(path, tok)
	etag1 := first.header.Get("ETag")
	if etag1 == "" || first.json(t)["@odata.etag"] != etag1 {
		t.Fatalf("ETag header %q, body %s", etag1, first.body)
	}

	r := e.patch(path, tok, `{"status":"inprogress","error":{"code":"Slow","message":"still going"}}`, nil)
	if r.status != http.StatusNoContent || len(r.body) != 0 {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	// The ETag moved on, so the first one no longer matches.
	wantError(t, e.patch(path, tok, `{"status":"completed"}`, map[string]string{"If-Match": etag1}), http.StatusPreconditionFailed, "resourceModified")
	wantError(t, e.patch(path, tok, `{"status":"completed"}`, map[string]string{"If-Match": `"garbage"`}), http.StatusPreconditionFailed, "resourceModified")
	current := e.get(path, tok).header.Get("ETag")

	r = e.patch(path, tok, `{"status":"unknownFutureValue","error":null}`, map[string]string{"If-Match": current, "Prefer": "return=representation"})
	if r.status != http.StatusOK || r.header.Get("Preference-Applied") != "return=representation" {
		t.Fatalf("patch with representation: %d %s %v", r.status, r.body, r.header)
	}
	body := r.json(t)
	if body["status"] != "inprogress" || body["error"] != nil {
		t.Errorf("unknownFutureValue must leave status alone and null must clear error: %s", r.body)
	}

	if r := e.patch(path, tok, `{"status":"completed"}`, map[string]string{"If-Match": "*"}); r.status != http.StatusNoContent {
		t.Fatalf("complete: %d %s", r.status, r.body)
	}
	if r := e.patch(path, tok, `{"status":"completed"}`, nil); r.status != http.StatusNoContent {
		t.Errorf("completed -> completed: %d %s", r.status, r.body)
	}
	for _, to := range []string{"inprogress", "failed", "unspecified"} {
		wantError(t, e.patch(path, tok, `{"status":"`+to+`"}`, nil), http.StatusConflict, "conflict")
	}
	for _, bad := range []string{`{"status":"String"}`, `{"id":"other"}`, `{"status":3}`, `{"colour":"red"}`, `[]`} {
		wantError(t, e.patch(path, tok, bad, nil), http.StatusBadRequest, "invalidRequest")
	}
	if got := e.get(path, tok).json(t)["status"]; got != "completed" {
		t.Errorf("status after rejected patches = %v", got)
	}
	wantError(t, e.patch("/v1.0/external/connections/hrconn/operations/nope", tok, `{"status":"failed"}`, nil), http.StatusNotFound, "itemNotFound")
	reader := token(t, "contoso", "reader", "ExternalConnection.Read.All")
	wantError(t, e.patch(path, reader, `{"status":"failed"}`, nil), http.StatusForbidden, "accessDenied")
}

func TestDeleteOperation(t *testing.T) {
	e := newEnv(t)
	tok := writer(t, "contoso")
	e.createConnection(tok, "hrconn")
	e.post("/beta/connections/hrconn/operations", tok, `{"id":"op1"}`)
	const path = "/v1.0/external/connections/hrconn/operations/op1"
	wantError(t, e.send(request{method: http.MethodDelete, path: path, token: writer(t, "fabrikam")}), http.StatusNotFound, "itemNotFound")
	if r := e.send(request{method: http.MethodDelete, path: path, token: tok}); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	wantError(t, e.get(path, tok), http.StatusNotFound, "itemNotFound")
	wantError(t, e.send(request{method: http.MethodDelete, path: path, token: tok}), http.StatusNotFound, "itemNotFound")
	if n := e.operationCount(); n != 0 {
		t.Errorf("operations = %d", n)
	}
}

func TestPreferAndAccept(t *testing.T) {
	e := newEnv(t)
	tok := writer(t, "contoso")
	e.createConnection(tok, "hrconn")
	r := e.send(request{method: http.MethodGet, path: "/v1.0/external/connections/hrconn/operations", token: tok,
		header: map[string]string{"Prefer": "include-unknown-enum-members", "Accept": "application/json"}})
	if r.status != http.StatusOK || r.header.Get("Preference-Applied") != "include-unknown-enum-members" {
		t.Errorf("Prefer: %d %v", r.status, r.header)
	}
	if r.header.Get("OData-Version") != "4.0" {
		t.Errorf("OData-Version = %q", r.header.Get("OData-Version"))
	}
	wantError(t, e.send(request{method: http.MethodGet, path: "/v1.0/external/connections", token: tok,
		header: map[string]string{"Accept": "application/xml"}}), http.StatusNotAcceptable, "notAcceptable")
}
