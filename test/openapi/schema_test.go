package openapi_test

import (
	"net/http"
	"net/url"
	"path"
	"strings"
	"testing"

	"github.com/connops/connops/internal/connections"
	"github.com/connops/connops/internal/httpapi"
)

// itemSchema is a schema as real clients send it: PascalCase and upper-case
// type names and labels, booleans as strings, @odata.type on the schema and
// its properties, and the null id an SDK model carries.
func itemSchema(extra ...map[string]any) map[string]any {
	props := []any{
		map[string]any{"@odata.type": "#microsoft.graph.externalConnectors.property", "name": "title", "type": "String",
			"isSearchable": "true", "isQueryable": "True", "isRetrievable": true, "labels": []string{"Title"}, "aliases": []string{"heading"}},
		map[string]any{"@odata.type": "microsoft.graph.property", "name": "url", "type": "string", "isRetrievable": true, "labels": []string{"url"}},
		map[string]any{"name": "modified", "type": "DateTime", "isQueryable": true, "isRetrievable": true, "isRefinable": true,
			"labels": []string{"lastModifiedDateTime"}},
		map[string]any{"name": "tags", "type": "StringCollection", "isQueryable": true, "isRetrievable": true, "isRefinable": "false",
			"isExactMatchRequired": nil, "labels": nil, "aliases": nil},
		map[string]any{"name": "price", "type": "double", "isRefinable": true, "isExactMatchRequired": "FALSE"},
		map[string]any{"name": "writers", "type": "stringcollection", "isRetrievable": true, "labels": []string{"AUTHORS"}},
	}
	for _, p := range extra {
		props = append(props, p)
	}
	return map[string]any{"@odata.type": "#microsoft.graph.externalConnectors.schema", "id": nil,
		"baseType": "microsoft.graph.externalItem", "properties": props}
}

// layout is an Adaptive Card, which connops keeps without reading it.
var layout = map[string]any{"type": "AdaptiveCard", "version": "1.3", "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
	"body": []any{map[string]any{"type": "TextBlock", "text": "${title}", "weight": "bolder"}}}

// connectionSettings are the connectorId, activitySettings and searchSettings
// a connector sends on create, annotated as the pnp samples annotate them.
func connectionSettings() map[string]any {
	return map[string]any{
		"connectorId": "2e3a2b6c-tickets-teams-app",
		"activitySettings": map[string]any{
			"@odata.type": "#microsoft.graph.externalConnectors.activitySettings",
			"urlToItemResolvers": []any{map[string]any{
				"@odata.type": "#microsoft.graph.externalConnectors.itemIdResolver",
				"urlMatchInfo": map[string]any{"@odata.type": "microsoft.graph.externalConnectors.urlMatchInfo",
					"baseUrls": []string{"https://tickets.contoso.com", "http://tickets.contoso.local/app"}, "urlPattern": "/tickets/(?<id>[0-9]+)"},
				"itemId": "{id}", "priority": 1,
			}},
		},
		"searchSettings": map[string]any{
			"@odata.type": "#microsoft.graph.externalConnectors.searchSettings",
			"searchResultTemplates": []any{
				map[string]any{"@odata.type": "#microsoft.graph.externalConnectors.displayTemplate", "id": "tickets", "priority": 1, "layout": layout,
					"rules": []any{
						map[string]any{"@odata.type": "#microsoft.graph.externalConnectors.propertyRule",
							"property": "title", "operation": "contains", "valuesJoinedBy": "or", "values": []string{"urgent", "p1"}},
						map[string]any{"property": "tags", "operation": "null"},
						map[string]any{"property": "url", "operation": "startsWith", "valuesJoinedBy": nil, "values": []string{}},
					}},
				map[string]any{"id": "fallback", "priority": 2, "layout": map[string]any{"type": "AdaptiveCard"}, "rules": nil},
			},
		},
	}
}

