package openapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
)

// subscriptionsScenario drives the subscription routes and the JWKS,
// success and failure, validating every exchange against the document,
// and validates what connops POSTs to the receiver against the document's
// changeNotificationCollection. It runs inside TestServiceMatchesDocument,
// whose coverage check counts what it exercises, on a connops of its own
// that may deliver to the loopback receiver.
func subscriptionsScenario(t *testing.T) {
	e := newEnv(t, envOptions{vars: map[string]string{"WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true"}})
	e.subscriptionScenario(t)
}

// notifications is a webhook receiver keeping every notification body.
type notifications struct {
	url    string
	mu     sync.Mutex
	bodies [][]byte
}

func newNotifications(t *testing.T) *notifications {
	t.Helper()
	n := &notifications{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token := r.URL.Query().Get("validationToken"); token != "" {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, token)
			return
		}
		b, _ := io.ReadAll(r.Body)
		n.mu.Lock()
		n.bodies = append(n.bodies, b)
		n.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	n.url = srv.URL + "/hook"
	return n
}

// wait returns the first body, waiting up to 15 s for it.
func (n *notifications) wait(t *testing.T) []byte {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		n.mu.Lock()
		if len(n.bodies) > 0 {
			b := n.bodies[0]
			n.mu.Unlock()
			return b
		}
		n.mu.Unlock()
	}
	t.Fatal("no notification within 15 s")
	return nil
}

func (e *env) subscriptionScenario(t *testing.T) {
	w := writer(t, "subtenant")
	rc, life := newNotifications(t), newNotifications(t)
	e.do(t, req{method: http.MethodPost, target: "/v1.0/external/connections", token: w, status: http.StatusCreated,
		body: map[string]any{"id": "hooks", "name": "Hooks"}})
	expires := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	var ids []string
	for _, v := range []string{"v1.0", "beta"} {
		got := e.do(t, req{method: http.MethodPost, target: "/" + v + "/subscriptions", token: w, status: http.StatusCreated,
			body: map[string]any{"changeType": "created,updated", "notificationUrl": rc.url, "resource": "external/connections/hooks/operations",
				"expirationDateTime": expires, "clientState": "state", "latestSupportedTlsVersion": "v1_3"}})
		ids = append(ids, got.object(t)["id"].(string))
	}
	// Expiring within 15 minutes, its reauthorizationRequired comes at once.
	e.do(t, req{method: http.MethodPost, target: "/v1.0/subscriptions", token: w, status: http.StatusCreated,
		body: map[string]any{"changeType": "deleted", "notificationUrl": rc.url, "lifecycleNotificationUrl": life.url,
			"resource": "/external/connections", "expirationDateTime": time.Now().Add(10 * time.Minute).UTC().Format(time.RFC3339)}})
	page := e.do(t, req{method: http.MethodGet, target: "/v1.0/subscriptions?$top=2&$count=true", token: w, status: http.StatusOK}).object(t)
	if next, _ := page["@odata.nextLink"].(string); next != "" {
		e.do(t, req{method: http.MethodGet, target: next, token: w, status: http.StatusOK})
	} else {
		t.Errorf("a page of 2 of 3 subscriptions has no nextLink: %v", page)
	}
	e.do(t, req{method: http.MethodGet, target: "/beta/subscriptions", token: w, status: http.StatusOK})
	for i, v := range []string{"v1.0", "beta"} {
		item := "/" + v + "/subscriptions/" + ids[i]
		e.do(t, req{method: http.MethodGet, target: item, token: w, status: http.StatusOK})
		e.do(t, req{method: http.MethodPatch, target: item, token: w, status: http.StatusOK,
			body: map[string]any{"expirationDateTime": time.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)}})
		e.do(t, req{method: http.MethodPost, target: item + "/reauthorize", token: w, status: http.StatusNoContent})
		e.do(t, req{method: http.MethodGet, target: item + "x", token: w, status: http.StatusNotFound})
		e.do(t, req{method: http.MethodPatch, target: item, token: w, status: http.StatusBadRequest,
			body: map[string]any{"lifecycleNotificationUrl": life.url}, request: invalid})
		e.do(t, req{method: http.MethodPost, target: "/" + v + "/subscriptions", token: w, status: http.StatusBadRequest,
			body: map[string]any{"notificationUrl": rc.url, "resource": "external/connections", "expirationDateTime": expires}, request: invalid})
		e.do(t, req{method: http.MethodPost, target: "/" + v + "/subscriptions", token: w, status: http.StatusNotFound,
			body: map[string]any{"changeType": "created", "notificationUrl": rc.url, "resource": "external/connections/nothere/operations",
				"expirationDateTime": expires}})
		e.do(t, req{method: http.MethodPost, target: "/" + v + "/subscriptions", token: reader(t, "other") + "x", status: http.StatusUnauthorized,
			body: map[string]any{"changeType": "created", "notificationUrl": rc.url, "resource": "external/connections", "expirationDateTime": expires}})
	}
	e.do(t, req{method: http.MethodGet, target: "/.well-known/jwks.json", status: http.StatusOK})

	// What the receivers got matches the document's description.
	e.do(t, req{method: http.MethodPost, target: "/v1.0/external/connections/hooks/operations", token: w, status: http.StatusCreated,
		body: map[string]any{"id": "op1", "status": "inprogress"}})
	e.validateNotification(t, rc.wait(t))
	e.validateNotification(t, life.wait(t))

	for i, v := range []string{"v1.0", "beta"} {
		item := "/" + v + "/subscriptions/" + ids[i]
		e.do(t, req{method: http.MethodDelete, target: item, token: w, status: http.StatusNoContent})
		e.do(t, req{method: http.MethodDelete, target: item, token: w, status: http.StatusNotFound})
	}
}

// validateNotification checks a POSTed body against
// components.schemas.changeNotificationCollection.
func (e *env) validateNotification(t *testing.T, body []byte) {
	t.Helper()
	ref := e.doc.Components.Schemas["changeNotificationCollection"]
	if ref == nil || ref.Value == nil {
		t.Fatal("document has no components.schemas.changeNotificationCollection")
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("notification is not JSON: %v", err)
	}
	if err := ref.Value.VisitJSON(v, openapi3.MultiErrors()); err != nil {
		t.Errorf("notification does not match changeNotificationCollection: %v\n%s", err, body)
	}
}
