package httpapi_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connops/connops/internal/connections"
)

// readyConnection creates a connection and registers the pnp schema on it,
// waiting until it is ready for items.
func (e *env) readyConnection(tok, id string) {
	e.t.Helper()
	e.createConnection(tok, id)
	r := e.send(request{method: http.MethodPatch, path: "/v1.0/external/connections/" + id + "/schema", token: tok, body: pnpSchema})
	if r.status != http.StatusAccepted {
		e.t.Fatalf("register schema: %d %s", r.status, r.body)
	}
	e.poll("/v1.0/external/connections/"+id, tok, func(b map[string]any) bool { return b["state"] == "ready" })
}

func (e *env) put(path, tok, body string) response {
	e.t.Helper()
	return e.send(request{method: http.MethodPut, path: path, token: tok, body: body})
}

// pnpItem is an item as the pnp JavaScript sample sends it.
func pnpItem(id string) string {
	return `{"id":"` + id + `","properties":{"title":"App fail throttled","excerpt":"When an app is throttled",
	 "imageUrl":"https://example.com/i.png","url":"https://example.com/` + id + `","date":"2022-12-09T00:00:00Z",
	 "tags@odata.type":"Collection(String)","tags":["throttling","apps"]},
	 "content":{"value":"Plain text of the post.","type":"text"},
	 "acl":[{"accessType":"grant","type":"everyone","value":"everyone"}]}`
}

// TestPnpItemPhase replays the item phase of the pnp JavaScript sample, then
// reads the items back through the connops extension.
func TestPnpItemPhase(t *testing.T) {
	e := newAppEnv(t, map[string]string{"PROVISIONING_DELAY": "0s"}, nil)
	tok := writer(t, "contoso")
	e.readyConnection(tok, "pnpitems")
	for i := range 30 {
		r := e.put(fmt.Sprintf("/v1.0/external/connections/pnpitems/items/app-fail-%02d", i), tok, pnpItem(fmt.Sprintf("app-fail-%02d", i)))
		if r.status != http.StatusOK || r.header.Get("Location") != "" {
			t.Fatalf("PUT item %d: %d %s (Location %q)", i, r.status, r.body, r.header.Get("Location"))
		}
	}
	got := e.get("/v1.0/external/connections/pnpitems/items/app-fail-03", tok).json(t)
	props := got["properties"].(map[string]any)
	if props["title"] != "App fail throttled" || props["tags@odata.type"] != "Collection(String)" || len(props["tags"].([]any)) != 2 {
		t.Errorf("item read back: %v", got)
	}
	if c := got["content"].(map[string]any); c["type"] != "text" || got["acl"].([]any)[0].(map[string]any)["type"] != "everyone" {
		t.Errorf("content/acl read back: %v", got)
	}
	// Replacing is not a new item.
	if r := e.put("/v1.0/external/connections/pnpitems/items/app-fail-03", tok, pnpItem("app-fail-03")); r.status != http.StatusOK {
		t.Fatalf("replace: %d", r.status)
	}
	if n := e.get("/v1.0/external/connections/pnpitems/items/$count", tok); string(n.body) != "30" {
		t.Errorf("$count = %s, want 30", n.body)
	}
	all := e.pageAll("/v1.0/external/connections/pnpitems/items?$top=7", tok)
	if len(all) != 30 || all[0] != "app-fail-00" {
		t.Errorf("listed %d items: %v", len(all), all)
	}
	if r := e.get("/v1.0/external/connections/pnpitems/items?$filter=id%20eq%20'app-fail-07'&$count=true", tok).json(t); r["@odata.count"] != 1.0 {
		t.Errorf("filtered count: %v", r["@odata.count"])
	}
	if r := e.send(request{method: http.MethodDelete, path: "/v1.0/external/connections/pnpitems/items/app-fail-07", token: tok}); r.status != http.StatusNoContent {
		t.Errorf("DELETE: %d", r.status)
	}
	wantError(t, e.get("/v1.0/external/connections/pnpitems/items/app-fail-07", tok), http.StatusNotFound, "itemNotFound")
	if n := e.get("/v1.0/external/connections/pnpitems/items/$count", tok); string(n.body) != "29" {
		t.Errorf("$count after delete = %s", n.body)
	}
}

