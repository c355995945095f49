package openapi_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/connops/connops/internal/connections"
)

// itemWriter and itemReader hold the ExternalItem permission beside the
// ExternalConnection one, as a connector's app does.
func itemWriter(t *testing.T, tenant string) string {
	return token(t, tenant, connections.PermReadWriteAll, connections.PermItemReadWriteAll)
}

func itemReader(t *testing.T, tenant string) string {
	return token(t, tenant, connections.PermReadAll, connections.PermItemReadAll)
}

// itemsSchema is the schema the item scenarios register.
func itemsSchema() map[string]any {
	return map[string]any{"baseType": "microsoft.graph.externalItem", "properties": []any{
		map[string]any{"name": "title", "type": "String", "isSearchable": true, "isRetrievable": true, "labels": []string{"title"}},
		map[string]any{"name": "tags", "type": "StringCollection", "isRetrievable": true},
		map[string]any{"name": "modified", "type": "DateTime", "isRetrievable": true},
		map[string]any{"name": "priority", "type": "Int64", "isRetrievable": true},
		map[string]any{"name": "price", "type": "Double", "isRetrievable": true},
		map[string]any{"name": "open", "type": "Boolean", "isRetrievable": true},
	}}
}

// readyForItems registers itemsSchema on a new connection and has the
// control role finish the registration (the suite runs with manual
// provisioning), so the connection is ready for items.
func (e *env) readyForItems(t *testing.T, b, cid, tenant string) {
	t.Helper()
	w, control := itemWriter(t, tenant), token(t, tenant, connections.PermOperationsControl)
	e.do(t, req{method: http.MethodPost, target: b, token: w, status: http.StatusCreated, body: map[string]any{"id": cid, "name": "Items " + cid}})
	accepted := e.do(t, req{method: http.MethodPatch, target: b + "/" + cid + "/schema", token: w, status: http.StatusAccepted, body: itemsSchema()})
	loc := e.operationLocation(t, accepted, b+"/"+cid+"/operations/")
	e.do(t, req{method: http.MethodPatch, target: loc, token: control, status: http.StatusNoContent, body: map[string]any{"status": "completed"}})
}

var everyone = map[string]any{"accessType": "grant", "type": "everyone", "value": "everyone"}

// pnpItem is an item as the pnp samples send it.
func pnpItem(id string) map[string]any {
	return map[string]any{
		"id": id,
		"properties": map[string]any{"title": "App fail throttled", "tags@odata.type": "Collection(String)", "tags": []string{"throttling", "apps"},
			"modified": "2022-12-09T00:00:00Z"},
		"content": map[string]any{"value": "Plain text of the post.", "type": "text"},
		"acl":     []any{everyone},
	}
}

func activity(typ string, at time.Time, annotated bool) map[string]any {
	a := map[string]any{"type": typ, "startDateTime": at.UTC().Format(time.RFC3339), "performedBy": map[string]any{"type": "user", "id": "u-" + typ}}
	if annotated {
		a["@odata.type"] = "#microsoft.graph.externalConnectors.externalActivity"
	}
	return a
}

