package httpapi_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/connops/connops/internal/connections"
)

func TestSubscriptionCreateWithHandshake(t *testing.T) {
	ca := newCA(t)
	e := newAppEnv(t, webhookEnv(ca, nil), nil)
	w := writer(t, "contoso")
	e.createConnection(w, "hooks")
	rc := newReceiver(t, ca, "/api/notify?code=abc")
	life := newReceiver(t, ca, "/api/lifecycle")
	expires := time.Now().Add(2 * time.Hour).UTC().Truncate(time.Second)
	r := e.post("/v1.0/subscriptions", w, subscriptionBody("external/connections/hooks/operations", rc.url, map[string]any{
		"lifecycleNotificationUrl": life.url, "expirationDateTime": expires.Format(time.RFC3339), "changeType": "Created, updated",
	}))
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	body := r.json(t)
	id, _ := body["id"].(string)
	want := map[string]any{
		"@odata.context": e.url + "/v1.0/$metadata#subscriptions/$entity", "@odata.type": "#microsoft.graph.subscription",
		"resource": "external/connections/hooks/operations", "applicationId": "app-contoso", "creatorId": "app-contoso",
		"changeType": "created,updated", "clientState": "secret-state", "notificationUrl": rc.url,
		"lifecycleNotificationUrl": life.url, "expirationDateTime": expires.Format("2006-01-02T15:04:05.0000000Z"),
		"latestSupportedTlsVersion": "v1_2", "includeResourceData": false, "notificationContentType": "application/json",
	}
	for k, v := range want {
		if body[k] != v {
			t.Errorf("%s = %v, want %v", k, body[k], v)
		}
	}
	if r.header.Get("Location") != e.url+"/v1.0/subscriptions/"+id {
		t.Errorf("Location = %q", r.header.Get("Location"))
	}
	// Both URLs were validated, the notification URL with its own query kept.
	for _, got := range []*receiver{rc, life} {
		got.mu.Lock()
		tokens := got.handshakes
		got.mu.Unlock()
		if len(tokens) != 1 || !strings.ContainsAny(tokens[0], " +/=") {
			t.Errorf("handshakes %q, want one token needing URL encoding", tokens)
		}
	}
	if n := e.count(`SELECT count(*) FROM subscriptions WHERE id = $1 AND endpoint = $2`, id, strings.TrimPrefix(strings.Split(rc.url, "/api")[0], "https://")); n != 1 {
		t.Errorf("stored %d subscriptions with that id and endpoint", n)
	}
}

// TestSubscriptionHandshakeFailures: each way a receiver can fail the
// handshake is a 400 naming notificationUrl and saying why; nothing is
// stored.
func TestSubscriptionHandshakeFailures(t *testing.T) {
	e := newAppEnv(t, webhookEnv(nil, nil), nil)
	w := writer(t, "contoso")
	e.createConnection(w, "hooks")
	tests := []struct {
		name, want string
		answer     func(w http.ResponseWriter, r *http.Request, token string)
	}{
		{"wrong echo", "is not the validation token", func(w http.ResponseWriter, _ *http.Request, _ string) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write([]byte("something else"))
		}},
		{"encoded echo", "still URL-encoded", func(w http.ResponseWriter, _ *http.Request, token string) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write([]byte(url.QueryEscape(token)))
		}},
		{"not 200", "with 500, not 200", func(w http.ResponseWriter, _ *http.Request, _ string) {
			w.WriteHeader(http.StatusInternalServerError)
		}},
		{"not text/plain", "not text/plain", func(w http.ResponseWriter, _ *http.Request, token string) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(token))
		}},
		{"redirect", "with 302, not 200", func(w http.ResponseWriter, r *http.Request, _ string) {
			http.Redirect(w, r, "http://169.254.169.254/", http.StatusFound)
		}},
		{"timeout", "did not answer the validation request within 10s", func(_ http.ResponseWriter, r *http.Request, _ string) {
			<-r.Context().Done()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rc := newReceiver(t, nil, "/hook")
			rc.onHandshake = tt.answer
			r := e.post("/v1.0/subscriptions", w, subscriptionBody("external/connections/hooks/operations", rc.url, nil))
			got := wantError(t, r, http.StatusBadRequest, "invalidRequest")
			if got["target"] != "notificationUrl" || !strings.Contains(got["message"].(string), tt.want) {
				t.Errorf("error %v, want target notificationUrl and a message with %q", got, tt.want)
			}
		})
	}
	t.Run("lifecycle URL", func(t *testing.T) {
		t.Parallel()
		good, bad := newReceiver(t, nil, "/hook"), newReceiver(t, nil, "/life")
		bad.onHandshake = func(w http.ResponseWriter, _ *http.Request, _ string) { w.WriteHeader(http.StatusNotFound) }
		r := e.post("/v1.0/subscriptions", w, subscriptionBody("external/connections", good.url, map[string]any{"lifecycleNotificationUrl": bad.url}))
		if got := wantError(t, r, http.StatusBadRequest, "invalidRequest"); got["target"] != "lifecycleNotificationUrl" {
			t.Errorf("target = %v, want lifecycleNotificationUrl", got["target"])
		}
	})
	t.Cleanup(func() {
		if n := e.count(`SELECT count(*) FROM subscriptions`); n != 0 {
			t.Errorf("%d subscriptions stored after failed handshakes", n)
		}
	})
}