// TestCSharpSampleItems: Microsoft's C# sample grants everyone by the
// tenant id and sends Int64 and Double values.
func TestCSharpSampleItems(t *testing.T) {
	e := newAppEnv(t, map[string]string{"PROVISIONING_DELAY": "0s"}, nil)
	tok := writer(t, "contoso")
	e.createConnection(tok, "parts")
	r := e.send(request{method: http.MethodPost, path: "/v1.0/external/connections/parts/schema", token: tok,
		header: map[string]string{"Prefer": "respond-async"},
		body: `{"baseType":"microsoft.graph.externalItem","properties":[
		 {"name":"partNumber","type":"Int64","isQueryable":true,"isRetrievable":true,"isRefinable":true},
		 {"name":"name","type":"String","isQueryable":true,"isSearchable":true,"isRetrievable":true,"labels":["title"]},
		 {"name":"price","type":"Double","isRefinable":true},
		 {"name":"appliances","type":"StringCollection","isQueryable":true,"isSearchable":true,"isRetrievable":true}]}`})
	u, _ := url.Parse(r.header.Get("Location"))
	e.poll(u.Path, tok, func(b map[string]any) bool { return b["status"] == "completed" })
	body := `{"id":"1001","properties":{"partNumber":1001,"name":"Widget","price":9.95,
	  "appliances@odata.type":"Collection(String)","appliances":["Dishwasher"]},
	  "content":{"type":"text","value":"A widget."},
	  "acl":[{"accessType":"grant","type":"everyone","value":"` + "5c2c8b1e-0000-4000-8000-000000000001" + `"}]}`
	if r := e.put("/v1.0/external/connections/parts/items/1001", tok, body); r.status != http.StatusOK {
		t.Fatalf("PUT: %d %s", r.status, r.body)
	}
	got := e.get("/v1.0/external/connections/parts/items/1001", tok).json(t)
	if p := got["properties"].(map[string]any); p["partNumber"] != 1001.0 || p["price"] != 9.95 {
		t.Errorf("values read back: %v", p)
	}
}