// itemsScenario drives items, addActivities, external groups, members and
// (on beta) the quota on one mount, good and bad requests alike.
func (e *env) itemsScenario(t *testing.T, m mount, tenant string) {
	w, r := itemWriter(t, tenant), itemReader(t, tenant)
	b := m.base
	cid := "items" + strings.ReplaceAll(tenant, "-", "")
	items := b + "/" + cid + "/items"
	get := func(target string, status int) resp {
		t.Helper()
		return e.do(t, req{method: http.MethodGet, target: target, token: r, status: status})
	}

	// Before the schema is active: writes are 409, reads see nothing.
	draft := "draft" + strings.ReplaceAll(tenant, "-", "")
	e.do(t, req{method: http.MethodPost, target: b, token: w, status: http.StatusCreated, body: map[string]any{"id": draft, "name": "Draft"}})
	conflict := e.do(t, req{method: http.MethodPut, target: b + "/" + draft + "/items/i1", token: w, status: http.StatusConflict, body: pnpItem("i1")}).object(t)
	if msg, _ := conflict["error"].(map[string]any)["message"].(string); !strings.Contains(msg, "draft") {
		t.Errorf("409 before the schema does not name the state: %v", conflict)
	}
	e.do(t, req{method: http.MethodPatch, target: b + "/" + draft + "/items/i1", token: w, status: http.StatusConflict,
		body: map[string]any{"properties": map[string]any{"title": "x"}}})
	get(b+"/"+draft+"/items/i1", http.StatusNotFound)
	if n := get(b+"/"+draft+"/items/$count", http.StatusOK); string(n.body) != "0" {
		t.Errorf("items of a draft connection: %s", n.body)
	}

	e.readyForItems(t, b, cid, tenant)

	// PUT creates (200, no body, no Location), in any case of names and
	// enums, with annotations on scalars and inline activities.
	put := e.do(t, req{method: http.MethodPut, target: items + "/app-fail-throttled", token: w, status: http.StatusOK, body: pnpItem("app-fail-throttled")})
	if len(put.body) != 0 || put.header.Get("Location") != "" {
		t.Errorf("PUT answered a body %q or a Location %q", put.body, put.header.Get("Location"))
	}
	e.do(t, req{method: http.MethodPut, target: items + "/part.1001_a", token: w, status: http.StatusOK, body: map[string]any{
		"@odata.type": "#microsoft.graph.externalConnectors.externalItem",
		"properties": map[string]any{"@odata.type": "microsoft.graph.externalConnectors.properties",
			"Title@odata.type": "String", "Title": "Überblick", "priority": 1001, "price": 9.95, "open": true,
			"tags@odata.type": "#Collection(String)", "tags": []string{}},
		"acl": []any{
			map[string]any{"@odata.type": "#microsoft.graph.externalConnectors.acl", "accessType": "Grant", "type": "EVERYONE", "value": "5c2c8b1e-0000-4000-8000-000000000001"},
			map[string]any{"accessType": "deny", "type": "externalGroup", "value": "contractors", "identitySource": "external"},
			map[string]any{"accessType": "grant", "type": "user", "value": "e811f8d3-2a5f-4e38-8c64-1f0a1c2b3d4e", "identitySource": "AzureActiveDirectory"},
		},
		"content":    map[string]any{"@odata.type": "#microsoft.graph.externalConnectors.externalItemContent", "type": "HTML", "value": "<p>A widget.</p>"},
		"activities": []any{activity("Created", time.Now().Add(-time.Hour), true)},
	}})
	got := get(items+"/part.1001_a", http.StatusOK).object(t)
	props := got["properties"].(map[string]any)
	if props["title"] != "Überblick" || props["priority"] != 1001.0 || props["tags@odata.type"] != "Collection(String)" {
		t.Errorf("properties read back: %v", props)
	}
	acl := got["acl"].([]any)
	if a := acl[0].(map[string]any); a["type"] != "everyone" || a["accessType"] != "grant" {
		t.Errorf("acl read back: %v", acl)
	}
	if c := got["content"].(map[string]any); c["type"] != "html" {
		t.Errorf("content read back: %v", c)
	}
	if sel := get(items+"/part.1001_a?$select=acl", http.StatusOK).object(t); sel["properties"] != nil || sel["acl"] == nil {
		t.Errorf("$select=acl: %v", sel)
	}
	// A second PUT replaces the item whole.
	e.do(t, req{method: http.MethodPut, target: items + "/part.1001_a", token: w, status: http.StatusOK,
		body: map[string]any{"properties": map[string]any{"title": "Replaced"}, "acl": []any{everyone}, "content": nil}})
	if again := get(items+"/part.1001_a", http.StatusOK).object(t); again["content"] != nil || len(again["properties"].(map[string]any)) != 1 {
		t.Errorf("after replacing: %v", again)
	}

	// PATCH merges properties, replaces acl and content, answers the item.
	patched := e.do(t, req{method: http.MethodPatch, target: items + "/app-fail-throttled", token: w, status: http.StatusOK, body: map[string]any{
		"properties": map[string]any{"title": "New title", "modified": "2026-11-30T08:15:00+01:00"},
		"acl":        []any{map[string]any{"accessType": "deny", "type": "everyoneExceptGuests", "value": "everyone"}, everyone},
	}}).object(t)
	if p := patched["properties"].(map[string]any); p["title"] != "New title" || len(p["tags"].([]any)) != 2 || len(patched["acl"].([]any)) != 2 {
		t.Errorf("PATCH result: %v", patched)
	}
	e.do(t, req{method: http.MethodPatch, target: items + "/app-fail-throttled", token: w, status: http.StatusOK, body: map[string]any{"content": nil}})

	// Bad items: 400, whether the document can tell or not.
	bad := func(path string, body any, request want, target string) {
		t.Helper()
		got := e.do(t, req{method: http.MethodPut, target: items + "/" + path, token: w, status: http.StatusBadRequest, request: request, body: body}).object(t)
		if tgt := got["error"].(map[string]any)["target"]; tgt != target {
			t.Errorf("PUT %s: target %v, want %s (%v)", path, tgt, target, got)
		}
	}
	withProps := func(props map[string]any) map[string]any {
		return map[string]any{"properties": props, "acl": []any{everyone}}
	}
	bad("b1", withProps(map[string]any{"colour": "red"}), valid, "properties.colour")
	bad("b1", withProps(map[string]any{"Title": "upper", "title": "lower"}), valid, "properties.title")
	bad("b1", withProps(map[string]any{"title": 7}), valid, "properties.title")
	bad("b1", withProps(map[string]any{"modified": "2024-01-01T10:00:00"}), valid, "properties.modified")
	bad("b1", withProps(map[string]any{"priority": 1.5}), valid, "properties.priority")
	bad("b1", withProps(map[string]any{"tags": []string{"a"}}), valid, "properties.tags")
	bad("b1", withProps(map[string]any{"tags@odata.type": "Collection(Int64)", "tags": []string{"a"}}), valid, "properties.tags@odata.type")
	bad("b1", withProps(map[string]any{"title": nil}), invalid, "properties.title")
	bad("b1", withProps(map[string]any{}), invalid, "properties")
	bad("b1", map[string]any{"properties": map[string]any{"title": "t"}}, invalid, "acl")
	bad("b1", map[string]any{"properties": map[string]any{"title": "t"}, "acl": []any{}}, invalid, "acl")
	bad("b1", map[string]any{"properties": map[string]any{"title": "t"}, "acl": []any{map[string]any{"accessType": "grant", "type": "planet", "value": "x"}}}, invalid, "acl[0].type")
	bad("b1", map[string]any{"properties": map[string]any{"title": "t"}, "acl": []any{map[string]any{"accessType": "maybe", "type": "user", "value": "x"}}}, invalid, "acl[0].accessType")
	bad("b1", map[string]any{"properties": map[string]any{"title": "t"}, "acl": []any{everyone}, "content": map[string]any{"type": "markdown", "value": "v"}}, invalid, "content.type")
	bad("b1", map[string]any{"properties": map[string]any{"title": "t"}, "acl": []any{everyone}, "colour": "red"}, invalid, "colour")
	bad("b1", map[string]any{"id": "b2", "properties": map[string]any{"title": "t"}, "acl": []any{everyone}}, valid, "id")
	bad("bad%20id", pnpItem("bad id"), invalid, "id")
	bad(strings.Repeat("x", 129), withProps(map[string]any{"title": "t"}), invalid, "id")
	bad("b1", map[string]any{"properties": map[string]any{"title": "t"}, "acl": []any{everyone},
		"activities": []any{activity("created", time.Now().Add(-time.Hour), false)}}, invalid, "activities[0]")
	e.do(t, req{method: http.MethodPatch, target: items + "/app-fail-throttled", token: w, status: http.StatusBadRequest, request: invalid,
		body: map[string]any{"id": "app-fail-throttled"}})
	e.do(t, req{method: http.MethodPatch, target: items + "/app-fail-throttled", token: w, status: http.StatusBadRequest, request: invalid,
		body: map[string]any{"activities": []any{}}})
	e.do(t, req{method: http.MethodPatch, target: items + "/app-fail-throttled", token: w, status: http.StatusBadRequest,
		body: map[string]any{"properties": map[string]any{"modified": "soon"}}})
	e.do(t, req{method: http.MethodPatch, target: items + "/app-fail-throttled", token: w, status: http.StatusBadRequest, request: invalid,
		body: map[string]any{"acl": []any{}}})
	e.do(t, req{method: http.MethodGet, target: items + "/app-fail-throttled?$select=colour", token: r, status: http.StatusBadRequest, request: invalid})
	e.do(t, req{method: http.MethodGet, target: items + "/app-fail-throttled?$top=1", token: r, status: http.StatusBadRequest, request: unchecked})

	// Bodies up to 4 MB; past them 413.
	large := withProps(map[string]any{"title": strings.Repeat("x", 3<<20)})
	e.do(t, req{method: http.MethodPut, target: items + "/large", token: w, status: http.StatusOK, body: large})
	e.do(t, req{method: http.MethodPut, target: items + "/huge", token: w, status: http.StatusRequestEntityTooLarge,
		body: withProps(map[string]any{"title": strings.Repeat("x", 5<<20)})})
	e.do(t, req{method: http.MethodDelete, target: items + "/large", token: w, status: http.StatusNoContent})

	// The connops extensions: the list (paged to the end) and $count.
	for i := range 3 {
		e.do(t, req{method: http.MethodPut, target: fmt.Sprintf("%s/page-%d", items, i), token: w, status: http.StatusOK, body: pnpItem(fmt.Sprintf("page-%d", i))})
	}
	target := items + "?$top=2&$count=true&$orderby=id&$select=properties,content"
	var ids []string
	for pages := 0; target != ""; pages++ {
		if pages > 5 {
			t.Fatal("nextLink paging does not end")
		}
		p := get(target, http.StatusOK).object(t)
		if p["@odata.count"] != float64(5) {
			t.Errorf("@odata.count = %v, want 5", p["@odata.count"])
		}
		for _, v := range p["value"].([]any) {
			it := v.(map[string]any)
			if _, ok := it["acl"]; ok {
				t.Errorf("$select without acl rendered it: %v", it)
			}
			ids = append(ids, it["id"].(string))
		}
		target, _ = p["@odata.nextLink"].(string)
	}
	if strings.Join(ids, ",") != "app-fail-throttled,page-0,page-1,page-2,part.1001_a" {
		t.Errorf("listed %v", ids)
	}
	filter := url.QueryEscape("id in ('page-0','page-2') or id eq 'nope'")
	if p := get(items+"?$filter="+filter, http.StatusOK).object(t); len(p["value"].([]any)) != 2 {
		t.Errorf("filtered list: %v", p)
	}
	if n := get(items+"/$count?$filter="+url.QueryEscape("not (id eq 'page-1')"), http.StatusOK); string(n.body) != "4" {
		t.Errorf("filtered $count = %s, want 4", n.body)
	}
	if m.version == "beta" {
		get(items+"?top=1&count=true", http.StatusOK)
	}
	e.do(t, req{method: http.MethodGet, target: items + "?$orderby=" + url.QueryEscape("id desc"), token: r, status: http.StatusBadRequest, request: invalid})
	get(items+"?$filter="+url.QueryEscape("title eq 'x'"), http.StatusBadRequest)
	e.do(t, req{method: http.MethodGet, target: items + "?$top=0", token: r, status: http.StatusBadRequest, request: invalid})
	e.do(t, req{method: http.MethodGet, target: items + "/$count?$top=1", token: r, status: http.StatusBadRequest, request: unchecked})

	// addActivities by both names: 200 when all are recorded, 207 when some
	// are refused, 400 for a bad count, 404 for a missing item.
	hourAgo := time.Now().Add(-time.Hour)
	for _, action := range []string{"addActivities", "microsoft.graph.externalConnectors.addActivities"} {
		at := items + "/app-fail-throttled/" + action
		res := e.do(t, req{method: http.MethodPost, target: at, token: w, status: http.StatusOK,
			body: map[string]any{"activities": []any{activity("created", hourAgo, true), activity("Viewed", hourAgo, true)}}}).object(t)
		if v := res["value"].([]any); len(v) != 2 || v[1].(map[string]any)["type"] != "viewed" || v[1].(map[string]any)["error"] != nil {
			t.Errorf("%s results: %v", action, res)
		}
		e.do(t, req{method: http.MethodPost, target: at, token: w, status: http.StatusMultiStatus,
			body: map[string]any{"activities": []any{activity("modified", hourAgo, true), activity("commented", time.Now().Add(48*time.Hour), true)}}})
		partial := e.do(t, req{method: http.MethodPost, target: at, token: w, status: http.StatusMultiStatus, request: invalid,
			body: map[string]any{"activities": []any{activity("modified", hourAgo, true), activity("commented", hourAgo, false)}}}).object(t)
		if v := partial["value"].([]any); v[0].(map[string]any)["error"] != nil || v[1].(map[string]any)["error"] == nil {
			t.Errorf("%s partial results: %v", action, partial)
		}
	}
	var many []any
	for range 21 {
		many = append(many, activity("viewed", hourAgo, true))
	}
	acts := items + "/app-fail-throttled/addActivities"
	e.do(t, req{method: http.MethodPost, target: acts, token: w, status: http.StatusBadRequest, request: invalid, body: map[string]any{"activities": many}})
	e.do(t, req{method: http.MethodPost, target: acts, token: w, status: http.StatusBadRequest, request: invalid, body: map[string]any{"activities": []any{}}})
	e.do(t, req{method: http.MethodPost, target: acts, token: w, status: http.StatusBadRequest, request: invalid,
		body: map[string]any{"activities": []any{activity("viewed", hourAgo, true)}, "extra": true}})
	e.do(t, req{method: http.MethodPost, target: items + "/nope/addActivities", token: w, status: http.StatusNotFound,
		body: map[string]any{"activities": []any{activity("viewed", hourAgo, true)}}})

	// The errors every item route shares.
	e.do(t, req{method: http.MethodGet, target: items + "/nope", token: r, status: http.StatusNotFound})
	e.do(t, req{method: http.MethodPatch, target: items + "/nope", token: w, status: http.StatusNotFound, body: map[string]any{"properties": map[string]any{"title": "x"}}})
	e.do(t, req{method: http.MethodDelete, target: items + "/nope", token: w, status: http.StatusNotFound})
	e.do(t, req{method: http.MethodPut, target: b + "/missing1/items/i1", token: w, status: http.StatusNotFound, body: pnpItem("i1")})
	get(b+"/missing1/items", http.StatusNotFound)
	get(b+"/missing1/items/$count", http.StatusNotFound)
	connOnly := writer(t, tenant)
	e.do(t, req{method: http.MethodPut, target: items + "/p1", token: connOnly, status: http.StatusForbidden, body: pnpItem("p1")})
	e.do(t, req{method: http.MethodGet, target: items, token: connOnly, status: http.StatusForbidden})
	e.do(t, req{method: http.MethodPut, target: items + "/p1", token: r, status: http.StatusForbidden, body: pnpItem("p1")})
	e.do(t, req{method: http.MethodDelete, target: items + "/page-0", token: r, status: http.StatusForbidden})
	e.do(t, req{method: http.MethodPut, target: items + "/p1", status: http.StatusUnauthorized, request: invalid, body: pnpItem("p1")})
	e.do(t, req{method: http.MethodGet, target: items + "/page-0", token: r, header: map[string]string{"Accept": "text/html"}, status: http.StatusNotAcceptable})
	e.do(t, req{method: http.MethodGet, target: items + "/$count", token: r, header: map[string]string{"Accept": "application/json"}, status: http.StatusNotAcceptable})
	e.do(t, req{method: http.MethodDelete, target: items + "/page-0", token: w, header: map[string]string{"Accept": "text/html"}, status: http.StatusNotAcceptable})
	e.do(t, req{method: http.MethodPut, target: items + "/p1", token: w, status: http.StatusUnsupportedMediaType, request: invalid,
		header: map[string]string{"Content-Type": "text/plain"}, body: `{}`})
	e.do(t, req{method: http.MethodPost, target: items, token: w, status: http.StatusMethodNotAllowed, request: unchecked, body: pnpItem("p1")})
	e.do(t, req{method: http.MethodPut, target: items + "/page-0?$select=id", token: w, status: http.StatusBadRequest, request: unchecked, body: pnpItem("page-0")})

	e.do(t, req{method: http.MethodDelete, target: items + "/page-1", token: w, status: http.StatusNoContent})
	get(items+"/page-1", http.StatusNotFound)

	e.groupsScenario(t, m, tenant, cid)
	e.quotaScenario(t, m, tenant, cid)
}

