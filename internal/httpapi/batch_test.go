package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

type batchItem struct {
	ID     string         `json:"id"`
	Status int            `json:"status"`
	Body   map[string]any `json:"body"`
}

func (e *env) batch(version, tok, body string) (response, map[string]batchItem) {
	e.t.Helper()
	r := e.post("/"+version+"/$batch", tok, body)
	if r.status != http.StatusOK {
		return r, nil
	}
	out := map[string]batchItem{}
	for _, raw := range r.json(e.t)["responses"].([]any) {
		m := raw.(map[string]any)
		item := batchItem{ID: m["id"].(string), Status: int(m["status"].(float64))}
		item.Body, _ = m["body"].(map[string]any)
		out[item.ID] = item
	}
	return r, out
}

func TestBatch(t *testing.T) {
	e := newEnv(t)
	tok := writer(t, "contoso")
	e.createConnection(tok, "hrconn")

	_, items := e.batch("v1.0", tok, `{"requests":[
		{"id":"1","method":"POST","url":"/external/connections/hrconn/operations","headers":{"Content-Type":"application/json"},"body":{"id":"b1","status":"inprogress"}},
		{"id":"2","method":"GET","url":"external/connections/hrconn/operations/b1","dependsOn":["1"]},
		{"id":"3","method":"POST","url":"/external/connections/hrconn/operations","headers":{"Content-Type":"application/json"},"body":{"status":"String"}},
		{"id":"4","method":"GET","url":"/external/connections/hrconn","dependsOn":["3"]},
		{"id":"5","method":"GET","url":"/external/connections/nope"},
		{"id":"6","method":"PATCH","url":"/external/connections/hrconn/operations/b1","body":{"status":"completed"},"dependsOn":["2"]}
	]}`)
	want := map[string]int{"1": 201, "2": 200, "3": 400, "4": 424, "5": 404, "6": 204}
	for id, status := range want {
		if items[id].Status != status {
			t.Errorf("request %s: status %d, want %d (%v)", id, items[id].Status, status, items[id].Body)
		}
	}
	if items["2"].Body["status"] != "inprogress" {
		t.Errorf("read after create: %v", items["2"].Body)
	}
	if code := items["4"].Body["error"].(map[string]any)["code"]; code != "failedDependency" {
		t.Errorf("424 code %v", code)
	}
	if n := e.operationCount(); n != 1 {
		t.Errorf("operations = %d, want 1", n)
	}

	// Inner requests carry the batch's identity: a reader cannot write through a batch.
	reader := token(t, "contoso", "reader", "ExternalConnection.Read.All")
	_, items = e.batch("beta", reader, `{"requests":[{"id":"w","method":"POST","url":"/connections/hrconn/operations","body":{}}]}`)
	if items["w"].Status != http.StatusForbidden {
		t.Errorf("reader's inner write: %d", items["w"].Status)
	}
	// Another tenant sees nothing through a batch either.
	_, items = e.batch("v1.0", writer(t, "fabrikam"), `{"requests":[{"id":"r","method":"GET","url":"/connections/hrconn/operations/b1"}]}`)
	if items["r"].Status != http.StatusNotFound {
		t.Errorf("other tenant's inner read: %d", items["r"].Status)
	}
	// Absolute item URLs, as the Graph SDKs build them, are served by their path.
	_, items = e.batch("v1.0", tok, `{"requests":[{"id":"abs","method":"GET","url":"https://graph.microsoft.com/v1.0/external/connections/hrconn/operations/b1"}]}`)
	if items["abs"].Status != http.StatusOK {
		t.Errorf("absolute item url: %d %v", items["abs"].Status, items["abs"].Body)
	}
	r := e.send(request{method: http.MethodPost, path: "/v1.0/$batch", body: `{"requests":[{"id":"1","method":"GET","url":"/connections"}]}`})
	wantError(t, r, http.StatusUnauthorized, "InvalidAuthenticationToken")
}

func TestBatchRejectsMalformedBatches(t *testing.T) {
	e := newEnv(t)
	tok := writer(t, "contoso")
	e.createConnection(tok, "hrconn")
	get := func(id string) string { return `{"id":"` + id + `","method":"GET","url":"/connections"}` }
	var many []string
	for i := range 21 {
		many = append(many, get(fmt.Sprint(i)))
	}
	tests := []struct{ name, body string }{
		{"not JSON", `{"requests": [`},
		{"no requests", `{}`},
		{"requests not array", `{"requests": {}}`},
		{"empty", `{"requests": []}`},
		{"21 requests", `{"requests": [` + strings.Join(many, ",") + `]}`},
		{"duplicate ids", `{"requests": [` + get("a") + `,` + get("A") + `]}`},
		{"missing id", `{"requests": [{"method":"GET","url":"/connections"}]}`},
		{"bad method", `{"requests": [{"id":"1","method":"TRACE","url":"/connections"}]}`},
		{"absolute url outside a version root", `{"requests": [{"id":"1","method":"GET","url":"https://example.com/connections"}]}`},
		{"absolute url to a batch", `{"requests": [{"id":"1","method":"POST","url":"https://example.com/v1.0/$batch","body":{}}]}`},
		{"nested batch", `{"requests": [{"id":"1","method":"POST","url":"/$batch","body":{}}]}`},
		{"unknown dependency", `{"requests": [{"id":"1","method":"GET","url":"/connections","dependsOn":["9"]}]}`},
		{"cycle", `{"requests": [{"id":"1","method":"GET","url":"/connections","dependsOn":["2"]},{"id":"2","method":"GET","url":"/connections","dependsOn":["1"]}]}`},
		{"unknown property", `{"requests": [{"id":"1","method":"GET","url":"/connections","colour":"red"}]}`},
		{"headers not strings", `{"requests": [{"id":"1","method":"GET","url":"/connections","headers":{"a":1}}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := e.batch("v1.0", tok, tt.body)
			wantError(t, r, http.StatusBadRequest, "invalidRequest")
		})
	}
	body := `{"requests": [{"id":"1","method":"POST","url":"/connections/hrconn/operations","body":{}},` +
		`{"id":"2","method":"GET","url":"/connections","dependsOn":["1","9"]}]}`
	r, _ := e.batch("v1.0", tok, body)
	wantError(t, r, http.StatusBadRequest, "invalidRequest")
	if n := e.operationCount(); n != 0 {
		t.Errorf("a rejected batch stored %d operations", n)
	}
}