// TestBadItemsAreRefused: each is a 400 naming the offending property, and
// nothing is stored.
func TestBadItemsAreRefused(t *testing.T) {
	e := newAppEnv(t, map[string]string{"PROVISIONING_DELAY": "0s"}, nil)
	tok := writer(t, "contoso")
	e.readyConnection(tok, "baditems")
	const acl = `"acl":[{"accessType":"grant","type":"everyone","value":"everyone"}]`
	item := func(props, rest string) string { return `{"properties":{` + props + `},` + rest + `}` }
	tests := []struct{ name, path, body, target string }{
		{"unknown property", "i1", item(`"colour":"red"`, acl), "properties.colour"},
		{"string for a number", "i1", item(`"title":7`, acl), "properties.title"},
		{"bad date", "i1", item(`"date":"yesterday"`, acl), "properties.date"},
		{"date without a zone", "i1", item(`"date":"2024-01-01T10:00:00"`, acl), "properties.date"},
		{"collection without its annotation", "i1", item(`"tags":["a"]`, acl), "properties.tags"},
		{"collection with a wrong annotation", "i1", item(`"tags@odata.type":"Collection(Int64)","tags":["a"]`, acl), "properties.tags@odata.type"},
		{"collection element of the wrong type", "i1", item(`"tags@odata.type":"Collection(String)","tags":[1]`, acl), "properties.tags[0]"},
		{"no properties", "i1", item(``, acl), "properties"},
		{"no acl", "i1", item(`"title":"t"`, `"content":{"type":"text","value":"v"}`), "acl"},
		{"empty acl", "i1", item(`"title":"t"`, `"acl":[]`), "acl"},
		{"unknown acl type", "i1", item(`"title":"t"`, `"acl":[{"accessType":"grant","type":"planet","value":"x"}]`), "acl[0].type"},
		{"unknown access type", "i1", item(`"title":"t"`, `"acl":[{"accessType":"maybe","type":"user","value":"x"}]`), "acl[0].accessType"},
		{"content type", "i1", item(`"title":"t"`, acl+`,"content":{"type":"markdown","value":"v"}`), "content.type"},
		{"id not the path's", "i1", `{"id":"i2","properties":{"title":"t"},` + acl + `}`, "id"},
		{"bad item id", "bad%20id", item(`"title":"t"`, acl), "id"},
		{"long item id", strings.Repeat("x", 129), item(`"title":"t"`, acl), "id"},
		{"NUL in a value", "i1", item(`"title":"a\u0000b"`, acl), "properties.title"},
		{"inline activity without its type", "i1", item(`"title":"t"`, acl+`,"activities":[{"type":"created","startDateTime":"2026-01-01T00:00:00Z","performedBy":{"type":"user","id":"u1"}}]`), "activities[0]"},
	}
	for _, tt := range tests {
		got := wantError(t, e.put("/v1.0/external/connections/baditems/items/"+tt.path, tok, tt.body), http.StatusBadRequest, "invalidRequest")
		if got["target"] != tt.target {
			t.Errorf("%s: target %v (%v)", tt.name, got["target"], got["message"])
		}
	}
	if n := e.count(`SELECT count(*) FROM items`); n != 0 {
		t.Errorf("refused items stored %d rows", n)
	}
	// Bodies up to 4 MB are items' limit; past it is 413.
	big := item(`"title":"`+strings.Repeat("x", 5<<20)+`"`, acl)
	wantError(t, e.put("/v1.0/external/connections/baditems/items/big", tok, big), http.StatusRequestEntityTooLarge, "requestEntityTooLarge")
	ok := item(`"title":"t"`, acl+`,"content":{"type":"text","value":"`+strings.Repeat("y", 3<<20)+`"}`)
	if r := e.put("/v1.0/external/connections/baditems/items/large", tok, ok); r.status != http.StatusOK {
		t.Errorf("a 3 MB item: %d %s", r.status, r.body[:min(len(r.body), 200)])
	}
}

func TestItemsNeedAnActiveSchema(t *testing.T) {
	e := newAppEnv(t, map[string]string{"PROVISIONING_DELAY": "manual"}, nil)
	tok := writer(t, "contoso")
	e.createConnection(tok, "draftconn")
	got := wantError(t, e.put("/v1.0/external/connections/draftconn/items/i1", tok, pnpItem("i1")), http.StatusConflict, "conflict")
	if !strings.Contains(got["message"].(string), "draft") {
		t.Errorf("message %q does not name the state", got["message"])
	}
	e.send(request{method: http.MethodPatch, path: "/v1.0/external/connections/draftconn/schema", token: tok, body: pnpSchema})
	wantError(t, e.put("/v1.0/external/connections/draftconn/items/i1", tok, pnpItem("i1")), http.StatusConflict, "conflict")
}

// TestItemPatch merges properties, replaces acl and content.
func TestItemPatch(t *testing.T) {
	e := newAppEnv(t, map[string]string{"PROVISIONING_DELAY": "0s"}, nil)
	tok := writer(t, "contoso")
	e.readyConnection(tok, "patching")
	e.put("/v1.0/external/connections/patching/items/p1", tok, pnpItem("p1"))
	r := e.patch("/v1.0/external/connections/patching/items/p1", tok, `{"properties":{"title":"New title"},"acl":[{"accessType":"deny","type":"user","value":"u1"},{"accessType":"grant","type":"everyone","value":"everyone"}]}`, nil)
	if r.status != http.StatusOK {
		t.Fatalf("PATCH: %d %s", r.status, r.body)
	}
	got := r.json(t)
	if p := got["properties"].(map[string]any); p["title"] != "New title" || p["excerpt"] != "When an app is throttled" {
		t.Errorf("merged properties: %v", p)
	}
	if len(got["acl"].([]any)) != 2 || got["content"].(map[string]any)["value"] != "Plain text of the post." {
		t.Errorf("acl/content: %v", got)
	}
	wantError(t, e.patch("/v1.0/external/connections/patching/items/p1", tok, `{"properties":{"date":"soon"}}`, nil), http.StatusBadRequest, "invalidRequest")
	wantError(t, e.patch("/v1.0/external/connections/patching/items/nope", tok, `{"properties":{"title":"x"}}`, nil), http.StatusNotFound, "itemNotFound")
}

