package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
)

// seedOperations inserts operations straight into the database, quicker than
// through HTTP; statuses cycle through the four members.
func (e *env) seedOperations(tenant, connectionID string, n int) {
	e.t.Helper()
	_, err := e.pool.Exec(context.Background(), `
		INSERT INTO operations (tenant_id, connection_id, id, status)
		SELECT $1, $2, 'op' || lpad(i::text, 5, '0'),
		       (ARRAY['unspecified','inprogress','completed','failed'])[1 + i % 4]::operation_status
		FROM generate_series(1, $3) AS i`, tenant, connectionID, n)
	if err != nil {
		e.t.Fatal(err)
	}
}

func ids(t *testing.T, r response) []string {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var out []string
	values, ok := r.json(t)["value"].([]any)
	if !ok {
		t.Fatalf("no value array: %s", r.body)
	}
	for _, v := range values {
		out = append(out, v.(map[string]any)["id"].(string))
	}
	return out
}

func q(path string, opts ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(opts); i += 2 {
		v.Set(opts[i], opts[i+1])
	}
	return path + "?" + v.Encode()
}

func TestListOperationsFiltersAndOrders(t *testing.T) {
	e := newEnv(t)
	tok := writer(t, "contoso")
	e.createConnection(tok, "hrconn")
	e.createConnection(tok, "empty")
	e.seedOperations("contoso", "hrconn", 8) // op00001 inprogress, op00002 completed, op00003 failed, op00004 unspecified, ...
	const path = "/v1.0/external/connections/hrconn/operations"

	empty := e.get("/v1.0/external/connections/empty/operations", tok).json(t)
	if v, ok := empty["value"].([]any); !ok || len(v) != 0 {
		t.Errorf("empty list: %v", empty)
	}
	if ctx, _ := empty["@odata.context"].(string); !strings.HasSuffix(ctx, "$metadata#external/connections('empty')/operations") {
		t.Errorf("@odata.context = %q", ctx)
	}

	tests := []struct {
		filter, orderby string
		want            []string
	}{
		{"", "", []string{"op00001", "op00002", "op00003", "op00004", "op00005", "op00006", "op00007", "op00008"}},
		{"status eq 'completed'", "", []string{"op00002", "op00006"}},
		{"status ne 'completed' and status ne 'failed'", "", []string{"op00001", "op00004", "op00005", "op00008"}},
		{"status in ('failed', 'unspecified')", "", []string{"op00003", "op00004", "op00007", "op00008"}},
		{"id eq 'op00003' or (id eq 'op00005')", "", []string{"op00003", "op00005"}},
		{"not (status eq 'inprogress' or status eq 'unspecified')", "", []string{"op00002", "op00003", "op00006", "op00007"}},
		{"status eq microsoft.graph.externalConnectors.connectionOperationStatus'failed'", "", []string{"op00003", "op00007"}},
		{"status eq 'unknownFutureValue'", "", nil},
		{"id eq 'it''s'", "", nil},
		{"", "id desc", []string{"op00008", "op00007", "op00006", "op00005", "op00004", "op00003", "op00002", "op00001"}},
		{"", "status desc,id", []string{"op00003", "op00007", "op00002", "op00006", "op00001", "op00005", "op00004", "op00008"}},
		{"id in ('op00001','op00002','op00003')", "status asc", []string{"op00001", "op00002", "op00003"}},
	}
	for _, tt := range tests {
		t.Run(tt.filter+"|"+tt.orderby, func(t *testing.T) {
			var opts []string
			if tt.filter != "" {
				opts = append(opts, "$filter", tt.filter)
			}
			if tt.orderby != "" {
				opts = append(opts, "$orderby", tt.orderby)
			}
			got := ids(t, e.get(q(path, opts...), tok))
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			// Every page size gives the same sequence.
			if paged := e.pageAll(q(path, append(opts, "$top", "3")...), tok); !slices.Equal(paged, tt.want) {
				t.Errorf("paged by 3: %v, want %v", paged, tt.want)
			}
		})
	}

	r := e.get(q(path, "$count", "true", "$top", "2", "$skip", "1", "$filter", "status eq 'completed'", "$select", "status"), tok)
	body := r.json(t)
	if body["@odata.count"] != float64(2) {
		t.Errorf("@odata.count = %v", body["@odata.count"])
	}
	values := body["value"].([]any)
	if len(values) != 1 || values[0].(map[string]any)["id"] != "op00006" {
		t.Errorf("$skip=1 value = %v", values)
	}
	if _, has := values[0].(map[string]any)["error"]; has {
		t.Errorf("$select=status kept error: %v", values[0])
	}
	if r := e.get(q(path+"/op00002", "$select", "status"), tok); r.status != http.StatusOK || strings.Contains(string(r.body), `"error"`) {
		t.Errorf("get with $select: %d %s", r.status, r.body)
	}
}

