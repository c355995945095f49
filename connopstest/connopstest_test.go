package connopstest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/connops/connops/connopstest"
	"github.com/connops/connops/internal/connections"
)

func TestMain(m *testing.M) { connopstest.Main(m) }

// call sends one request with token and returns the status, the Location
// and the decoded body (nil when empty).
func call(t *testing.T, method, url, token, body string) (int, string, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("%s %s: body is not JSON: %s", method, url, raw)
		}
	}
	return res.StatusCode, res.Header.Get("Location"), m
}

const schema = `{"baseType":"microsoft.graph.externalItem","properties":[{"name":"title","type":"String","isSearchable":true,"isRetrievable":true,"labels":["title"]}]}`

// register creates connection id and registers the schema, returning the
// Location of the registration's operation.
func register(t *testing.T, srv *connopstest.Server, tenant, id string) string {
	t.Helper()
	token := srv.Token(tenant)
	if status, _, body := call(t, http.MethodPost, srv.URL+"/v1.0/external/connections", token, `{"id":"`+id+`","name":"Test"}`); status != http.StatusCreated {
		t.Fatalf("create connection: %d %v", status, body)
	}
	status, location, _ := call(t, http.MethodPatch, srv.URL+"/v1.0/external/connections/"+id+"/schema", token, schema)
	if status != http.StatusAccepted || location == "" {
		t.Fatalf("register schema: %d, Location %q", status, location)
	}
	return location
}

func statusOf(t *testing.T, srv *connopstest.Server, tenant, url string) string {
	t.Helper()
	code, _, body := call(t, http.MethodGet, url, srv.Token(tenant, connopstest.ReadAll), "")
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, code, body)
	}
	s, _ := body["status"].(string)
	return s
}

func TestStartServesTheAPI(t *testing.T) {
	t.Parallel()
	srv := connopstest.Start(t)
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") || strings.HasSuffix(srv.URL, "/") {
		t.Errorf("URL = %q, want http://127.0.0.1:port", srv.URL)
	}
	token := srv.Token("contoso")
	status, location, _ := call(t, http.MethodPost, srv.URL+"/v1.0/external/connections", token, `{"id":"contosohr","name":"HR"}`)
	if status != http.StatusCreated || location != srv.URL+"/v1.0/external/connections/contosohr" {
		t.Fatalf("create: %d, Location %q", status, location)
	}
	// Tokens carry the tenant: another tenant does not see the connection,
	// and a read-only token cannot write.
	if status, _, _ := call(t, http.MethodGet, location, srv.Token("fabrikam"), ""); status != http.StatusNotFound {
		t.Errorf("another tenant's GET = %d, want 404", status)
	}
	if status, _, _ := call(t, http.MethodPost, srv.URL+"/v1.0/external/connections", srv.Token("contoso", connopstest.ReadAll), `{"id":"x","name":"X"}`); status != http.StatusForbidden {
		t.Errorf("read-only create = %d, want 403", status)
	}
	if status, _, _ := call(t, http.MethodGet, srv.URL+"/readyz", "", ""); status != http.StatusOK {
		t.Errorf("readyz = %d", status)
	}
}

// Each Server has its own database.
func TestServersAreIsolated(t *testing.T) {
	t.Parallel()
	a, b := connopstest.Start(t), connopstest.Start(t)
	call(t, http.MethodPost, a.URL+"/v1.0/external/connections", a.Token("contoso"), `{"id":"only","name":"Only in a"}`)
	if status, _, _ := call(t, http.MethodGet, b.URL+"/v1.0/external/connections/only", b.Token("contoso"), ""); status != http.StatusNotFound {
		t.Errorf("b sees a's connection: %d", status)
	}
}