// TestItemQuotaIsExact: under concurrent PUTs the quota holds exactly, the
// refused ones get Graph's quota error, the connection reports
// limitExceeded, and beta's quota navigation answers.
func TestItemQuotaIsExact(t *testing.T) {
	const limit = 25
	e := newAppEnv(t, map[string]string{"PROVISIONING_DELAY": "0s", "ITEMS_PER_CONNECTION": fmt.Sprint(limit)}, nil)
	tok := writer(t, "contoso")
	e.readyConnection(tok, "quota")
	var wg sync.WaitGroup
	statuses := make([]int, 60)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("q%02d", i)
			statuses[i] = e.put("/v1.0/external/connections/quota/items/"+id, tok, pnpItem(id)).status
		}()
	}
	wg.Wait()
	ok, refused := 0, 0
	for _, s := range statuses {
		switch s {
		case http.StatusOK:
			ok++
		case http.StatusInsufficientStorage:
			refused++
		default:
			t.Errorf("status %d", s)
		}
	}
	if ok != limit || refused != 60-limit {
		t.Errorf("%d stored, %d refused; want %d and %d", ok, refused, limit, 60-limit)
	}
	if n := e.count(`SELECT count(*) FROM items`); n != limit {
		t.Errorf("items stored: %d", n)
	}
	got := wantError(t, e.put("/v1.0/external/connections/quota/items/more", tok, pnpItem("more")), http.StatusInsufficientStorage, "quotaLimitReached")
	_ = got
	if c := e.get("/v1.0/external/connections/quota", tok).json(t); c["state"] != "limitExceeded" {
		t.Errorf("state at the quota: %v", c["state"])
	}
	if q := e.get("/beta/external/connections/quota/quota", tok).json(t); q["itemsRemaining"] != 0.0 {
		t.Errorf("quota: %v", q)
	}
	// Replacing an item at the quota is fine; deleting one frees a slot.
	if r := e.put("/v1.0/external/connections/quota/items/q00", tok, pnpItem("q00")); r.status != http.StatusOK && statuses[0] == http.StatusOK {
		t.Errorf("replace at the quota: %d", r.status)
	}
	var victim string
	for i, s := range statuses {
		if s == http.StatusOK {
			victim = fmt.Sprintf("q%02d", i)
			break
		}
	}
	e.send(request{method: http.MethodDelete, path: "/v1.0/external/connections/quota/items/" + victim, token: tok})
	if c := e.get("/v1.0/external/connections/quota", tok).json(t); c["state"] != "ready" {
		t.Errorf("state below the quota: %v", c["state"])
	}
	if q := e.get("/beta/connections/quota/quota", tok).json(t); q["itemsRemaining"] != 1.0 {
		t.Errorf("quota after a delete: %v", q)
	}
}