// groupsScenario drives external groups and their members on one mount.
func (e *env) groupsScenario(t *testing.T, m mount, tenant, cid string) {
	w, r := itemWriter(t, tenant), itemReader(t, tenant)
	groups := m.base + "/" + cid + "/groups"
	group := groups + "/contractors"
	members := group + "/members"

	created := e.do(t, req{method: http.MethodPost, target: groups, token: w, status: http.StatusCreated, body: map[string]any{
		"@odata.type": "#microsoft.graph.externalConnectors.externalGroup", "id": "contractors", "displayName": "Contractors"}})
	if loc := created.header.Get("Location"); !strings.HasSuffix(loc, group) {
		t.Errorf("Location %q does not name the group under %s", loc, m.base)
	}
	if g := created.object(t); g["description"] != nil || g["displayName"] != "Contractors" {
		t.Errorf("created group: %v", g)
	}
	e.do(t, req{method: http.MethodPost, target: groups, token: w, status: http.StatusCreated, body: map[string]any{"id": "interns", "description": nil}})
	e.do(t, req{method: http.MethodPost, target: groups, token: w, status: http.StatusConflict, body: map[string]any{"id": "contractors"}})
	e.do(t, req{method: http.MethodPost, target: groups, token: w, status: http.StatusBadRequest, request: invalid, body: map[string]any{"id": "bad id"}})
	e.do(t, req{method: http.MethodPost, target: groups, token: w, status: http.StatusBadRequest, request: invalid, body: map[string]any{"displayName": "No id"}})
	e.do(t, req{method: http.MethodPost, target: groups, token: w, status: http.StatusBadRequest, request: invalid,
		body: map[string]any{"id": "long", "displayName": strings.Repeat("n", 257)}})

	one := e.do(t, req{method: http.MethodGet, target: group, token: r, status: http.StatusOK})
	if one.header.Get("ETag") == "" {
		t.Error("GET group without an ETag")
	}
	e.do(t, req{method: http.MethodPatch, target: group, token: w, status: http.StatusNoContent, body: map[string]any{"description": "External staff"}})
	rep := e.do(t, req{method: http.MethodPatch, target: group, token: w, status: http.StatusOK,
		header: map[string]string{"Prefer": "return=representation"}, body: map[string]any{"displayName": nil}}).object(t)
	if rep["displayName"] != nil || rep["description"] != "External staff" {
		t.Errorf("PATCH with representation: %v", rep)
	}
	e.do(t, req{method: http.MethodPatch, target: group, token: w, status: http.StatusBadRequest, request: invalid, body: map[string]any{"id": "other"}})
	e.do(t, req{method: http.MethodGet, target: group + "?$select=id", token: r, status: http.StatusBadRequest, request: unchecked})
	e.do(t, req{method: http.MethodGet, target: groups + "/nope", token: r, status: http.StatusNotFound})
	e.do(t, req{method: http.MethodPatch, target: groups + "/nope", token: w, status: http.StatusNotFound, body: map[string]any{"description": "x"}})

	// Members of every identity type.
	for _, mb := range []map[string]any{
		{"@odata.type": "#microsoft.graph.externalConnectors.identity", "id": "e811f8d3-2a5f-4e38-8c64-1f0a1c2b3d4e", "type": "user"},
		{"id": "f00dcafe-0000-4000-8000-000000000002", "type": "Group", "identitySource": "azureActiveDirectory"},
		{"id": "interns", "type": "externalGroup", "identitySource": "External"},
	} {
		added := e.do(t, req{method: http.MethodPost, target: members, token: w, status: http.StatusCreated, body: mb})
		if !strings.HasSuffix(added.header.Get("Location"), members+"/"+mb["id"].(string)) {
			t.Errorf("member Location %q", added.header.Get("Location"))
		}
	}
	e.do(t, req{method: http.MethodPost, target: members, token: w, status: http.StatusConflict, body: map[string]any{"id": "interns", "type": "externalGroup"}})
	e.do(t, req{method: http.MethodPost, target: members, token: w, status: http.StatusBadRequest, request: invalid, body: map[string]any{"id": "u9", "type": "robot"}})
	e.do(t, req{method: http.MethodPost, target: members, token: w, status: http.StatusBadRequest, request: invalid, body: map[string]any{"type": "user"}})
	e.do(t, req{method: http.MethodPost, target: groups + "/nope/members", token: w, status: http.StatusNotFound, body: map[string]any{"id": "u9", "type": "user"}})

	target := members + "?$top=2&$count=true"
	seen := 0
	for pages := 0; target != ""; pages++ {
		if pages > 5 {
			t.Fatal("nextLink paging does not end")
		}
		p := e.do(t, req{method: http.MethodGet, target: target, token: r, status: http.StatusOK}).object(t)
		seen += len(p["value"].([]any))
		target, _ = p["@odata.nextLink"].(string)
	}
	if seen != 3 {
		t.Errorf("paged through %d members, want 3", seen)
	}
	sel := e.do(t, req{method: http.MethodGet, target: members + "?$select=id&$filter=" + url.QueryEscape("id eq 'interns'"), token: r, status: http.StatusOK}).object(t)
	if v := sel["value"].([]any); len(v) != 1 || v[0].(map[string]any)["type"] != nil {
		t.Errorf("$select=id of members: %v", sel)
	}
	e.do(t, req{method: http.MethodGet, target: members + "?$select=displayName", token: r, status: http.StatusBadRequest, request: invalid})
	if mb := e.do(t, req{method: http.MethodGet, target: members + "/interns", token: r, status: http.StatusOK}).object(t); mb["identitySource"] != "external" {
		t.Errorf("member read back: %v", mb)
	}
	e.do(t, req{method: http.MethodDelete, target: members + "/interns", token: w, status: http.StatusNoContent})
	e.do(t, req{method: http.MethodGet, target: members + "/interns", token: r, status: http.StatusNotFound})
	e.do(t, req{method: http.MethodDelete, target: members + "/interns", token: w, status: http.StatusNotFound})
	e.do(t, req{method: http.MethodPost, target: members, token: r, status: http.StatusForbidden, body: map[string]any{"id": "u9", "type": "user"}})
	e.do(t, req{method: http.MethodGet, target: members, token: writer(t, tenant), status: http.StatusForbidden})

	e.do(t, req{method: http.MethodDelete, target: group, token: w, status: http.StatusNoContent})
	e.do(t, req{method: http.MethodGet, target: group, token: r, status: http.StatusNotFound})
	e.do(t, req{method: http.MethodGet, target: members, token: r, status: http.StatusNotFound})
	e.do(t, req{method: http.MethodDelete, target: group, token: w, status: http.StatusNotFound})
}