// pageAll follows @odata.nextLink to the end and returns every id seen.
func (e *env) pageAll(path, tok string) []string {
	e.t.Helper()
	var all []string
	for page := 0; path != ""; page++ {
		if page > 2000 {
			e.t.Fatal("paging does not end")
		}
		r := e.get(path, tok)
		all = append(all, ids(e.t, r)...)
		next, _ := r.json(e.t)["@odata.nextLink"].(string)
		if next != "" && !strings.HasPrefix(next, e.url) {
			e.t.Fatalf("nextLink %q is not absolute", next)
		}
		path = strings.TrimPrefix(next, e.url)
	}
	return all
}

// TestPagingIsStableUnderConcurrentInserts pages through 1,000 operations
// with $top=7 while other creates land, and checks that every operation that
// existed at the start is returned exactly once.
func TestPagingIsStableUnderConcurrentInserts(t *testing.T) {
	e := newEnv(t)
	tok := writer(t, "contoso")
	e.createConnection(tok, "hrconn")
	e.seedOperations("contoso", "hrconn", 1000)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			// Ids that sort before, among and after the existing ones.
			id := []string{"a", "op00500x", "zz"}[i%3] + fmt.Sprint(i)
			e.post("/v1.0/external/connections/hrconn/operations", tok, `{"id":"`+id+`"}`)
		}
	}()
	seen := e.pageAll("/v1.0/external/connections/hrconn/operations?$top=7", tok)
	close(stop)
	wg.Wait()

	counts := map[string]int{}
	for _, id := range seen {
		counts[id]++
	}
	for i := 1; i <= 1000; i++ {
		id := fmt.Sprintf("op%05d", i)
		if counts[id] != 1 {
			t.Errorf("%s seen %d times", id, counts[id])
		}
	}
	for id, n := range counts {
		if n > 1 {
			t.Errorf("%s seen %d times", id, n)
		}
	}
	t.Logf("paged %d operations, %d of them created during paging", len(seen), len(seen)-1000)
}

func TestListRejectsBadQueryOptions(t *testing.T) {
	e := newEnv(t)
	tok := writer(t, "contoso")
	e.createConnection(tok, "hrconn")
	const path = "/v1.0/external/connections/hrconn/operations"
	valid := e.get(q(path, "$top", "1", "$filter", "status eq 'completed'"), tok)
	next, _ := valid.json(t)["@odata.nextLink"].(string)
	_ = next

	tests := []struct{ name, query, target string }{
		{"top zero", "$top=0", "$top"},
		{"top too big", "$top=1001", "$top"},
		{"top not a number", "$top=ten", "$top"},
		{"top twice", "$top=1&$top=2", "$top"},
		{"skip negative", "$skip=-1", "$skip"},
		{"count not boolean", "$count=yes", "$count"},
		{"expand", "$expand=schema", "$expand"},
		{"search", "$search=x", "$search"},
		{"format", "$format=json", "$format"},
		{"unknown option", "$levitate=true", "$levitate"},
		{"custom parameter", "foo=bar", "foo"},
		{"bare option on v1.0", "top=5", "top"},
		{"select unknown", "$select=colour", "$select"},
		{"orderby unknown", "$orderby=createdDateTime", "$orderby"},
		{"orderby direction", "$orderby=id%20sideways", "$orderby"},
		{"orderby twice", "$orderby=id,id%20desc", "$orderby"},
		{"filter unknown property", "$filter=" + url.QueryEscape("colour eq 'red'"), "$filter"},
		{"filter unknown operator", "$filter=" + url.QueryEscape("status gt 'failed'"), "$filter"},
		{"filter bad status", "$filter=" + url.QueryEscape("status eq 'String'"), "$filter"},
		{"filter unterminated", "$filter=" + url.QueryEscape("status eq 'completed"), "$filter"},
		{"filter unbalanced", "$filter=" + url.QueryEscape("(status eq 'completed'"), "$filter"},
		{"filter dangling and", "$filter=" + url.QueryEscape("status eq 'completed' and"), "$filter"},
		{"filter unquoted", "$filter=" + url.QueryEscape("status eq completed"), "$filter"},
		{"filter empty in", "$filter=" + url.QueryEscape("id in ()"), "$filter"},
		{"filter bad char", "$filter=" + url.QueryEscape("id eq 'a' ; drop table operations"), "$filter"},
		{"filter too long", "$filter=" + url.QueryEscape("id eq '"+strings.Repeat("x", 3000)+"'"), "$filter"},
		{"filter too deep", "$filter=" + url.QueryEscape(strings.Repeat("(", 40)+"id eq 'a'"+strings.Repeat(")", 40)), "$filter"},
		{"filter too many terms", "$filter=" + url.QueryEscape(strings.TrimSuffix(strings.Repeat("id eq 'a' or ", 40), " or ")), "$filter"},
		{"skiptoken garbage", "$skiptoken=not-a-token", "$skiptoken"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := wantError(t, e.get(path+"?"+tt.query, tok), http.StatusBadRequest, "invalidRequest")
			if got["target"] != tt.target || !strings.Contains(got["message"].(string), tt.target) {
				t.Errorf("target %v, message %q; want %s named", got["target"], got["message"], tt.target)
			}
		})
	}

	// A page token only works with the query it came from.
	e.seedOperations("contoso", "hrconn", 5)
	first := e.get(q(path, "$top", "2", "$filter", "status ne 'failed'"), tok).json(t)
	link, _ := first["@odata.nextLink"].(string)
	u, err := url.Parse(link)
	if err != nil || link == "" {
		t.Fatalf("nextLink %q", link)
	}
	token := u.Query().Get("$skiptoken")
	wantError(t, e.get(q(path, "$top", "2", "$skiptoken", token), tok), http.StatusBadRequest, "invalidRequest")
	// And it grants nothing: another tenant with the same link gets a 404.
	wantError(t, e.get(strings.TrimPrefix(link, e.url), writer(t, "fabrikam")), http.StatusNotFound, "itemNotFound")

	wantError(t, e.post(path+"?$top=3", tok, `{}`), http.StatusBadRequest, "invalidRequest")
	wantError(t, e.get("/v1.0/external/connections/nope/operations", tok), http.StatusNotFound, "itemNotFound")
	if n := e.operationCount(); n != 5 {
		t.Errorf("operations = %d, want 5", n)
	}
}