func TestAddActivities(t *testing.T) {
	e := newAppEnv(t, map[string]string{"PROVISIONING_DELAY": "0s"}, nil)
	tok := writer(t, "contoso")
	e.readyConnection(tok, "acts")
	e.put("/v1.0/external/connections/acts/items/a1", tok, pnpItem("a1"))
	now := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
	activity := func(typ string) string {
		return `{"@odata.type":"#microsoft.graph.externalConnectors.externalActivity","type":"` + typ + `","startDateTime":"` + now + `","performedBy":{"type":"user","id":"u1"}}`
	}
	r := e.post("/v1.0/external/connections/acts/items/a1/addActivities", tok, `{"activities":[`+activity("created")+`,`+activity("viewed")+`]}`)
	if r.status != http.StatusOK || len(r.json(t)["value"].([]any)) != 2 {
		t.Fatalf("addActivities: %d %s", r.status, r.body)
	}
	r = e.post("/v1.0/external/connections/acts/items/a1/microsoft.graph.externalConnectors.addActivities", tok, `{"activities":[`+activity("created")+`,`+activity("danced")+`]}`)
	if r.status != http.StatusMultiStatus {
		t.Fatalf("partly bad activities: %d %s", r.status, r.body)
	}
	results := r.json(t)["value"].([]any)
	if results[0].(map[string]any)["error"] != nil || results[1].(map[string]any)["error"] == nil {
		t.Errorf("results: %v", results)
	}
	if n := e.count(`SELECT count(*) FROM item_activities`); n != 3 {
		t.Errorf("activities stored: %d, want 3", n)
	}
	var many []string
	for range 21 {
		many = append(many, activity("viewed"))
	}
	wantError(t, e.post("/v1.0/external/connections/acts/items/a1/addActivities", tok, `{"activities":[`+strings.Join(many, ",")+`]}`), http.StatusBadRequest, "invalidRequest")
	wantError(t, e.post("/v1.0/external/connections/acts/items/nope/addActivities", tok, `{"activities":[`+activity("viewed")+`]}`), http.StatusNotFound, "itemNotFound")
}

func TestExternalGroups(t *testing.T) {
	e := newAppEnv(t, map[string]string{"PROVISIONING_DELAY": "0s"}, nil)
	tok := writer(t, "contoso")
	e.readyConnection(tok, "groups")
	// ACL entries may name groups that do not exist yet.
	early := strings.Replace(pnpItem("g1"), `"type":"everyone","value":"everyone"`, `"type":"externalGroup","value":"engineering"`, 1)
	if r := e.put("/v1.0/external/connections/groups/items/g1", tok, early); r.status != http.StatusOK {
		t.Fatalf("item naming a future group: %d %s", r.status, r.body)
	}
	r := e.post("/v1.0/external/connections/groups/groups", tok, `{"id":"engineering","displayName":"Engineering"}`)
	if r.status != http.StatusCreated || r.json(t)["displayName"] != "Engineering" {
		t.Fatalf("create group: %d %s", r.status, r.body)
	}
	wantError(t, e.post("/v1.0/external/connections/groups/groups", tok, `{"id":"engineering"}`), http.StatusConflict, "nameAlreadyExists")
	wantError(t, e.post("/v1.0/external/connections/groups/groups", tok, `{"id":"bad id"}`), http.StatusBadRequest, "invalidRequest")
	if r := e.patch("/v1.0/external/connections/groups/groups/engineering", tok, `{"description":"All engineers"}`, nil); r.status != http.StatusNoContent {
		t.Errorf("PATCH group: %d %s", r.status, r.body)
	}
	if g := e.get("/v1.0/external/connections/groups/groups/engineering", tok).json(t); g["description"] != "All engineers" || g["displayName"] != "Engineering" {
		t.Errorf("group read back: %v", g)
	}
	for _, m := range []string{`{"id":"u1","type":"user"}`, `{"id":"e2","type":"externalGroup"}`, `{"id":"g3","type":"group"}`} {
		if r := e.post("/v1.0/external/connections/groups/groups/engineering/members", tok, m); r.status != http.StatusCreated {
			t.Errorf("add member %s: %d %s", m, r.status, r.body)
		}
	}
	wantError(t, e.post("/v1.0/external/connections/groups/groups/engineering/members", tok, `{"id":"u9","type":"robot"}`), http.StatusBadRequest, "invalidRequest")
	wantError(t, e.post("/v1.0/external/connections/groups/groups/nope/members", tok, `{"id":"u9","type":"user"}`), http.StatusNotFound, "itemNotFound")
	if ids := e.pageAll("/v1.0/external/connections/groups/groups/engineering/members?$top=2", tok); len(ids) != 3 {
		t.Errorf("members: %v", ids)
	}
	if r := e.send(request{method: http.MethodDelete, path: "/v1.0/external/connections/groups/groups/engineering/members/u1", token: tok}); r.status != http.StatusNoContent {
		t.Errorf("delete member: %d", r.status)
	}
	wantError(t, e.get("/v1.0/external/connections/groups/groups/engineering/members/u1", tok), http.StatusNotFound, "itemNotFound")
	if r := e.send(request{method: http.MethodDelete, path: "/v1.0/external/connections/groups/groups/engineering", token: tok}); r.status != http.StatusNoContent {
		t.Errorf("delete group: %d", r.status)
	}
	if n := e.count(`SELECT count(*) FROM group_members`); n != 0 {
		t.Errorf("members left after the group: %d", n)
	}
}