// TestSubscriptionRefusedAddresses: without WEBHOOK_ALLOW_PRIVATE_NETWORKS
// loopback, private, link-local (the metadata service) and other non-public
// addresses are refused before any request, and plain http always.
func TestSubscriptionRefusedAddresses(t *testing.T) {
	e := newEnv(t)
	w := writer(t, "contoso")
	rc := newReceiver(t, nil, "/hook")
	tests := map[string]string{
		"http loopback":  rc.url,
		"https loopback": strings.Replace(rc.url, "http://", "https://", 1),
		"localhost":      "https://localhost:9/hook",
		"private":        "https://10.1.2.3/hook",
		"metadata":       "https://169.254.169.254/latest/meta-data",
		"cgnat":          "https://100.64.0.1/hook",
		"ipv6 loopback":  "https://[::1]:9/hook",
		"ipv6 ula":       "https://[fd00::1]/hook",
		"mapped private": "https://[::ffff:192.168.1.1]/hook",
		"unspecified":    "https://0.0.0.0/hook",
	}
	for name, u := range tests {
		t.Run(name, func(t *testing.T) {
			r := e.post("/v1.0/subscriptions", w, subscriptionBody("external/connections", u, nil))
			got := wantError(t, r, http.StatusBadRequest, "invalidRequest")
			msg, _ := got["message"].(string)
			if got["target"] != "notificationUrl" || !(strings.Contains(msg, "does not connect to") || strings.Contains(msg, "must use https")) {
				t.Errorf("error %v", got)
			}
		})
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.handshakes) != 0 {
		t.Errorf("the receiver was contacted %d times", len(rc.handshakes))
	}
	if n := e.count(`SELECT count(*) FROM subscriptions`); n != 0 {
		t.Errorf("%d subscriptions stored", n)
	}
}

