package httpapi_test

import (
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/connops/connops/internal/connections"
)

// pnpSchema is the schema the pnp JavaScript sample registers, with its
// PascalCase type names.
const pnpSchema = `{"baseType":"microsoft.graph.externalItem","properties":[
 {"name":"title","type":"String","isQueryable":true,"isSearchable":true,"isRetrievable":true,"labels":["title"]},
 {"name":"excerpt","type":"String","isQueryable":true,"isSearchable":true,"isRetrievable":true},
 {"name":"imageUrl","type":"String","isRetrievable":true},
 {"name":"url","type":"String","isRetrievable":true,"labels":["url"]},
 {"name":"date","type":"DateTime","isQueryable":true,"isRetrievable":true,"isRefinable":true,"labels":["lastModifiedDateTime"]},
 {"name":"tags","type":"StringCollection","isQueryable":true,"isRetrievable":true,"isRefinable":true}]}`

// pnpConnection is the pnp JavaScript sample's connection, settings
// included.
const pnpConnection = `{"id":"pnpmarkdown","name":"Markdown","description":"Docs",
 "activitySettings":{"urlToItemResolvers":[{"@odata.type":"#microsoft.graph.externalConnectors.itemIdResolver",
   "urlMatchInfo":{"baseUrls":["https://example.com/docs"],"urlPattern":"/(?<slug>[^/]+)"},"itemId":"{slug}","priority":1}]},
 "searchSettings":{"searchResultTemplates":[{"id":"pnpdocs","priority":1,
   "layout":{"type":"AdaptiveCard","version":"1.3","body":[{"type":"TextBlock","text":"${title}"}]}}]}}`