func TestBetaToleratesOptionsWithoutDollar(t *testing.T) {
	e := newEnv(t)
	tok := writer(t, "contoso")
	e.createConnection(tok, "hrconn")
	e.seedOperations("contoso", "hrconn", 3)
	if got := ids(t, e.get("/beta/connections/hrconn/operations?top=1&orderby=id%20desc", tok)); !slices.Equal(got, []string{"op00003"}) {
		t.Errorf("got %v", got)
	}
}

func TestCountSegment(t *testing.T) {
	e := newEnv(t)
	tok := writer(t, "contoso")
	e.createConnection(tok, "hrconn")
	e.seedOperations("contoso", "hrconn", 9)
	const path = "/v1.0/external/connections/hrconn/operations/$count"

	r := e.send(request{method: http.MethodGet, path: path, token: tok, header: map[string]string{"Accept": "text/plain;q=0.9"}})
	if r.status != http.StatusOK || string(r.body) != "9" || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
		t.Errorf("$count: %d %q %q", r.status, r.body, r.header.Get("Content-Type"))
	}
	r = e.get(q(path, "$filter", "status eq 'completed'"), tok)
	if string(r.body) != "2" {
		t.Errorf("$count with filter = %q", r.body)
	}
	wantError(t, e.send(request{method: http.MethodGet, path: path, token: tok, header: map[string]string{"Accept": "application/json"}}),
		http.StatusNotAcceptable, "notAcceptable")
	wantError(t, e.get(q(path, "$top", "1"), tok), http.StatusBadRequest, "invalidRequest")
	wantError(t, e.get("/v1.0/external/connections/nope/operations/$count", tok), http.StatusNotFound, "itemNotFound")
}

func TestConnectionListPagingAndPatch(t *testing.T) {
	e := newEnv(t)
	tok := writer(t, "contoso")
	for _, id := range []string{"conna", "connb", "connc"} {
		e.createConnection(tok, id)
	}
	if got := e.pageAll("/v1.0/external/connections?$top=1", tok); !slices.Equal(got, []string{"conna", "connb", "connc"}) {
		t.Errorf("paged connections %v", got)
	}
	body := e.get("/v1.0/external/connections?$count=true&$select=name", tok).json(t)
	if body["@odata.count"] != float64(3) {
		t.Errorf("count %v", body["@odata.count"])
	}
	wantError(t, e.get("/v1.0/external/connections?$filter="+url.QueryEscape("id eq 'conna'"), tok), http.StatusBadRequest, "invalidRequest")

	r := e.send(request{method: http.MethodPatch, path: "/v1.0/external/connections/connb", token: tok,
		body: `{"name":"Renamed","description":"now described"}`})
	if r.status != http.StatusNoContent {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	got := e.get("/v1.0/external/connections/connb", tok).json(t)
	if got["name"] != "Renamed" || got["description"] != "now described" {
		t.Errorf("after patch: %v", got)
	}
	for _, bad := range []string{`{"name":""}`, `{"id":"other"}`, `{"state":"ready"}`, `{"name":5}`, `{"colour":"red"}`} {
		r := e.send(request{method: http.MethodPatch, path: "/v1.0/external/connections/connb", token: tok, body: bad})
		wantError(t, r, http.StatusBadRequest, "invalidRequest")
	}
	if got := e.get("/v1.0/external/connections/connb", tok).json(t); got["name"] != "Renamed" {
		t.Errorf("a rejected patch changed the row: %v", got)
	}
	r = e.send(request{method: http.MethodPatch, path: "/v1.0/external/connections/nope", token: tok, body: `{"name":"x"}`})
	wantError(t, r, http.StatusNotFound, "itemNotFound")
}