// TestSubscriptionBadBodies: every bad value gets Graph's error envelope,
// a 400 naming the property, and nothing is stored.
func TestSubscriptionBadBodies(t *testing.T) {
	e := newAppEnv(t, webhookEnv(nil, nil), nil)
	w := writer(t, "contoso")
	e.createConnection(w, "hooks")
	rc := newReceiver(t, nil, "/hook")
	// A time relative to now is written when its subtest sends it: parallel
	// subtests may start a minute or more after the table is built on a
	// busy machine, which would move "too far" back under the limit.
	type fromNow time.Duration
	tests := []struct {
		name, target string
		extra        map[string]any
	}{
		{"no changeType", "changeType", map[string]any{"changeType": nil}},
		{"empty changeType", "changeType", map[string]any{"changeType": ""}},
		{"unknown changeType", "changeType", map[string]any{"changeType": "created,moved"}},
		{"changeType not a string", "changeType", map[string]any{"changeType": []string{"created"}}},
		{"no notificationUrl", "notificationUrl", map[string]any{"notificationUrl": nil}},
		{"relative notificationUrl", "notificationUrl", map[string]any{"notificationUrl": "/hook"}},
		{"ftp notificationUrl", "notificationUrl", map[string]any{"notificationUrl": "ftp://example.com/hook"}},
		{"notificationUrl with password", "notificationUrl", map[string]any{"notificationUrl": "https://u:p@example.com/hook"}},
		{"notificationUrl with fragment", "notificationUrl", map[string]any{"notificationUrl": "https://example.com/hook#x"}},
		{"long notificationUrl", "notificationUrl", map[string]any{"notificationUrl": "https://example.com/" + strings.Repeat("a", 2048)}},
		{"bad lifecycleNotificationUrl", "lifecycleNotificationUrl", map[string]any{"lifecycleNotificationUrl": "not a url"}},
		{"no resource", "resource", map[string]any{"resource": nil}},
		{"unknown resource", "resource", map[string]any{"resource": "users/me/messages"}},
		{"items resource", "resource", map[string]any{"resource": "external/connections/hooks/items"}},
		{"resource with query", "resource", map[string]any{"resource": "external/connections?$filter=x"}},
		{"resource with empty segment", "resource", map[string]any{"resource": "external/connections//operations"}},
		{"no expirationDateTime", "expirationDateTime", map[string]any{"expirationDateTime": nil}},
		{"bad expirationDateTime", "expirationDateTime", map[string]any{"expirationDateTime": "tomorrow"}},
		{"past expirationDateTime", "expirationDateTime", map[string]any{"expirationDateTime": fromNow(-time.Minute)}},
		{"too far expirationDateTime", "expirationDateTime", map[string]any{"expirationDateTime": fromNow(4232 * time.Minute)}},
		{"long clientState", "clientState", map[string]any{"clientState": strings.Repeat("s", 129)}},
		{"clientState not a string", "clientState", map[string]any{"clientState": 7}},
		{"bad latestSupportedTlsVersion", "latestSupportedTlsVersion", map[string]any{"latestSupportedTlsVersion": "v2_0"}},
		{"includeResourceData", "includeResourceData", map[string]any{"includeResourceData": true}},
		{"encryptionCertificate", "encryptionCertificate", map[string]any{"encryptionCertificate": "MIIB..."}},
		{"notificationQueryOptions", "notificationQueryOptions", map[string]any{"notificationQueryOptions": "$filter=x"}},
		{"notificationContentType", "notificationContentType", map[string]any{"notificationContentType": "text/xml"}},
		{"read-only id", "id", map[string]any{"id": "7f105c7d-2dc5-4530-97cd-4e7ae6534c07"}},
		{"read-only applicationId", "applicationId", map[string]any{"applicationId": "someone"}},
		{"read-only creatorId", "creatorId", map[string]any{"creatorId": "someone"}},
		{"unknown property", "color", map[string]any{"color": "blue"}},
		{"wrong @odata.type", "@odata.type", map[string]any{"@odata.type": "#microsoft.graph.user"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			extra := map[string]any{}
			for k, v := range tt.extra {
				if d, ok := v.(fromNow); ok {
					v = time.Now().Add(time.Duration(d)).UTC().Format(time.RFC3339)
				}
				extra[k] = v
			}
			r := e.post("/v1.0/subscriptions", w, subscriptionBody("external/connections/hooks/operations", rc.url, extra))
			if got := wantError(t, r, http.StatusBadRequest, "invalidRequest"); got["target"] != tt.target {
				t.Errorf("target = %v, want %s (%v)", got["target"], tt.target, got["message"])
			}
		})
	}
	t.Run("not JSON", func(t *testing.T) {
		t.Parallel()
		wantError(t, e.post("/v1.0/subscriptions", w, `{"changeType":`), http.StatusBadRequest, "invalidRequest")
	})
	t.Run("no permission", func(t *testing.T) {
		t.Parallel()
		r := e.post("/v1.0/subscriptions", token(t, "contoso", "app-x", connections.PermItemReadAll), subscriptionBody("external/connections", rc.url, nil))
		wantError(t, r, http.StatusForbidden, "accessDenied")
	})
	t.Cleanup(func() {
		if n := e.count(`SELECT count(*) FROM subscriptions`); n != 0 {
			t.Errorf("%d subscriptions stored after bad bodies", n)
		}
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if len(rc.handshakes) != 0 {
			t.Errorf("%d handshakes for bad bodies", len(rc.handshakes))
		}
	})
}