// schemaScenario registers schemas on one mount: the 202 and its Location,
// the service-started operation it names, the schema read back, the 400,
// 404 and 409 answers, the 403 a client gets for changing or deleting that
// operation, and the control role finishing it. It also creates and PATCHes
// a connection with activitySettings and searchSettings. The env runs with
// PROVISIONING_DELAY=manual, so a registration runs until it is finished.
func (e *env) schemaScenario(t *testing.T, m mount, tenant string) {
	w, r := writer(t, tenant), reader(t, tenant)
	control := token(t, tenant, connections.PermOperationsControl)
	cid, bare := "schema"+strings.ReplaceAll(tenant, "-", ""), "bare"+strings.ReplaceAll(tenant, "-", "")
	b := m.base
	item, schema := b+"/"+cid, b+"/"+cid+"/schema"

	// A connection with every setting, and one without any.
	body := connectionSettings()
	body["id"], body["name"] = cid, "Tickets"
	created := e.do(t, req{method: http.MethodPost, target: b, token: w, status: http.StatusCreated, body: body}).object(t)
	if created["connectorId"] != "2e3a2b6c-tickets-teams-app" || created["activitySettings"] == nil || created["searchSettings"] == nil {
		t.Errorf("create did not render the settings: %v", created)
	}
	plain := e.do(t, req{method: http.MethodPost, target: b, token: w, status: http.StatusCreated,
		body: map[string]any{"id": bare, "name": "Bare", "connectorId": nil, "activitySettings": nil, "searchSettings": nil}}).object(t)
	for _, k := range []string{"connectorId", "activitySettings", "searchSettings"} {
		if v, ok := plain[k]; !ok || v != nil {
			t.Errorf("%s of a connection without it = %v (present %v), want null", k, v, ok)
		}
	}
	got := e.do(t, req{method: http.MethodGet, target: item, token: r, status: http.StatusOK}).object(t)
	resolver := got["activitySettings"].(map[string]any)["urlToItemResolvers"].([]any)[0].(map[string]any)
	if resolver["@odata.type"] != "#microsoft.graph.externalConnectors.itemIdResolver" || resolver["itemId"] != "{id}" {
		t.Errorf("resolver read back: %v", resolver)
	}
	templates := got["searchSettings"].(map[string]any)["searchResultTemplates"].([]any)
	if len(templates) != 2 || templates[0].(map[string]any)["layout"].(map[string]any)["version"] != "1.3" {
		t.Errorf("templates read back: %v", templates)
	}
	sel := e.do(t, req{method: http.MethodGet, target: item + "?$select=connectorId,activitySettings,searchSettings", token: r, status: http.StatusOK}).object(t)
	if _, ok := sel["name"]; ok || sel["connectorId"] == nil {
		t.Errorf("$select of the settings: %v", sel)
	}
	e.do(t, req{method: http.MethodGet, target: b + "?$select=searchSettings,connectorId&$top=1", token: r, status: http.StatusOK})

	// PATCH replaces the settings; connectorId is read-only.
	e.do(t, req{method: http.MethodPatch, target: item, token: w, status: http.StatusNoContent, body: map[string]any{
		"activitySettings": map[string]any{"urlToItemResolvers": []any{map[string]any{
			"itemId": "{id}", "priority": 2,
			"urlMatchInfo": map[string]any{"baseUrls": []string{"https://tickets.contoso.com"}, "urlPattern": "/t/(?<id>[0-9]+)"},
		}}},
		"searchSettings": map[string]any{"searchResultTemplates": []any{map[string]any{"id": "only", "priority": 1, "layout": layout}}},
	}})
	// null clears a setting; an empty one empties it.
	rep := e.do(t, req{method: http.MethodPatch, target: item, token: w, status: http.StatusOK,
		header: map[string]string{"Prefer": "return=representation"},
		body:   map[string]any{"activitySettings": nil, "searchSettings": map[string]any{"@odata.type": "microsoft.graph.externalConnectors.searchSettings"}}}).object(t)
	if rep["activitySettings"] != nil || len(rep["searchSettings"].(map[string]any)["searchResultTemplates"].([]any)) != 0 {
		t.Errorf("after PATCH: activitySettings %v, searchSettings %v", rep["activitySettings"], rep["searchSettings"])
	}
	e.do(t, req{method: http.MethodPatch, target: item, token: w, status: http.StatusBadRequest, request: invalid,
		body: map[string]any{"connectorId": "another"}})
	three := connectionSettings()
	ss := three["searchSettings"].(map[string]any)
	ss["searchResultTemplates"] = append(ss["searchResultTemplates"].([]any), map[string]any{"id": "third", "priority": 3, "layout": layout})
	three["id"], three["name"] = "three"+cid, "Three"
	e.do(t, req{method: http.MethodPost, target: b, token: w, status: http.StatusBadRequest, request: invalid, body: three})
	e.do(t, req{method: http.MethodPost, target: b, token: w, status: http.StatusBadRequest, body: map[string]any{
		"id": "twice" + cid, "name": "Twice", "searchSettings": map[string]any{"searchResultTemplates": []any{
			map[string]any{"id": "same", "priority": 1, "layout": layout}, map[string]any{"id": "same", "priority": 2, "layout": layout}}}}})
	e.do(t, req{method: http.MethodPatch, target: item, token: w, status: http.StatusBadRequest, request: invalid,
		body: map[string]any{"activitySettings": map[string]any{"urlToItemResolvers": []any{map[string]any{
			"urlMatchInfo": map[string]any{"baseUrls": []string{"ftp://files"}, "urlPattern": "x"}, "itemId": "{id}", "priority": 1}}}}})

	// Before any schema: 404.
	e.do(t, req{method: http.MethodGet, target: schema, token: r, status: http.StatusNotFound})
	e.do(t, req{method: http.MethodGet, target: b + "/" + bare + "/schema", token: r, status: http.StatusNotFound})

	// Bad schemas: 400, whether the document can tell or not.
	e.do(t, req{method: http.MethodPatch, target: schema, token: w, status: http.StatusBadRequest, request: invalid,
		body: map[string]any{"baseType": "microsoft.graph.externalItem", "properties": []any{map[string]any{"name": "b", "type": "decimal"}}}})
	e.do(t, req{method: http.MethodPost, target: schema, token: w, status: http.StatusBadRequest, request: invalid,
		body: map[string]any{"baseType": "microsoft.graph.item", "properties": []any{map[string]any{"name": "b", "type": "string"}}}})
	e.do(t, req{method: http.MethodPatch, target: schema, token: w, status: http.StatusBadRequest, request: invalid,
		body: map[string]any{"baseType": "microsoft.graph.externalItem", "properties": []any{map[string]any{"name": "b", "type": "string", "isQueryable": "yes"}}}})
	e.do(t, req{method: http.MethodPatch, target: schema, token: w, status: http.StatusBadRequest,
		body: map[string]any{"baseType": "microsoft.graph.externalItem", "properties": []any{map[string]any{"name": "n", "type": "Int64", "isSearchable": true}}}})
	e.do(t, req{method: http.MethodPost, target: schema, token: w, status: http.StatusBadRequest,
		body: map[string]any{"baseType": "microsoft.graph.externalItem", "properties": []any{
			map[string]any{"name": "t", "type": "string", "isRetrievable": true, "labels": []string{"title"}},
			map[string]any{"name": "T2", "type": "string", "isRetrievable": true, "labels": []string{"TITLE"}}}}})
	e.do(t, req{method: http.MethodGet, target: schema + "?$select=name", token: r, status: http.StatusBadRequest, request: unchecked})
	e.do(t, req{method: http.MethodPatch, target: b + "/missing1/schema", token: w, status: http.StatusNotFound, body: itemSchema()})
	e.do(t, req{method: http.MethodPost, target: b + "/missing1/schema", token: w, status: http.StatusNotFound, body: itemSchema()})
	e.do(t, req{method: http.MethodGet, target: b + "/missing1/schema", token: r, status: http.StatusNotFound})

	// PATCH registers: 202, no body, the operation's absolute URL on this
	// mount; it runs until it is finished (manual provisioning).
	accepted := e.do(t, req{method: http.MethodPatch, target: schema, token: w, status: http.StatusAccepted, body: itemSchema()})
	loc := e.operationLocation(t, accepted, b+"/"+cid+"/operations/")
	if len(accepted.body) != 0 || strings.Contains(accepted.header.Get("Preference-Applied"), "respond-async") {
		t.Errorf("PATCH schema without Prefer: body %q, Preference-Applied %q", accepted.body, accepted.header.Get("Preference-Applied"))
	}
	op := e.do(t, req{method: http.MethodGet, target: loc, token: r, status: http.StatusOK})
	if o := op.object(t); o["status"] != "inprogress" || o["id"] != path.Base(loc) {
		t.Errorf("the registration's operation: %v", o)
	}
	e.do(t, req{method: http.MethodGet, target: b + "/" + cid + "/operations?$filter=" + url.QueryEscape("status eq 'inprogress'"), token: r, status: http.StatusOK})
	read := e.do(t, req{method: http.MethodGet, target: schema, token: r, status: http.StatusOK}).object(t)
	props := read["properties"].([]any)
	if read["baseType"] != "microsoft.graph.externalItem" || len(props) != 6 {
		t.Fatalf("pending schema read back: %v", read)
	}
	for i, want := range []string{"string", "string", "dateTime", "stringCollection", "double", "stringCollection"} {
		p := props[i].(map[string]any)
		if p["type"] != want {
			t.Errorf("property %v: type %v, want %s", p["name"], p["type"], want)
		}
	}
	if p := props[0].(map[string]any); p["isSearchable"] != true || p["labels"].([]any)[0] != "title" {
		t.Errorf("string booleans and labels in any case: %v", p)
	}
	if p := props[5].(map[string]any); p["labels"].([]any)[0] != "authors" {
		t.Errorf("label AUTHORS read back as %v", p["labels"])
	}

	// One registration at a time: 409.
	conflict := e.do(t, req{method: http.MethodPost, target: schema, token: w, status: http.StatusConflict, body: itemSchema()}).object(t)
	if code := conflict["error"].(map[string]any)["code"]; code != "conflict" {
		t.Errorf("second registration: code %v, want conflict", code)
	}

	// The operation is connops's: a client may neither change nor delete it.
	e.do(t, req{method: http.MethodPatch, target: loc, token: w, status: http.StatusForbidden, body: map[string]any{"status": "completed"}})
	e.do(t, req{method: http.MethodDelete, target: loc, token: w, status: http.StatusForbidden})
	e.do(t, req{method: http.MethodPatch, target: loc, token: control, status: http.StatusBadRequest, body: map[string]any{"status": "inprogress"}})

	// The control role finishes it: the schema is active, the connection ready.
	e.do(t, req{method: http.MethodPatch, target: loc, token: control, status: http.StatusNoContent,
		header: map[string]string{"If-Match": op.header.Get("ETag")}, body: map[string]any{"status": "completed"}})
	e.do(t, req{method: http.MethodPatch, target: loc, token: control, status: http.StatusConflict, body: map[string]any{"status": "failed"}})
	if o := e.do(t, req{method: http.MethodGet, target: loc, token: r, status: http.StatusOK}).object(t); o["status"] != "completed" {
		t.Errorf("finished operation: %v", o)
	}
	if c := e.do(t, req{method: http.MethodGet, target: item + "?$select=state", token: r, status: http.StatusOK}).object(t); c["state"] != "ready" {
		t.Errorf("connection after its first schema: %v", c["state"])
	}

	// An update must keep what the active schema has.
	e.do(t, req{method: http.MethodPatch, target: schema, token: w, status: http.StatusBadRequest,
		body: map[string]any{"baseType": "microsoft.graph.externalItem", "properties": []any{map[string]any{"name": "title", "type": "string"}}}})

	// POST with Prefer: respond-async registers an update; fail it, and the
	// active schema stays.
	async := e.do(t, req{method: http.MethodPost, target: schema, token: w, status: http.StatusAccepted,
		header: map[string]string{"Prefer": "respond-async"},
		body:   itemSchema(map[string]any{"name": "priority", "type": "Int64", "isQueryable": true, "isRetrievable": "true"})})
	if pa := async.header.Get("Preference-Applied"); !strings.Contains(pa, "respond-async") {
		t.Errorf("Preference-Applied %q, want respond-async", pa)
	}
	loc2 := e.operationLocation(t, async, b+"/"+cid+"/operations/")
	if pending := e.do(t, req{method: http.MethodGet, target: schema, token: r, status: http.StatusOK}).object(t); len(pending["properties"].([]any)) != 7 {
		t.Errorf("pending update read back: %v", pending)
	}
	failed := e.do(t, req{method: http.MethodPatch, target: loc2, token: control, status: http.StatusOK,
		header: map[string]string{"Prefer": "return=representation"},
		body:   map[string]any{"status": "failed", "error": m.opError("provisioningFailed")}}).object(t)
	if failed["status"] != "failed" || failed["error"] == nil {
		t.Errorf("failed registration: %v", failed)
	}
	if active := e.do(t, req{method: http.MethodGet, target: schema, token: r, status: http.StatusOK}).object(t); len(active["properties"].([]any)) != 6 {
		t.Errorf("after a failed update the active schema should stay: %v", active)
	}
	e.do(t, req{method: http.MethodDelete, target: loc2, token: w, status: http.StatusForbidden})

	// The other errors of the schema routes.
	e.do(t, req{method: http.MethodPatch, target: schema, token: r, status: http.StatusForbidden, body: itemSchema()})
	e.do(t, req{method: http.MethodGet, target: schema, token: token(t, tenant), status: http.StatusForbidden})
	e.do(t, req{method: http.MethodPost, target: schema, status: http.StatusUnauthorized, request: invalid, body: itemSchema()})
	e.do(t, req{method: http.MethodGet, target: schema, token: r, header: map[string]string{"Accept": "text/html"}, status: http.StatusNotAcceptable})
	e.do(t, req{method: http.MethodPatch, target: schema, token: w, header: map[string]string{"Accept": "application/xml"}, status: http.StatusNotAcceptable, body: itemSchema()})
	e.do(t, req{method: http.MethodPost, target: schema, token: w, status: http.StatusUnsupportedMediaType, request: invalid,
		header: map[string]string{"Content-Type": "text/plain"}, body: `{}`})
	e.do(t, req{method: http.MethodPatch, target: schema, token: w, status: http.StatusRequestEntityTooLarge, request: invalid,
		body: map[string]any{"baseType": strings.Repeat("a", httpapi.DefaultMaxBodyBytes+1), "properties": []any{}}})
	e.do(t, req{method: http.MethodPut, target: schema, token: w, status: http.StatusMethodNotAllowed, body: itemSchema(), request: unchecked})
	e.do(t, req{method: http.MethodDelete, target: schema, token: w, status: http.StatusMethodNotAllowed, request: unchecked})
}

// operationLocation checks a 202's Location: absolute, on this mount, naming
// an operation of the connection.
func (e *env) operationLocation(t *testing.T, got resp, under string) string {
	t.Helper()
	loc := got.header.Get("Location")
	u, err := url.Parse(loc)
	if err != nil || !u.IsAbs() || !strings.HasPrefix(loc, e.url+under) || path.Base(u.Path) == "" {
		t.Fatalf("Location %q is not an absolute URL under %s", loc, under)
	}
	return loc
}