// quotaScenario reads beta's quota navigation, and checks v1.0 has none.
func (e *env) quotaScenario(t *testing.T, m mount, tenant, cid string) {
	quota := m.base + "/" + cid + "/quota"
	if m.version != "beta" {
		e.do(t, req{method: http.MethodGet, target: quota, token: itemReader(t, tenant), status: http.StatusNotFound, request: unchecked})
		return
	}
	n := string(e.do(t, req{method: http.MethodGet, target: m.base + "/" + cid + "/items/$count", token: itemReader(t, tenant), status: http.StatusOK}).body)
	q := e.do(t, req{method: http.MethodGet, target: quota, token: reader(t, tenant), status: http.StatusOK}).object(t)
	if want := float64(connections.DefaultMaxItemsPerConnection) - mustFloat(t, n); q["itemsRemaining"] != want {
		t.Errorf("itemsRemaining = %v, want %v", q["itemsRemaining"], want)
	}
	e.do(t, req{method: http.MethodGet, target: quota, token: token(t, tenant, connections.PermItemReadWriteAll), status: http.StatusForbidden})
	e.do(t, req{method: http.MethodGet, target: m.base + "/missing1/quota", token: reader(t, tenant), status: http.StatusNotFound})
	e.do(t, req{method: http.MethodGet, target: quota + "?$select=itemsRemaining", token: reader(t, tenant), status: http.StatusBadRequest, request: unchecked})
}