func TestSubscriptionResources(t *testing.T) {
	e := newAppEnv(t, webhookEnv(nil, nil), nil)
	w := writer(t, "contoso")
	e.createConnection(w, "hooks")
	op := e.post("/v1.0/external/connections/hooks/operations", w, `{"id":"op.1","status":"inprogress"}`)
	if op.status != http.StatusCreated {
		t.Fatalf("create operation: %d %s", op.status, op.body)
	}
	rc := newReceiver(t, nil, "/hook")
	for _, res := range []string{"external/connections", "/external/connections", "connections", "external/connections/hooks/operations",
		"/connections/hooks/operations", "external/connections/hooks/operations/op.1"} {
		e.subscribe(w, res, rc.url, nil)
	}
	for res, status := range map[string]int{"external/connections/nothere/operations": http.StatusNotFound,
		"external/connections/hooks/operations/nothere": http.StatusNotFound} {
		r := e.post("/beta/subscriptions", w, subscriptionBody(res, rc.url, nil))
		wantError(t, r, status, "itemNotFound")
	}
}

func TestSubscriptionReadRenewDelete(t *testing.T) {
	e := newAppEnv(t, webhookEnv(nil, nil), nil)
	w := writer(t, "contoso")
	rc, other := newReceiver(t, nil, "/hook"), newReceiver(t, nil, "/other")
	life := newReceiver(t, nil, "/life")
	ids := map[string]bool{}
	for range 3 {
		ids[e.subscribe(w, "external/connections", rc.url, map[string]any{"lifecycleNotificationUrl": life.url})] = true
	}
	var id string
	for k := range ids {
		id = k
	}
	for _, v := range []string{"v1.0", "beta"} {
		got := e.get("/"+v+"/subscriptions/"+id, w)
		if got.status != http.StatusOK || got.json(t)["id"] != id || got.json(t)["@odata.context"] != e.url+"/"+v+"/$metadata#subscriptions/$entity" {
			t.Errorf("%s get: %d %s", v, got.status, got.body)
		}
	}
	// The list pages like every list.
	seen := map[string]bool{}
	next := "/v1.0/subscriptions?$top=2&$count=true"
	for next != "" {
		page := e.get(strings.TrimPrefix(next, e.url), w)
		if page.status != http.StatusOK {
			t.Fatalf("list: %d %s", page.status, page.body)
		}
		body := page.json(t)
		for _, v := range body["value"].([]any) {
			seen[v.(map[string]any)["id"].(string)] = true
		}
		next, _ = body["@odata.nextLink"].(string)
	}
	if len(seen) != 3 {
		t.Errorf("listed %v, want the 3 subscriptions", seen)
	}

	// Renew: a new expiry and a new URL (validated first).
	expires := time.Now().Add(3 * time.Hour).UTC().Truncate(time.Second)
	r := e.send(request{method: http.MethodPatch, path: "/v1.0/subscriptions/" + id, token: w,
		body: `{"expirationDateTime":"` + expires.Format(time.RFC3339) + `","notificationUrl":"` + other.url + `"}`})
	if r.status != http.StatusOK || r.json(t)["notificationUrl"] != other.url ||
		r.json(t)["expirationDateTime"] != expires.Format("2006-01-02T15:04:05.0000000Z") {
		t.Fatalf("renew: %d %s", r.status, r.body)
	}
	other.mu.Lock()
	if len(other.handshakes) != 1 {
		t.Errorf("the new URL had %d handshakes, want 1", len(other.handshakes))
	}
	other.mu.Unlock()
	for name, tt := range map[string]struct{ body, target string }{
		"lifecycle URL":  {`{"lifecycleNotificationUrl":"` + life.url + `"}`, "lifecycleNotificationUrl"},
		"past":           {`{"expirationDateTime":"2020-01-01T00:00:00Z"}`, "expirationDateTime"},
		"too far":        {`{"expirationDateTime":"` + time.Now().Add(100*time.Hour).UTC().Format(time.RFC3339) + `"}`, "expirationDateTime"},
		"resource":       {`{"resource":"external/connections"}`, "resource"},
		"read-only":      {`{"applicationId":"x"}`, "applicationId"},
		"refused URL":    {`{"notificationUrl":"https://10.0.0.1/x"}`, "notificationUrl"},
		"no receiver":    {`{"notificationUrl":"http://127.0.0.1:1/hook"}`, "notificationUrl"},
		"not JSON":       {`[`, ""},
		"clientState":    {`{"clientState":"x"}`, "clientState"},
		"changeType":     {`{"changeType":"created"}`, "changeType"},
		"odata type bad": {`{"@odata.type":"#x"}`, "@odata.type"},
	} {
		t.Run("renew "+name, func(t *testing.T) {
			r := e.send(request{method: http.MethodPatch, path: "/v1.0/subscriptions/" + id, token: w, body: tt.body})
			if got := wantError(t, r, http.StatusBadRequest, "invalidRequest"); tt.target != "" && got["target"] != tt.target {
				t.Errorf("target = %v, want %s", got["target"], tt.target)
			}
		})
	}
	after := e.get("/v1.0/subscriptions/"+id, w).json(t)
	if after["notificationUrl"] != other.url || after["lifecycleNotificationUrl"] != life.url {
		t.Errorf("a refused renewal changed the subscription: %v", after)
	}

	// Reauthorize, then delete.
	if r := e.post("/v1.0/subscriptions/"+id+"/reauthorize", w, ""); r.status != http.StatusNoContent {
		t.Errorf("reauthorize: %d %s", r.status, r.body)
	}
	if r := e.send(request{method: http.MethodDelete, path: "/v1.0/subscriptions/" + id, token: w}); r.status != http.StatusNoContent {
		t.Errorf("delete: %d %s", r.status, r.body)
	}
	for _, req := range []request{{method: http.MethodGet}, {method: http.MethodDelete}, {method: http.MethodPatch, body: `{}`},
		{method: http.MethodPost, path: "/reauthorize"}} {
		r := e.send(request{method: req.method, path: "/v1.0/subscriptions/" + id + req.path, token: w, body: req.body})
		wantError(t, r, http.StatusNotFound, "itemNotFound")
	}
	wantError(t, e.get("/v1.0/subscriptions/not-a-guid", w), http.StatusNotFound, "itemNotFound")
	if n := e.count(`SELECT count(*) FROM subscriptions`); n != 2 {
		t.Errorf("%d subscriptions left, want 2", n)
	}
}