// poll GETs path until done says so, with at most 10 s in all.
func (e *env) poll(path, tok string, done func(map[string]any) bool) map[string]any {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := e.get(path, tok)
		if r.status != http.StatusOK {
			e.t.Fatalf("GET %s: %d %s", path, r.status, r.body)
		}
		if r.header.Get("Location") != "" {
			e.t.Fatalf("GET %s carries a Location, which client middleware would follow", path)
		}
		body := r.json(e.t)
		if done(body) {
			return body
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("GET %s did not settle: %s", path, r.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPnpJavaScriptFlow replays the pnp JavaScript sample: create the
// connection, PATCH the schema, follow the absolute Location and poll while
// inprogress, read completed, find the connection ready.
func TestPnpJavaScriptFlow(t *testing.T) {
	e := newAppEnv(t, map[string]string{"PROVISIONING_DELAY": "300ms"}, nil)
	tok := writer(t, "contoso")
	if r := e.post("/v1.0/external/connections", tok, pnpConnection); r.status != http.StatusCreated {
		t.Fatalf("create connection: %d %s", r.status, r.body)
	}
	r := e.send(request{method: http.MethodPatch, path: "/v1.0/external/connections/pnpmarkdown/schema", token: tok, body: pnpSchema})
	if r.status != http.StatusAccepted || len(r.body) != 0 {
		t.Fatalf("PATCH schema: %d %q", r.status, r.body)
	}
	loc := r.header.Get("Location")
	u, err := url.Parse(loc)
	if err != nil || !u.IsAbs() || !strings.Contains(loc, "/operations/") || !strings.HasPrefix(u.Path, "/v1.0/external/connections/pnpmarkdown/operations/") {
		t.Fatalf("Location %q", loc)
	}
	first := e.get(u.Path, tok).json(t)
	if first["status"] != "inprogress" {
		t.Errorf("the new operation is %v, want inprogress", first["status"])
	}
	// While it registers, GET schema answers the schema submitted and says so.
	if pending := e.get("/v1.0/external/connections/pnpmarkdown/schema", tok).json(t); pending["@connops.state"] != "pending" ||
		pending["@connops.operationId"] != path.Base(u.Path) {
		t.Errorf("schema while registering: state %v operation %v", pending["@connops.state"], pending["@connops.operationId"])
	}
	if c := e.get("/v1.0/external/connections/pnpmarkdown", tok).json(t); c["state"] != "draft" {
		t.Errorf("connection while provisioning: %v", c["state"])
	}
	op := e.poll(u.Path, tok, func(b map[string]any) bool { return b["status"] != "inprogress" })
	if op["status"] != "completed" || op["error"] != nil || op["id"] != path.Base(u.Path) {
		t.Errorf("final operation: %v", op)
	}
	c := e.get("/v1.0/external/connections/pnpmarkdown", tok).json(t)
	if c["state"] != "ready" {
		t.Errorf("connection after the schema completed: %v", c["state"])
	}
	resolvers := c["activitySettings"].(map[string]any)["urlToItemResolvers"].([]any)
	if resolvers[0].(map[string]any)["itemId"] != "{slug}" || c["searchSettings"] == nil {
		t.Errorf("settings read back: %v / %v", c["activitySettings"], c["searchSettings"])
	}
	s := e.get("/v1.0/external/connections/pnpmarkdown/schema", tok).json(t)
	props := s["properties"].([]any)
	if s["baseType"] != "microsoft.graph.externalItem" || len(props) != 6 || s["@connops.state"] != "active" {
		t.Fatalf("schema read back: %v", s)
	}
	for i, want := range []string{"string", "string", "string", "string", "dateTime", "stringCollection"} {
		if got := props[i].(map[string]any)["type"]; got != want {
			t.Errorf("property %d type %v, want %s", i, got, want)
		}
	}
}

// TestCSharpSampleFlow replays Microsoft's C# sample: POST the schema with
// Prefer: respond-async, take the operation id from the last segment of
// Location, poll the operation by id.
func TestCSharpSampleFlow(t *testing.T) {
	e := newAppEnv(t, map[string]string{"PROVISIONING_DELAY": "0s"}, nil)
	tok := writer(t, "contoso")
	e.createConnection(tok, "parts")
	r := e.send(request{method: http.MethodPost, path: "/v1.0/external/connections/parts/schema", token: tok,
		header: map[string]string{"Prefer": "respond-async"},
		body: `{"baseType":"microsoft.graph.externalItem","properties":[
		 {"name":"partNumber","type":"Int64","isQueryable":true,"isRetrievable":true,"isRefinable":true},
		 {"name":"name","type":"String","isQueryable":true,"isSearchable":true,"isRetrievable":true,"labels":["title"]},
		 {"name":"description","type":"String","isSearchable":true},
		 {"name":"price","type":"Double","isRefinable":true},
		 {"name":"inventory","type":"Int64","isRefinable":true},
		 {"name":"appliances","type":"StringCollection","isQueryable":true,"isSearchable":true,"isRetrievable":true}]}`})
	if r.status != http.StatusAccepted {
		t.Fatalf("POST schema: %d %s", r.status, r.body)
	}
	segments := strings.Split(r.header.Get("Location"), "/")
	opID := segments[len(segments)-1]
	op := e.poll("/v1.0/external/connections/parts/operations/"+opID, tok, func(b map[string]any) bool { return b["status"] != "inprogress" })
	if op["status"] != "completed" {
		t.Errorf("operation: %v", op)
	}
}

// TestPowerShellSampleFlow replays the PowerShell sample, which never reads
// the operation: it polls the connection until it leaves draft.
func TestPowerShellSampleFlow(t *testing.T) {
	e := newAppEnv(t, map[string]string{"PROVISIONING_DELAY": "200ms"}, nil)
	tok := writer(t, "contoso")
	e.createConnection(tok, "psconn")
	if r := e.send(request{method: http.MethodPatch, path: "/v1.0/external/connections/psconn/schema", token: tok, body: pnpSchema}); r.status != http.StatusAccepted {
		t.Fatalf("PATCH schema: %d %s", r.status, r.body)
	}
	c := e.poll("/v1.0/external/connections/psconn", tok, func(b map[string]any) bool { return b["state"] != "draft" })
	if c["state"] != "ready" {
		t.Errorf("state %v", c["state"])
	}
}

func TestLegacyMountRegistersToo(t *testing.T) {
	e := newAppEnv(t, map[string]string{"PROVISIONING_DELAY": "0s"}, nil)
	tok := writer(t, "contoso")
	e.createConnection(tok, "legacy")
	r := e.send(request{method: http.MethodPatch, path: "/beta/connections/legacy/schema", token: tok, body: pnpSchema})
	loc, _ := url.Parse(r.header.Get("Location"))
	if r.status != http.StatusAccepted || loc == nil || !strings.HasPrefix(loc.Path, "/beta/connections/legacy/operations/") {
		t.Fatalf("%d, Location %q", r.status, r.header.Get("Location"))
	}
	op := e.poll(loc.Path, tok, func(b map[string]any) bool { return b["status"] != "inprogress" })
	if op["@odata.type"] != "#microsoft.graph.connectionOperation" || op["status"] != "completed" {
		t.Errorf("legacy operation: %v", op)
	}
}

// TestBadSchemasAreRefused: every rule is a synchronous 400 naming the
// offending property, and nothing is stored: no schema, no operation, no
// work.
func TestBadSchemasAreRefused(t *testing.T) {
	e := newAppEnv(t, map[string]string{"PROVISIONING_DELAY": "manual"}, nil)
	tok := writer(t, "contoso")
	e.createConnection(tok, "badschema")
	prop := func(p string) string { return `{"baseType":"microsoft.graph.externalItem","properties":[` + p + `]}` }
	var many []string
	for i := range 129 {
		many = append(many, fmt.Sprintf(`{"name":"p%d","type":"string"}`, i))
	}
	tests := []struct{ name, body, target, mention string }{
		{"wrong base type", `{"baseType":"microsoft.graph.item","properties":[{"name":"a","type":"string"}]}`, "baseType", ""},
		{"no base type", `{"properties":[{"name":"a","type":"string"}]}`, "baseType", ""},
		{"no properties", `{"baseType":"microsoft.graph.externalItem","properties":[]}`, "properties", ""},
		{"too many properties", prop(strings.Join(many, ",")), "properties", "128"},
		{"name too long", prop(`{"name":"` + strings.Repeat("a", 33) + `","type":"string"}`), "properties[0].name", ""},
		{"name not alphanumeric", prop(`{"name":"my-prop","type":"string"}`), "properties[0].name", ""},
		{"names differ only in case", prop(`{"name":"title","type":"string"},{"name":"TITLE","type":"string"}`), "properties[1].name", "title"},
		{"alias repeats a name", prop(`{"name":"title","type":"string"},{"name":"b","type":"string","aliases":["Title"]}`), "properties[1].aliases[0]", "'b'"},
		{"alias not alphanumeric", prop(`{"name":"b","type":"string","aliases":["a b"]}`), "properties[0].aliases[0]", "'b'"},
		{"unknown type", prop(`{"name":"b","type":"decimal"}`), "properties[0].type", "decimal"},
		{"unknown label", prop(`{"name":"b","type":"string","isRetrievable":true,"labels":["colour"]}`), "properties[0].labels[0]", "colour"},
		{"searchable number", prop(`{"name":"n","type":"int64","isSearchable":true}`), "properties[0].isSearchable", "'n'"},
		{"refinable and searchable", prop(`{"name":"s","type":"string","isSearchable":true,"isRefinable":true}`), "properties[0].isRefinable", "'s'"},
		{"label not retrievable", prop(`{"name":"t","type":"string","labels":["title"]}`), "properties[0].isRetrievable", "'t'"},
		{"label on two properties", prop(`{"name":"a","type":"string","isRetrievable":true,"labels":["title"]},{"name":"b","type":"string","isRetrievable":true,"labels":["title"]}`), "properties[1].labels[0]", "'a'"},
		{"label of another type", prop(`{"name":"d","type":"string","isRetrievable":true,"labels":["lastModifiedDateTime"]}`), "properties[0].labels[0]", "dateTime"},
		{"flag not a boolean", prop(`{"name":"b","type":"string","isQueryable":"yes"}`), "properties[0].isQueryable", ""},
		{"unknown property of a property", prop(`{"name":"b","type":"string","colour":"red"}`), "properties[0].colour", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := wantError(t, e.send(request{method: http.MethodPatch, path: "/v1.0/external/connections/badschema/schema", token: tok, body: tt.body}),
				http.StatusBadRequest, "invalidRequest")
			if got["target"] != tt.target {
				t.Errorf("target = %v, want %s (%v)", got["target"], tt.target, got["message"])
			}
			if !strings.Contains(got["message"].(string), tt.mention) {
				t.Errorf("message %q does not mention %q", got["message"], tt.mention)
			}
		})
	}
	t.Cleanup(func() {
		for _, table := range []string{"schema_versions", "operations", "work_items"} {
			if n := e.count(`SELECT count(*) FROM ` + table); n != 0 {
				t.Errorf("refused schemas left %d rows in %s", n, table)
			}
		}
	})
}

// TestClientInputShapes: booleans as strings and any-case type names and
// labels, as the policies sample sends them, are accepted and normalised.
func TestClientInputShapes(t *testing.T) {
	e := newAppEnv(t, map[string]string{"PROVISIONING_DELAY": "manual"}, nil)
	tok := writer(t, "contoso")
	e.createConnection(tok, "policies")
	r := e.send(request{method: http.MethodPatch, path: "/v1.0/external/connections/policies/schema", token: tok,
		body: `{"@odata.type":"#microsoft.graph.externalConnectors.schema","baseType":"microsoft.graph.externalItem","properties":[
		 {"@odata.type":"#microsoft.graph.externalConnectors.property","name":"title","type":"string","isQueryable":"true","isSearchable":"true","isRetrievable":"true","labels":["Title"]},
		 {"name":"modified","type":"dateTime","isQueryable":"true","isRetrievable":"true","isRefinable":"false","labels":["lastModifiedDateTime"]}]}`})
	if r.status != http.StatusAccepted {
		t.Fatalf("%d %s", r.status, r.body)
	}
	// Readable while its operation is still in progress (manual mode).
	s := e.get("/v1.0/external/connections/policies/schema", tok).json(t)
	p := s["properties"].([]any)[0].(map[string]any)
	if p["isSearchable"] != true || p["labels"].([]any)[0] != "title" {
		t.Errorf("normalised property: %v", p)
	}
}

func TestSchemaBeforeAnyIs404(t *testing.T) {
	e := newEnv(t)
	tok := writer(t, "contoso")
	e.createConnection(tok, "noschema")
	wantError(t, e.get("/v1.0/external/connections/noschema/schema", tok), http.StatusNotFound, "itemNotFound")
	wantError(t, e.get("/v1.0/external/connections/nosuch/schema", tok), http.StatusNotFound, "itemNotFound")
}

// TestOneRegistrationAtATime: a second schema request while one runs is a
// 409 naming the running operation.
func TestOneRegistrationAtATime(t *testing.T) {
	e := newAppEnv(t, map[string]string{"PROVISIONING_DELAY": "manual"}, nil)
	tok := writer(t, "contoso")
	e.createConnection(tok, "busy")
	r := e.send(request{method: http.MethodPatch, path: "/v1.0/external/connections/busy/schema", token: tok, body: pnpSchema})
	running := path.Base(r.header.Get("Location"))
	got := wantError(t, e.send(request{method: http.MethodPatch, path: "/v1.0/external/connections/busy/schema", token: tok, body: pnpSchema}),
		http.StatusConflict, "conflict")
	if !strings.Contains(got["message"].(string), running) {
		t.Errorf("409 %q does not name the running operation %s", got["message"], running)
	}
	if n := e.count(`SELECT count(*) FROM operations`); n != 1 {
		t.Errorf("operations: %d", n)
	}
}

// TestControlRoleFinishesOperations: in manual mode a caller with the
// control role completes or fails a service-started operation with the
// engine's consequences; anyone else gets 403 saying why.
func TestControlRoleFinishesOperations(t *testing.T) {
	e := newAppEnv(t, map[string]string{"PROVISIONING_DELAY": "manual"}, nil)
	tok := writer(t, "contoso")
	control := token(t, "contoso", "harness", connections.PermOperationsControl, connections.PermReadAll)
	register := func(conn string) string {
		t.Helper()
		r := e.send(request{method: http.MethodPatch, path: "/v1.0/external/connections/" + conn + "/schema", token: tok, body: pnpSchema})
		if r.status != http.StatusAccepted {
			t.Fatalf("register: %d %s", r.status, r.body)
		}
		u, _ := url.Parse(r.header.Get("Location"))
		return u.Path
	}
	e.createConnection(tok, "manualok")
	e.createConnection(tok, "manualfail")
	okOp, failOp := register("manualok"), register("manualfail")

	time.Sleep(300 * time.Millisecond) // the engine must not finish manual work
	if op := e.get(okOp, tok).json(t); op["status"] != "inprogress" {
		t.Fatalf("manual operation is %v", op["status"])
	}
	got := wantError(t, e.patch(okOp, tok, `{"status":"completed"}`, nil), http.StatusForbidden, "accessDenied")
	if !strings.Contains(got["message"].(string), connections.PermOperationsControl) {
		t.Errorf("403 message %q does not say why", got["message"])
	}
	wantError(t, e.send(request{method: http.MethodDelete, path: okOp, token: tok}), http.StatusForbidden, "accessDenied")

	if r := e.patch(okOp, control, `{"status":"completed"}`, nil); r.status != http.StatusNoContent {
		t.Fatalf("control completes: %d %s", r.status, r.body)
	}
	if c := e.get("/v1.0/external/connections/manualok", tok).json(t); c["state"] != "ready" {
		t.Errorf("connection after a controlled completion: %v", c["state"])
	}
	wantError(t, e.patch(okOp, control, `{"status":"failed"}`, nil), http.StatusConflict, "conflict")

	r := e.patch(failOp, control, `{"status":"failed","error":{"code":"InvalidSchema","message":"Rejected by the test."}}`,
		map[string]string{"Prefer": "return=representation"})
	if r.status != http.StatusOK || r.json(t)["status"] != "failed" {
		t.Fatalf("control fails: %d %s", r.status, r.body)
	}
	op := e.get(failOp, tok).json(t)
	if e := op["error"].(map[string]any); e["code"] != "InvalidSchema" || e["message"] != "Rejected by the test." {
		t.Errorf("failed operation's error: %v", op["error"])
	}
	if c := e.get("/v1.0/external/connections/manualfail", tok).json(t); c["state"] != "draft" {
		t.Errorf("a failed first schema left the connection %v", c["state"])
	}
	wantError(t, e.get("/v1.0/external/connections/manualfail/schema", tok), http.StatusNotFound, "itemNotFound")
	if n := e.count(`SELECT count(*) FROM work_items`); n != 0 {
		t.Errorf("work items left: %d", n)
	}
	// Client-created operations behave as before for everyone.
	client := e.post("/v1.0/external/connections/manualok/operations", tok, `{"status":"inprogress"}`)
	if r := e.patch("/v1.0/external/connections/manualok/operations/"+client.json(t)["id"].(string), tok, `{"status":"completed"}`, nil); r.status != http.StatusNoContent {
		t.Errorf("PATCH of a client operation: %d %s", r.status, r.body)
	}
}

// TestSchemaUpdates: the update rules hold against the active schema, and
// an accepted update on a ready connection keeps it ready.
func TestSchemaUpdates(t *testing.T) {
	e := newAppEnv(t, map[string]string{"PROVISIONING_DELAY": "0s"}, nil)
	tok := writer(t, "contoso")
	e.createConnection(tok, "updates")
	const title = `{"name":"title","type":"string","isSearchable":true,"isRetrievable":true,"labels":["title"]}`
	const count = `{"name":"count","type":"int64","isQueryable":true,"isRefinable":true}`
	const plain = `{"name":"plain","type":"int64","isQueryable":true}`
	schema := func(props ...string) string {
		return `{"baseType":"microsoft.graph.externalItem","properties":[` + strings.Join(props, ",") + `]}`
	}
	const schemaPath = "/v1.0/external/connections/updates/schema"
	registerAndWait := func(body string) {
		t.Helper()
		r := e.send(request{method: http.MethodPatch, path: schemaPath, token: tok, body: body})
		if r.status != http.StatusAccepted {
			t.Fatalf("register: %d %s", r.status, r.body)
		}
		u, _ := url.Parse(r.header.Get("Location"))
		if op := e.poll(u.Path, tok, func(b map[string]any) bool { return b["status"] != "inprogress" }); op["status"] != "completed" {
			t.Fatalf("registration: %v", op)
		}
	}
	registerAndWait(schema(title, count, plain))
	for _, tt := range []struct{ name, body, target string }{
		{"property removed", schema(title, count), "properties"},
		{"search attribute removed", schema(`{"name":"title","type":"string","isRetrievable":true,"labels":["title"]}`, count, plain), "properties[0].isSearchable"},
		{"type changed", schema(title, `{"name":"count","type":"double","isQueryable":true,"isRefinable":true}`, plain), "properties[1].type"},
		{"refinable added to an existing property", schema(title, count, `{"name":"plain","type":"int64","isQueryable":true,"isRefinable":true}`), "properties[2].isRefinable"},
	} {
		got := wantError(t, e.send(request{method: http.MethodPatch, path: schemaPath, token: tok, body: tt.body}), http.StatusBadRequest, "invalidRequest")
		if got["target"] != tt.target {
			t.Errorf("%s: target %v (%v)", tt.name, got["target"], got["message"])
		}
	}
	// A new property may be refinable, and names match without case.
	registerAndWait(schema(title, count, strings.Replace(plain, `"plain"`, `"PLAIN"`, 1), `{"name":"size","type":"int64","isRefinable":true}`))
	if c := e.get("/v1.0/external/connections/updates", tok).json(t); c["state"] != "ready" {
		t.Errorf("connection after an update: %v", c["state"])
	}
	if s := e.get(schemaPath, tok).json(t); len(s["properties"].([]any)) != 4 {
		t.Errorf("schema after the update: %v", s)
	}
}

// TestFailedUpdateKeepsTheActiveSchema: a ready connection whose update
// fails stays ready with its schema.
func TestFailedUpdateKeepsTheActiveSchema(t *testing.T) {
	e := newAppEnv(t, map[string]string{"PROVISIONING_DELAY": "manual"}, nil)
	tok := writer(t, "contoso")
	control := token(t, "contoso", "harness", connections.PermOperationsControl)
	e.createConnection(tok, "keep")
	finish := func(body, status string) {
		t.Helper()
		r := e.send(request{method: http.MethodPatch, path: "/v1.0/external/connections/keep/schema", token: tok, body: body})
		if r.status != http.StatusAccepted {
			t.Fatalf("register: %d %s", r.status, r.body)
		}
		u, _ := url.Parse(r.header.Get("Location"))
		if r := e.patch(u.Path, control, `{"status":"`+status+`"}`, nil); r.status != http.StatusNoContent {
			t.Fatalf("finish %s: %d %s", status, r.status, r.body)
		}
	}
	finish(pnpSchema, "completed")
	bigger := strings.TrimSuffix(pnpSchema, `]}`) + `,{"name":"extra","type":"string","isRetrievable":true}]}`
	finish(bigger, "failed")
	if c := e.get("/v1.0/external/connections/keep", tok).json(t); c["state"] != "ready" {
		t.Errorf("state after a failed update: %v", c["state"])
	}
	if s := e.get("/v1.0/external/connections/keep/schema", tok).json(t); len(s["properties"].([]any)) != 6 {
		t.Errorf("the active schema did not stay: %v", s)
	}
}

// TestConnectionDeletedMidProvisioning takes its work with it.
func TestConnectionDeletedMidProvisioning(t *testing.T) {
	e := newAppEnv(t, map[string]string{"PROVISIONING_DELAY": "manual"}, nil)
	tok := writer(t, "contoso")
	e.createConnection(tok, "doomed")
	if r := e.send(request{method: http.MethodPatch, path: "/v1.0/external/connections/doomed/schema", token: tok, body: pnpSchema}); r.status != http.StatusAccepted {
		t.Fatal(r.status)
	}
	if r := e.send(request{method: http.MethodDelete, path: "/v1.0/external/connections/doomed", token: tok}); r.status != http.StatusAccepted {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	for _, table := range []string{"work_items", "schema_versions", "operations"} {
		if n := e.count(`SELECT count(*) FROM ` + table); n != 0 {
			t.Errorf("%s kept %d rows", table, n)
		}
	}
}

func TestConnectionSettingsAreValidated(t *testing.T) {
	e := newEnv(t)
	tok := writer(t, "contoso")
	for _, tt := range []struct{ body, target string }{
		{`{"id":"set1","name":"n","searchSettings":{"searchResultTemplates":[{"id":"has-dash","priority":1,"layout":{}}]}}`, "searchSettings.searchResultTemplates[0].id"},
		{`{"id":"set1","name":"n","searchSettings":{"searchResultTemplates":[{"id":"a","priority":0,"layout":{}}]}}`, "searchSettings.searchResultTemplates[0].priority"},
		{`{"id":"set1","name":"n","searchSettings":{"searchResultTemplates":[{"id":"a","priority":1,"layout":"card"}]}}`, "searchSettings.searchResultTemplates[0].layout"},
		{`{"id":"set1","name":"n","searchSettings":{"searchResultTemplates":[{"id":"a","priority":1,"layout":{}},{"id":"b","priority":1,"layout":{}},{"id":"c","priority":1,"layout":{}}]}}`, "searchSettings.searchResultTemplates"},
		{`{"id":"set1","name":"n","activitySettings":{"urlToItemResolvers":[{"urlMatchInfo":{"baseUrls":["ftp://x"],"urlPattern":"p"},"itemId":"i","priority":1}]}}`, "activitySettings.urlToItemResolvers[0].urlMatchInfo.baseUrls[0]"},
		{`{"id":"set1","name":"n","activitySettings":{"urlToItemResolvers":[{"urlMatchInfo":{"baseUrls":["https://x"],"urlPattern":"p"},"priority":1}]}}`, "activitySettings.urlToItemResolvers[0].itemId"},
	} {
		got := wantError(t, e.post("/v1.0/external/connections", tok, tt.body), http.StatusBadRequest, "invalidRequest")
		if got["target"] != tt.target {
			t.Errorf("%s: target %v (%v)", tt.body, got["target"], got["message"])
		}
	}
	if n := e.count(`SELECT count(*) FROM connections`); n != 0 {
		t.Errorf("stored %d connections", n)
	}
	// The policies sample adds searchSettings later, with a PATCH.
	e.createConnection(tok, "later")
	r := e.patch("/v1.0/external/connections/later", tok, `{"searchSettings":{"searchResultTemplates":[{"id":"policies","priority":1,"layout":{"type":"AdaptiveCard"}}]}}`, nil)
	if r.status != http.StatusNoContent {
		t.Fatalf("PATCH searchSettings: %d %s", r.status, r.body)
	}
	c := e.get("/v1.0/external/connections/later", tok).json(t)
	tmpl := c["searchSettings"].(map[string]any)["searchResultTemplates"].([]any)[0].(map[string]any)
	if tmpl["id"] != "policies" || tmpl["layout"].(map[string]any)["type"] != "AdaptiveCard" {
		t.Errorf("searchSettings read back: %v", c["searchSettings"])
	}
}
