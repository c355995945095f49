package httpapi_test

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

// wantNotification checks one change notification's exact shape.
func wantNotification(t *testing.T, n map[string]any, subID, tenant, changeType, resource string, data map[string]any) {
	t.Helper()
	keys := slices.Sorted(maps.Keys(n))
	if want := []string{"changeType", "clientState", "id", "resource", "resourceData", "subscriptionExpirationDateTime", "subscriptionId", "tenantId"}; !slices.Equal(keys, want) {
		t.Errorf("notification members %v, want %v", keys, want)
	}
	if n["subscriptionId"] != subID || n["tenantId"] != tenant || n["changeType"] != changeType || n["resource"] != resource ||
		n["clientState"] != "secret-state" {
		t.Errorf("notification %v, want subscription %s, tenant %s, %s of %s", n, subID, tenant, changeType, resource)
	}
	if _, err := time.Parse(time.RFC3339, n["subscriptionExpirationDateTime"].(string)); err != nil {
		t.Errorf("subscriptionExpirationDateTime: %v", err)
	}
	rd, _ := n["resourceData"].(map[string]any)
	for k, v := range data {
		if rd[k] != v {
			t.Errorf("resourceData.%s = %v, want %v (%v)", k, rd[k], v, rd)
		}
	}
	if len(rd) != len(data) {
		t.Errorf("resourceData %v, want exactly %v", rd, data)
	}
}