// TestSubscriptionScoping: a subscription is its tenant's and app's; an
// OwnedBy app subscribes to and hears of its own connections only.
func TestSubscriptionScoping(t *testing.T) {
	e := newAppEnv(t, webhookEnv(nil, nil), nil)
	w := writer(t, "contoso")
	rc := newReceiver(t, nil, "/hook")
	id := e.subscribe(w, "external/connections", rc.url, nil)
	for name, tok := range map[string]string{
		"other tenant": writer(t, "fabrikam"),
		"other app":    token(t, "contoso", "app-other", connections.PermReadWriteAll),
	} {
		t.Run(name, func(t *testing.T) {
			for _, req := range []request{{method: http.MethodGet}, {method: http.MethodDelete}, {method: http.MethodPatch, body: `{}`},
				{method: http.MethodPost, path: "/reauthorize"}} {
				r := e.send(request{method: req.method, path: "/v1.0/subscriptions/" + id + req.path, token: tok, body: req.body})
				wantError(t, r, http.StatusNotFound, "itemNotFound")
			}
			if list := e.get("/v1.0/subscriptions", tok).json(t); len(list["value"].([]any)) != 0 {
				t.Errorf("list shows another's subscriptions: %v", list)
			}
		})
	}

	owned := token(t, "contoso", "app-owned", connections.PermReadWriteOwnedBy)
	e.createConnection(w, "notmine")
	e.createConnection(owned, "mine")
	r := e.post("/v1.0/subscriptions", owned, subscriptionBody("external/connections/notmine/operations", rc.url, nil))
	wantError(t, r, http.StatusNotFound, "itemNotFound")
	ownedRC := newReceiver(t, nil, "/owned")
	e.subscribe(owned, "external/connections", ownedRC.url, map[string]any{"changeType": "updated"})
	for _, c := range []string{"notmine", "mine"} {
		if r := e.send(request{method: http.MethodPatch, path: "/v1.0/external/connections/" + c, token: w, body: `{"name":"renamed"}`}); r.status != http.StatusNoContent {
			t.Fatalf("patch %s: %d %s", c, r.status, r.body)
		}
	}
	ownedRC.waitAccepted(1, 10*time.Second)
	// The full-scope subscription hears both; by then the owned one has had
	// every chance to hear notmine too.
	rc.waitAccepted(2, 10*time.Second)
	got := ownedRC.accepted()
	if len(got) != 1 || got[0]["resource"] != "external/connections/mine" {
		t.Errorf("the OwnedBy app's subscription got %v, want only mine's update", got)
	}
}
