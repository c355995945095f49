package httpapi_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/connops/connops/internal/connections"
)

func sum(t *testing.T, body map[string]any, series string) int {
	t.Helper()
	values, ok := body[series].([]any)
	if !ok || len(values) != 60 {
		t.Fatalf("%s: %v, want 60 per-minute counts", series, body[series])
	}
	n := 0
	for _, v := range values {
		n += int(v.(float64))
	}
	return n
}

func TestConnectionStatistics(t *testing.T) {
	e := newAppEnv(t, map[string]string{"PROVISIONING_DELAY": "0s"}, nil)
	tok := writer(t, "contoso")
	e.readyConnection(tok, "statsconn")
	for _, id := range []string{"a", "b", "c"} {
		e.newOperation(tok, "statsconn", id)
	}
	e.patch("/v1.0/external/connections/statsconn/operations/a", tok, `{"status":"completed"}`, nil)
	e.patch("/v1.0/external/connections/statsconn/operations/b", tok, `{"status":"failed"}`, nil)
	for _, id := range []string{"i1", "i2"} {
		if r := e.put("/v1.0/external/connections/statsconn/items/"+id, tok, pnpItem(id)); r.status != http.StatusOK {
			t.Fatalf("put item: %d %s", r.status, r.body)
		}
	}
	e.createConnection(tok, "quietconn")

	r := e.get("/v1.0/external/connections/statsconn/statistics", tok)
	if r.status != http.StatusOK {
		t.Fatalf("statistics: %d %s", r.status, r.body)
	}
	body := r.json(t)
	start, err := time.Parse(time.RFC3339, body["windowStart"].(string))
	if err != nil || time.Since(start) > 61*time.Minute || time.Since(start) < 59*time.Minute || body["minuteCount"] != 60.0 {
		t.Errorf("windowStart %v minuteCount %v: want the last hour", body["windowStart"], body["minuteCount"])
	}
	// The schema registration is an operation too.
	for series, want := range map[string]int{"operationsStarted": 4, "operationsCompleted": 2, "operationsFailed": 1, "itemsWritten": 2} {
		if got := sum(t, body, series); got != want {
			t.Errorf("%s adds up to %d, want %d", series, got, want)
		}
	}
	if d, _ := body["provisioningSeconds"].([]any); len(d) != 1 || d[0].(float64) < 0 || d[0].(float64) > 10 {
		t.Errorf("provisioningSeconds = %v, want the one registration's duration", body["provisioningSeconds"])
	}

	quiet := e.get("/beta/connections/quietconn/statistics", tok).json(t)
	if sum(t, quiet, "operationsStarted") != 0 || len(quiet["provisioningSeconds"].([]any)) != 0 {
		t.Errorf("a new connection's statistics: %v", quiet)
	}

	wantError(t, e.get("/v1.0/external/connections/statsconn/statistics", writer(t, "fabrikam")), http.StatusNotFound, "itemNotFound")
	wantError(t, e.get("/v1.0/external/connections/statsconn/statistics", token(t, "contoso", "x", connections.PermItemReadAll)), http.StatusForbidden, "accessDenied")
	wantError(t, e.get("/v1.0/external/connections/statsconn/statistics?$top=1", tok), http.StatusBadRequest, "invalidRequest")
	wantError(t, e.get("/v1.0/external/connections/statsconn/statistics", ""), http.StatusUnauthorized, "InvalidAuthenticationToken")
}