func TestProvisioningDelayZero(t *testing.T) {
	t.Parallel()
	srv := connopstest.Start(t, connopstest.WithProvisioningDelay(0))
	location := register(t, srv, "contoso", "quick")
	deadline := time.Now().Add(10 * time.Second)
	for statusOf(t, srv, "contoso", location) != "completed" {
		if time.Now().After(deadline) {
			t.Fatal("registration not completed 10s after it started, with a 0 delay")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestManualProvisioning(t *testing.T) {
	t.Parallel()
	srv := connopstest.Start(t, connopstest.WithManualProvisioning())
	ctx := t.Context()

	done := register(t, srv, "contoso", "done")
	time.Sleep(200 * time.Millisecond)
	if got := statusOf(t, srv, "contoso", done); got != "inprogress" {
		t.Fatalf("manual registration is %s before anyone finishes it", got)
	}
	if err := srv.CompleteOperation(ctx, "contoso", done); err != nil {
		t.Fatal(err)
	}
	if got := statusOf(t, srv, "contoso", done); got != "completed" {
		t.Errorf("after CompleteOperation: %s", got)
	}
	_, _, conn := call(t, http.MethodGet, srv.URL+"/v1.0/external/connections/done", srv.Token("contoso"), "")
	if conn["state"] != "ready" {
		t.Errorf("connection state %v after its schema completed, want ready", conn["state"])
	}

	failed := register(t, srv, "contoso", "failed")
	if err := srv.FailOperation(ctx, "contoso", failed, "InvalidSchema", "Rejected by the test."); err != nil {
		t.Fatal(err)
	}
	_, _, op := call(t, http.MethodGet, failed, srv.Token("contoso"), "")
	errObj, _ := op["error"].(map[string]any)
	if op["status"] != "failed" || errObj["code"] != "InvalidSchema" {
		t.Errorf("after FailOperation: %v", op)
	}

	// The same through a path and OperationURL; and what cannot work says why.
	opID := failed[strings.LastIndex(failed, "/")+1:]
	if got := srv.OperationURL("failed", opID); got != failed {
		t.Errorf("OperationURL = %s, want the Location %s", got, failed)
	}
	if err := srv.CompleteOperation(ctx, "contoso", strings.TrimPrefix(failed, srv.URL)); err == nil || !strings.Contains(err.Error(), "409") {
		t.Errorf("completing a failed operation: %v, want a 409", err)
	}
	if err := srv.CompleteOperation(ctx, "fabrikam", done); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("another tenant's operation: %v, want a 404", err)
	}
	if err := srv.CompleteOperation(ctx, "contoso", "https://graph.microsoft.com/v1.0/x"); err == nil {
		t.Error("a URL of another server was accepted")
	}
}

func TestWithEnv(t *testing.T) {
	t.Parallel()
	srv := connopstest.Start(t, connopstest.WithEnv("MAX_CONNECTIONS_PER_TENANT", "1"))
	token := srv.Token("contoso")
	call(t, http.MethodPost, srv.URL+"/v1.0/external/connections", token, `{"id":"first","name":"First"}`)
	if status, _, _ := call(t, http.MethodPost, srv.URL+"/v1.0/external/connections", token, `{"id":"second","name":"Second"}`); status != http.StatusConflict {
		t.Errorf("second connection past the quota = %d, want 409", status)
	}
	if _, err := connopstest.New(context.Background(), connopstest.WithEnv("PROVISIONING_DELAY", "soon")); err == nil || !strings.Contains(err.Error(), "PROVISIONING_DELAY") {
		t.Errorf("New with a bad variable: %v, want an error naming it", err)
	}
}

// TestNotLinkedIntoConnops: importing connopstest adds nothing to the
// binary, and the binary links no test machinery.
func TestNotLinkedIntoConnops(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	out, err := exec.Command("go", "list", "-deps", "github.com/connops/connops/cmd/connops").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		switch {
		case strings.HasSuffix(pkg, "/connopstest"), strings.HasSuffix(pkg, "/internal/pgtest"),
			pkg == "testing", strings.HasPrefix(pkg, "github.com/testcontainers/"):
			t.Errorf("cmd/connops depends on %s", pkg)
		}
	}
}

// The role names are the ones connops checks.
func TestPermissionNames(t *testing.T) {
	for got, want := range map[string]string{
		connopstest.ReadAll: connections.PermReadAll, connopstest.ReadWriteAll: connections.PermReadWriteAll,
		connopstest.ReadWriteOwnedBy: connections.PermReadWriteOwnedBy, connopstest.OperationsControl: connections.PermOperationsControl,
	} {
		if got != want {
			t.Errorf("%s, want %s", got, want)
		}
	}
}