// TestDeletedConnectionTakesItsItems: items and groups of a deleted
// connection are purged, and a connection created again with the same id
// starts empty.
func TestDeletedConnectionTakesItsItems(t *testing.T) {
	e := newAppEnv(t, map[string]string{"PROVISIONING_DELAY": "0s"}, nil)
	tok := writer(t, "contoso")
	e.readyConnection(tok, "reborn")
	for i := range 5 {
		e.put(fmt.Sprintf("/v1.0/external/connections/reborn/items/r%d", i), tok, pnpItem(fmt.Sprintf("r%d", i)))
	}
	e.post("/v1.0/external/connections/reborn/groups", tok, `{"id":"g1"}`)
	if r := e.send(request{method: http.MethodDelete, path: "/v1.0/external/connections/reborn", token: tok}); r.status != http.StatusAccepted {
		t.Fatalf("delete: %d", r.status)
	}
	e.readyConnection(tok, "reborn")
	if n := e.get("/v1.0/external/connections/reborn/items/$count", tok); string(n.body) != "0" {
		t.Errorf("the new connection starts with %s items", n.body)
	}
	wantError(t, e.get("/v1.0/external/connections/reborn/items/r1", tok), http.StatusNotFound, "itemNotFound")
}

// TestItemPermissions: items need ExternalItem permissions, and OwnedBy
// apps see only their connections' items.
func TestItemPermissions(t *testing.T) {
	e := newAppEnv(t, map[string]string{"PROVISIONING_DELAY": "0s"}, nil)
	tok := writer(t, "contoso")
	e.readyConnection(tok, "perms")
	e.put("/v1.0/external/connections/perms/items/p1", tok, pnpItem("p1"))
	connOnly := token(t, "contoso", "app-contoso", connections.PermReadWriteAll)
	wantError(t, e.put("/v1.0/external/connections/perms/items/p2", connOnly, pnpItem("p2")), http.StatusForbidden, "accessDenied")
	reader := token(t, "contoso", "app-r", connections.PermItemReadAll)
	if r := e.get("/v1.0/external/connections/perms/items/p1", reader); r.status != http.StatusOK {
		t.Errorf("ExternalItem.Read.All GET: %d", r.status)
	}
	wantError(t, e.put("/v1.0/external/connections/perms/items/p2", reader, pnpItem("p2")), http.StatusForbidden, "accessDenied")
	other := token(t, "contoso", "app-other", connections.PermItemReadWriteOwnedBy)
	wantError(t, e.get("/v1.0/external/connections/perms/items/p1", other), http.StatusNotFound, "itemNotFound")
	wantError(t, e.put("/v1.0/external/connections/perms/items/p2", other, pnpItem("p2")), http.StatusNotFound, "itemNotFound")
	stranger := token(t, "fabrikam", "app-f", connections.PermItemReadWriteAll)
	wantError(t, e.get("/v1.0/external/connections/perms/items/p1", stranger), http.StatusNotFound, "itemNotFound")
}