func TestSubscriptionDeliversOperationChanges(t *testing.T) {
	ca := newCA(t)
	e := newAppEnv(t, webhookEnv(ca, nil), nil)
	w := writer(t, "contoso")
	e.createConnection(w, "hooks")
	rc := newReceiver(t, ca, "/notify?code=abc")
	one := newReceiver(t, nil, "/one")
	sub := e.subscribe(w, "external/connections/hooks/operations", rc.url, nil)
	if r := e.post("/v1.0/external/connections/hooks/operations", w, `{"id":"op1","status":"inprogress"}`); r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	subOne := e.subscribe(w, "external/connections/hooks/operations/op1", one.url, map[string]any{"changeType": "updated"})
	e.post("/v1.0/external/connections/hooks/operations", w, `{"id":"op2","status":"inprogress"}`)
	if r := e.send(request{method: http.MethodPatch, path: "/v1.0/external/connections/hooks/operations/op1", token: w,
		body: `{"status":"completed"}`}); r.status/100 != 2 {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	if r := e.send(request{method: http.MethodDelete, path: "/v1.0/external/connections/hooks/operations/op1", token: w}); r.status/100 != 2 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	got := rc.waitAccepted(4, 15*time.Second)
	typ, path := "#microsoft.graph.externalConnectors.connectionOperation", "external/connections('hooks')/operations"
	wantNotification(t, got[0], sub, "contoso", "created", "external/connections/hooks/operations/op1",
		map[string]any{"@odata.type": typ, "@odata.id": path + "('op1')", "@odata.etag": `W/"1"`, "id": "op1", "status": "inprogress"})
	wantNotification(t, got[1], sub, "contoso", "created", "external/connections/hooks/operations/op2",
		map[string]any{"@odata.type": typ, "@odata.id": path + "('op2')", "@odata.etag": `W/"1"`, "id": "op2", "status": "inprogress"})
	wantNotification(t, got[2], sub, "contoso", "updated", "external/connections/hooks/operations/op1",
		map[string]any{"@odata.type": typ, "@odata.id": path + "('op1')", "@odata.etag": `W/"2"`, "id": "op1", "status": "completed"})
	wantNotification(t, got[3], sub, "contoso", "deleted", "external/connections/hooks/operations/op1",
		map[string]any{"@odata.type": typ, "@odata.id": path + "('op1')", "@odata.etag": `W/"2"`, "id": "op1", "status": "completed"})
	ids := map[any]bool{}
	for _, n := range got {
		ids[n["id"]] = true
	}
	if len(ids) != 4 {
		t.Errorf("notification ids %v are not distinct", ids)
	}
	for _, p := range rc.snapshot() {
		if p.query != "code=abc" {
			t.Errorf("POSTed with query %q, want the URL's own code=abc", p.query)
		}
		e.verifyTokens(p.body.ValidationTokens, "contoso", "app-contoso")
	}
	// The one-operation subscription hears only op1's update.
	one.waitAccepted(1, 10*time.Second)
	time.Sleep(500 * time.Millisecond)
	if gotOne := one.accepted(); len(gotOne) != 1 || gotOne[0]["subscriptionId"] != subOne || gotOne[0]["changeType"] != "updated" {
		t.Errorf("one-operation subscription got %v, want op1's update only", gotOne)
	}
}

func TestSubscriptionDeliversConnectionChanges(t *testing.T) {
	e := newAppEnv(t, webhookEnv(nil, map[string]string{"PROVISIONING_DELAY": "0s"}), nil)
	w := writer(t, "contoso")
	rc := newReceiver(t, nil, "/hook")
	sub := e.subscribe(w, "external/connections", rc.url, nil)
	e.createConnection(w, "hooks")
	e.post("/v1.0/external/connections/hooks/operations", w, `{"status":"inprogress"}`) // not a connection change
	if r := e.send(request{method: http.MethodPatch, path: "/v1.0/external/connections/hooks/schema", token: w,
		body: `{"baseType":"microsoft.graph.externalItem","properties":[{"name":"title","type":"String"}]}`}); r.status != http.StatusAccepted {
		t.Fatalf("schema: %d %s", r.status, r.body)
	}
	// Registration completes: the connection turns ready.
	rc.waitFor(15*time.Second, "the connection's ready update", func([]post) bool {
		for _, n := range rc.accepted() {
			if rd, _ := n["resourceData"].(map[string]any); rd["state"] == "ready" {
				return true
			}
		}
		return false
	})
	if r := e.send(request{method: http.MethodDelete, path: "/v1.0/external/connections/hooks", token: w}); r.status != http.StatusAccepted {
		t.Fatalf("delete: %d", r.status)
	}
	rc.waitFor(15*time.Second, "the deletion", func([]post) bool {
		n := rc.accepted()
		return len(n) > 0 && n[len(n)-1]["changeType"] == "deleted"
	})
	all := rc.accepted()
	typ := "#microsoft.graph.externalConnectors.externalConnection"
	wantNotification(t, all[0], sub, "contoso", "created", "external/connections/hooks",
		map[string]any{"@odata.type": typ, "@odata.id": "external/connections('hooks')", "@odata.etag": `W/"1"`, "id": "hooks", "state": "draft"})
	last := all[len(all)-1]
	wantNotification(t, last, sub, "contoso", "deleted", "external/connections/hooks",
		map[string]any{"@odata.type": typ, "@odata.id": "external/connections('hooks')", "@odata.etag": last["resourceData"].(map[string]any)["@odata.etag"],
			"id": "hooks", "state": "ready"})
	for _, n := range all {
		if rd := n["resourceData"].(map[string]any); rd["@odata.type"] != typ {
			t.Errorf("a connections subscription was sent %v", n)
		}
	}
}

// TestSubscriptionRetriesAndBatches: a 503 is retried with back-off; the
// retry carries every change committed meanwhile in one POST, and a change
// sent twice keeps its id.
func TestSubscriptionRetriesAndBatches(t *testing.T) {
	e := newAppEnv(t, webhookEnv(nil, nil), nil)
	w := writer(t, "contoso")
	e.createConnection(w, "hooks")
	rc := newReceiver(t, nil, "/hook")
	e.subscribe(w, "external/connections/hooks/operations", rc.url, map[string]any{"changeType": "created"})
	var mu sync.Mutex
	failures := 2
	rc.setNotify(func(http.ResponseWriter, *http.Request) int {
		mu.Lock()
		defer mu.Unlock()
		if failures > 0 {
			failures--
			return http.StatusServiceUnavailable
		}
		return http.StatusAccepted
	})
	e.post("/v1.0/external/connections/hooks/operations", w, `{"id":"first"}`)
	rc.waitFor(10*time.Second, "a first POST", func(p []post) bool { return len(p) > 0 })
	for i := range 10 {
		e.post("/v1.0/external/connections/hooks/operations", w, fmt.Sprintf(`{"id":"more%d"}`, i))
	}
	got := rc.waitAccepted(11, 30*time.Second)
	posts := rc.snapshot()
	if posts[0].status != http.StatusServiceUnavailable || posts[1].status != http.StatusServiceUnavailable {
		t.Fatalf("first POSTs answered %d, %d; want two 503s", posts[0].status, posts[1].status)
	}
	largest := 0
	for _, p := range posts {
		largest = max(largest, len(p.body.Value))
	}
	if largest < 2 {
		t.Errorf("no POST carried more than one notification: %+v", posts)
	}
	ids := map[string]string{}
	for _, n := range got {
		op := n["resourceData"].(map[string]any)["id"].(string)
		if prev, ok := ids[op]; ok {
			t.Errorf("%s accepted twice (%s)", op, prev)
		}
		ids[op] = n["id"].(string)
	}
	if len(ids) != 11 {
		t.Errorf("accepted %d distinct changes, want 11", len(ids))
	}
	// The refused first POST's notification came again with the same id.
	if first := posts[0].body.Value[0]; ids[first["resourceData"].(map[string]any)["id"].(string)] != first["id"] {
		t.Errorf("the retried notification changed its id: %v vs %v", first["id"], ids)
	}
}

// TestSubscriptionDropsPastRetryWindow: changes are retried until the retry
// window (2 s here) has passed since their commit, then dropped, and a
// missed lifecycle notification says so; later changes go through.
func TestSubscriptionDropsPastRetryWindow(t *testing.T) {
	e := newAppEnv(t, webhookEnv(nil, map[string]string{"WEBHOOK_RETRY_WINDOW": "2s"}), nil)
	w := writer(t, "contoso")
	e.createConnection(w, "hooks")
	rc, life := newReceiver(t, nil, "/hook"), newReceiver(t, nil, "/life")
	sub := e.subscribe(w, "external/connections/hooks/operations", rc.url, map[string]any{"lifecycleNotificationUrl": life.url})
	rc.setNotify(answering(http.StatusInternalServerError))
	e.post("/v1.0/external/connections/hooks/operations", w, `{"id":"lost"}`)
	events := life.waitFor(20*time.Second, "a missed lifecycle notification", func(p []post) bool { return len(p) > 0 })
	n := events[0].body.Value[0]
	if n["lifecycleEvent"] != "missed" || n["subscriptionId"] != sub || n["tenantId"] != "contoso" || n["clientState"] != "secret-state" {
		t.Errorf("lifecycle notification %v, want missed for %s", n, sub)
	}
	e.verifyTokens(events[0].body.ValidationTokens, "contoso", "app-contoso")
	if len(rc.snapshot()) < 2 {
		t.Errorf("dropped after %d attempt(s), want retries first", len(rc.snapshot()))
	}
	rc.setNotify(answering(http.StatusOK))
	e.post("/v1.0/external/connections/hooks/operations", w, `{"id":"later"}`)
	got := rc.waitAccepted(1, 15*time.Second)
	if len(got) != 1 || got[0]["resourceData"].(map[string]any)["id"] != "later" {
		t.Errorf("after the drop got %v, want only the later change", got)
	}
}

// TestSubscriptionLifecycleEvents: reauthorizationRequired before expiry
// (again after a renewal), then subscriptionRemoved when it expires.
func TestSubscriptionLifecycleEvents(t *testing.T) {
	e := newAppEnv(t, webhookEnv(nil, nil), nil)
	w := writer(t, "contoso")
	rc, life := newReceiver(t, nil, "/hook"), newReceiver(t, nil, "/life")
	expires := time.Now().Add(5 * time.Second).UTC()
	sub := e.subscribe(w, "external/connections", rc.url, map[string]any{"lifecycleNotificationUrl": life.url,
		"expirationDateTime": expires.Format(time.RFC3339Nano)})
	event := func(i int) map[string]any {
		return life.waitFor(15*time.Second, fmt.Sprintf("lifecycle notification %d", i+1), func(p []post) bool { return len(p) > i })[i].body.Value[0]
	}
	if n := event(0); n["lifecycleEvent"] != "reauthorizationRequired" || n["subscriptionId"] != sub {
		t.Errorf("first lifecycle notification %v, want reauthorizationRequired", n)
	}
	renewed := time.Now().Add(6 * time.Second).UTC().Truncate(time.Millisecond)
	if r := e.send(request{method: http.MethodPatch, path: "/v1.0/subscriptions/" + sub, token: w,
		body: `{"expirationDateTime":"` + renewed.Format(time.RFC3339Nano) + `"}`}); r.status != http.StatusOK {
		t.Fatalf("renew: %d %s", r.status, r.body)
	}
	n := event(1)
	if n["lifecycleEvent"] != "reauthorizationRequired" || n["subscriptionExpirationDateTime"] != renewed.Format("2006-01-02T15:04:05.0000000Z") {
		t.Errorf("after the renewal %v, want reauthorizationRequired for %s", n, renewed)
	}
	if n := event(2); n["lifecycleEvent"] != "subscriptionRemoved" || n["subscriptionId"] != sub {
		t.Errorf("at expiry %v, want subscriptionRemoved", n)
	}
	wantError(t, e.get("/v1.0/subscriptions/"+sub, w), http.StatusNotFound, "itemNotFound")
	if len(life.snapshot()) != 3 {
		t.Errorf("lifecycle notifications %+v, want 3", life.snapshot())
	}
}

// TestSubscriptionRemovedWithConnection: an operations subscription gets
// what happened before its connection's deletion, then subscriptionRemoved.
func TestSubscriptionRemovedWithConnection(t *testing.T) {
	e := newAppEnv(t, webhookEnv(nil, nil), nil)
	w := writer(t, "contoso")
	e.createConnection(w, "hooks")
	rc, life := newReceiver(t, nil, "/hook"), newReceiver(t, nil, "/life")
	rc.setNotify(answering(http.StatusServiceUnavailable)) // hold the changes back until the deletion is in
	sub := e.subscribe(w, "external/connections/hooks/operations", rc.url, map[string]any{"lifecycleNotificationUrl": life.url})
	e.post("/v1.0/external/connections/hooks/operations", w, `{"id":"before"}`)
	rc.waitFor(10*time.Second, "a first POST", func(p []post) bool { return len(p) > 0 })
	if r := e.send(request{method: http.MethodDelete, path: "/v1.0/external/connections/hooks", token: w}); r.status != http.StatusAccepted {
		t.Fatalf("delete: %d", r.status)
	}
	rc.setNotify(answering(http.StatusOK))
	got := rc.waitAccepted(1, 15*time.Second)
	if got[0]["resourceData"].(map[string]any)["id"] != "before" {
		t.Errorf("got %v, want the operation created before the deletion", got)
	}
	events := life.waitFor(15*time.Second, "subscriptionRemoved", func(p []post) bool { return len(p) > 0 })
	if n := events[0].body.Value[0]; n["lifecycleEvent"] != "subscriptionRemoved" || n["subscriptionId"] != sub {
		t.Errorf("lifecycle notification %v, want subscriptionRemoved", n)
	}
	wantError(t, e.get("/v1.0/subscriptions/"+sub, w), http.StatusNotFound, "itemNotFound")
}

// TestSubscriptionDeadEndpointDoesNotDelayOthers: subscriptions whose
// endpoint hangs every POST to its 3 s timeout, more of them than there are
// workers, do not hold up another endpoint's: it is served while the dead
// one's POSTs still hang.
func TestSubscriptionDeadEndpointDoesNotDelayOthers(t *testing.T) {
	e := newAppEnv(t, webhookEnv(nil, map[string]string{"WEBHOOK_WORKERS": "4"}), nil)
	w := writer(t, "contoso")
	e.createConnection(w, "hooks")
	dead, live := newReceiver(t, nil, "/dead"), newReceiver(t, nil, "/live")
	var mu sync.Mutex
	hanging, hung := 0, 0
	dead.setNotify(func(w http.ResponseWriter, r *http.Request) int {
		mu.Lock()
		hanging++
		hung++
		mu.Unlock()
		defer func() { mu.Lock(); hanging--; mu.Unlock() }()
		return hangUntilGone(w, r)
	})
	for range 8 {
		e.subscribe(w, "external/connections/hooks/operations", dead.url, nil)
	}
	e.post("/v1.0/external/connections/hooks/operations", w, `{"id":"busy"}`)
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := hanging
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the dead endpoint was never called")
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.subscribe(w, "external/connections/hooks/operations", live.url, nil)
	e.post("/v1.0/external/connections/hooks/operations", w, `{"id":"next"}`)
	live.waitAccepted(1, 15*time.Second)
	mu.Lock()
	stillHanging, maxSeen := hanging, hung
	mu.Unlock()
	if stillHanging == 0 {
		t.Errorf("the live endpoint was served only once no dead POST hung")
	}
	if stillHanging > 2 {
		t.Errorf("%d POSTs hung on one endpoint at once, want at most 2 (half of 4 workers)", stillHanging)
	}
	t.Logf("dead endpoint: %d POSTs so far, %d hanging when the live one was served", maxSeen, stillHanging)
}

// TestSubscriptionAcrossReplicas: a change committed on one replica is
// delivered for a subscription made on another, with the same signing keys.
func TestSubscriptionAcrossReplicas(t *testing.T) {
	a := newAppEnv(t, webhookEnv(nil, nil), nil)
	b := a.replica()
	w := writer(t, "contoso")
	a.createConnection(w, "hooks")
	rc := newReceiver(t, nil, "/hook")
	a.subscribe(w, "external/connections/hooks/operations", rc.url, nil)
	b.post("/v1.0/external/connections/hooks/operations", w, `{"id":"fromb"}`)
	rc.waitAccepted(1, 15*time.Second)
	b.verifyTokens(rc.snapshot()[0].body.ValidationTokens, "contoso", "app-contoso")
	if ka, kb := a.get("/.well-known/jwks.json", "").body, b.get("/.well-known/jwks.json", "").body; string(ka) != string(kb) {
		t.Errorf("replicas publish different keys:\n%s\n%s", ka, kb)
	}
}