func mustFloat(t *testing.T, s string) float64 {
	t.Helper()
	var f float64
	if _, err := fmt.Sscan(s, &f); err != nil {
		t.Fatalf("%q is not a number", s)
	}
	return f
}

// itemQuotaScenario fills a connection to a quota of 2 on its own connops:
// the third new item is 507 quotaLimitReached and the connection
// limitExceeded; replacing an item still works, and a delete makes it ready.
func itemQuotaScenario(t *testing.T) {
	e := newEnv(t, envOptions{vars: map[string]string{"PROVISIONING_DELAY": "manual", "ITEMS_PER_CONNECTION": "2"}})
	const tenant = "quotatenant"
	w, r := itemWriter(t, tenant), itemReader(t, tenant)
	for i, m := range []mount{mounts[0], mounts[3]} {
		cid := fmt.Sprintf("quota%d", i)
		e.readyForItems(t, m.base, cid, tenant)
		items := m.base + "/" + cid + "/items"
		e.do(t, req{method: http.MethodPut, target: items + "/q1", token: w, status: http.StatusOK, body: pnpItem("q1")})
		e.do(t, req{method: http.MethodPut, target: items + "/q2", token: w, status: http.StatusOK, body: pnpItem("q2")})
		full := e.do(t, req{method: http.MethodPut, target: items + "/q3", token: w, status: http.StatusInsufficientStorage, body: pnpItem("q3")}).object(t)
		if code := full["error"].(map[string]any)["code"]; code != "quotaLimitReached" {
			t.Errorf("507 code %v", code)
		}
		if c := e.do(t, req{method: http.MethodGet, target: m.base + "/" + cid + "?$select=state", token: r, status: http.StatusOK}).object(t); c["state"] != "limitExceeded" {
			t.Errorf("state at the quota: %v", c["state"])
		}
		if m.version == "beta" {
			if q := e.do(t, req{method: http.MethodGet, target: m.base + "/" + cid + "/quota", token: r, status: http.StatusOK}).object(t); q["itemsRemaining"] != 0.0 {
				t.Errorf("quota when full: %v", q)
			}
		}
		e.do(t, req{method: http.MethodPut, target: items + "/q2", token: w, status: http.StatusOK, body: pnpItem("q2")})
		e.do(t, req{method: http.MethodDelete, target: items + "/q1", token: w, status: http.StatusNoContent})
		if c := e.do(t, req{method: http.MethodGet, target: m.base + "/" + cid + "?$select=state", token: r, status: http.StatusOK}).object(t); c["state"] != "ready" {
			t.Errorf("state below the quota: %v", c["state"])
		}
	}
}
