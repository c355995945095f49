package openapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/connops/connops/internal/connections"
	"github.com/connops/connops/internal/httpapi"
)

// mount is one of the four roots the connection routes are served under.
type mount struct {
	name    string
	base    string
	version string
	set     string // the entity set, relative to the version root
	legacy  bool
}

var mounts = []mount{
	{"v1.0 external", "/v1.0/external/connections", "v1.0", "external/connections", false},
	{"v1.0 alias", "/v1.0/connections", "v1.0", "connections", false},
	{"beta external", "/beta/external/connections", "beta", "external/connections", false},
	{"beta legacy", "/beta/connections", "beta", "connections", true},
}

// opError is an operation error in the mount's request shape.
func (m mount) opError(code string) map[string]any {
	if m.legacy {
		return map[string]any{
			"@odata.type": "#microsoft.graph.errorDetail",
			"errorCode":   code, "message": "The crawl failed.",
			"details": []any{map[string]any{"message": "Bad item.", "source": "items[3]"}},
		}
	}
	return map[string]any{
		"code": code, "message": "The crawl failed.", "target": "items",
		"details":    []any{map[string]any{"code": "badItem", "message": "Bad item.", "target": "items[3]"}},
		"innerError": map[string]any{"code": "inner", "message": "Inner detail."},
	}
}

// TestServiceMatchesDocument drives connops through every documented
// operation on every mount, success and failure, validating each exchange;
// then it checks that every operation was seen succeeding and every
// documented status was seen somewhere.
func TestServiceMatchesDocument(t *testing.T) {
	// Manual provisioning keeps every schema registration running until a
	// caller with the control role finishes it, so the scenario decides
	// when each one ends (and can meet the 409 of a second registration).
	// WAIT_MAX is short so a Prefer: wait that runs out costs a second.
	e := newEnv(t, envOptions{vars: map[string]string{"PROVISIONING_DELAY": "manual", "WAIT_MAX": "1s"}})
	t.Run("scenarios", func(t *testing.T) {
		for i, m := range mounts {
			t.Run(m.name, func(t *testing.T) {
				t.Parallel()
				e.mountScenario(t, m, fmt.Sprintf("tenant%d", i))
			})
			t.Run(m.name+" schema", func(t *testing.T) {
				t.Parallel()
				e.schemaScenario(t, m, fmt.Sprintf("schematenant%d", i))
			})
			t.Run(m.name+" errors", func(t *testing.T) {
				t.Parallel()
				e.mountErrors(t, m, fmt.Sprintf("errtenant%d", i))
			})
			t.Run(m.name+" items", func(t *testing.T) {
				t.Parallel()
				e.itemsScenario(t, m, fmt.Sprintf("itemtenant%d", i))
			})
			t.Run(m.name+" changes", func(t *testing.T) {
				t.Parallel()
				e.changesScenario(t, m, fmt.Sprintf("changetenant%d", i))
			})
		}
		t.Run("item quota", func(t *testing.T) {
			t.Parallel()
			itemQuotaScenario(t)
		})
		t.Run("change log retention", func(t *testing.T) {
			t.Parallel()
			changeRetentionScenario(t)
		})
		t.Run("subscriptions", func(t *testing.T) {
			t.Parallel()
			subscriptionsScenario(t)
		})
		for _, v := range []string{"v1.0", "beta"} {
			t.Run("batch "+v, func(t *testing.T) {
				t.Parallel()
				e.batchScenario(t, v, "batch-"+v)
			})
		}
		t.Run("health", func(t *testing.T) {
			t.Parallel()
			e.do(t, req{method: http.MethodGet, target: "/healthz", status: http.StatusOK})
			e.do(t, req{method: http.MethodGet, target: "/readyz", status: http.StatusOK})
			e.do(t, req{method: http.MethodGet, target: "/metrics", status: http.StatusOK})
			e.do(t, req{method: http.MethodPost, target: "/healthz", status: http.StatusMethodNotAllowed, request: unchecked})
			e.do(t, req{method: http.MethodGet, target: "/nothing/here", status: http.StatusNotFound, request: unchecked})
		})
		t.Run("document", func(t *testing.T) {
			t.Parallel()
			e.documentServed(t)
		})
		t.Run("faults", func(t *testing.T) {
			t.Parallel()
			faults(t)
		})
		t.Run("throttling", func(t *testing.T) {
			t.Parallel()
			throttling(t)
		})
	})
	if t.Failed() {
		return
	}
	checkExercised(t, e)
}

// checkExercised fails for a documented operation never seen succeeding or
// a documented status never seen at all.
func checkExercised(t *testing.T, e *env) {
	exercised.Lock()
	defer exercised.Unlock()
	statuses := map[string]bool{}
	for _, item := range e.doc.Paths.Map() {
		for _, op := range item.Operations() {
			ok := false
			for status := range op.Responses.Map() {
				statuses[status] = true
				if strings.HasPrefix(status, "2") && exercised.m[op.OperationID+" "+status] {
					ok = true
				}
			}
			if !ok {
				t.Errorf("operation %s was never seen succeeding", op.OperationID)
			}
		}
	}
	for status := range statuses {
		seen := slices.ContainsFunc(keys(exercised.m), func(k string) bool { return strings.HasSuffix(k, " "+status) })
		if !seen {
			t.Errorf("documented status %s was never seen", status)
		}
	}
	for _, name := range []string{"notFound", "methodNotAllowed", "failedDependency"} {
		if !exercised.m["components.responses."+name] {
			t.Errorf("components.responses.%s was never checked", name)
		}
	}
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func (e *env) mountScenario(t *testing.T, m mount, tenant string) {
	w, r := writer(t, tenant), reader(t, tenant)
	cid, cid2 := "conn"+strings.ReplaceAll(tenant, "-", ""), "other"+strings.ReplaceAll(tenant, "-", "")
	b := m.base
	get := func(target string, status int) resp {
		return e.do(t, req{method: http.MethodGet, target: target, token: r, status: status})
	}

	// Connections.
	created := e.do(t, req{method: http.MethodPost, target: b, token: w, status: http.StatusCreated, body: map[string]any{
		"@odata.type": "#microsoft.graph.externalConnectors.externalConnection",
		"id":          cid, "name": "HR tickets", "description": "Tickets from the HR system.",
		"configuration": map[string]any{"authorizedAppIds": []string{"other-app"}},
	}})
	if loc := created.header.Get("Location"); !strings.HasSuffix(loc, b+"/"+cid) {
		t.Errorf("Location %q does not name the connection under %s", loc, b)
	}
	e.do(t, req{method: http.MethodPost, target: b, token: w, status: http.StatusCreated,
		body: map[string]any{"id": cid2, "name": "Other", "description": nil, "configuration": nil}})
	e.do(t, req{method: http.MethodPost, target: b, token: w, status: http.StatusConflict, body: map[string]any{"id": cid, "name": "Again"}})

	get(b, http.StatusOK)
	page := get(b+"?$top=1&$count=true&$orderby=id%20asc&$select=name,state", http.StatusOK).object(t)
	if page["@odata.count"] != float64(2) {
		t.Errorf("@odata.count = %v, want 2", page["@odata.count"])
	}
	next, _ := page["@odata.nextLink"].(string)
	if next == "" {
		t.Fatalf("page of 1 of 2 has no nextLink: %v", page)
	}
	last := get(next, http.StatusOK).object(t)
	if _, more := last["@odata.nextLink"]; more {
		t.Errorf("last page has a nextLink: %v", last)
	}
	get(b+"?$skip=1&$top=5", http.StatusOK)
	if m.version == "beta" {
		get(b+"?top=1&count=true", http.StatusOK)
	}

	conn := get(b+"/"+cid, http.StatusOK)
	get(b+"/"+cid+"?$select=description,configuration", http.StatusOK)
	etag := conn.header.Get("ETag")
	patched := e.do(t, req{method: http.MethodPatch, target: b + "/" + cid, token: w, status: http.StatusNoContent,
		header: map[string]string{"If-Match": etag, "Prefer": "include-unknown-enum-members"},
		body:   map[string]any{"description": "Renamed.", "configuration": map[string]any{"authorizedAppIds": []string{}}}})
	e.do(t, req{method: http.MethodPatch, target: b + "/" + cid, token: w, status: http.StatusOK,
		header: map[string]string{"If-Match": patched.header.Get("ETag"), "Prefer": "return=representation"},
		body:   map[string]any{"name": "HR", "description": nil}})
	e.do(t, req{method: http.MethodPatch, target: b + "/" + cid, token: w, status: http.StatusPreconditionFailed,
		header: map[string]string{"If-Match": etag}, body: map[string]any{"name": "Stale"}})
	e.do(t, req{method: http.MethodPatch, target: b + "/" + cid, token: w, status: http.StatusBadRequest, request: invalid,
		body: map[string]any{"state": "ready"}})

	// Operations.
	ops := b + "/" + cid + "/operations"
	e.do(t, req{method: http.MethodPost, target: ops, token: w, status: http.StatusCreated, body: map[string]any{}})
	opCreated := e.do(t, req{method: http.MethodPost, target: ops, token: w, status: http.StatusCreated,
		body: map[string]any{"@odata.type": "microsoft.graph.externalConnectors.connectionOperation", "id": "op-1", "status": "inprogress"}})
	if loc := opCreated.header.Get("Location"); !strings.HasSuffix(loc, ops+"/op-1") {
		t.Errorf("Location %q does not name the operation under %s", loc, ops)
	}
	e.do(t, req{method: http.MethodPost, target: ops, token: w, status: http.StatusCreated,
		body: map[string]any{"id": "op-2", "status": "failed", "error": m.opError("crawlFailed")}})
	e.do(t, req{method: http.MethodPost, target: ops, token: w, status: http.StatusCreated,
		body: map[string]any{"id": "op-3", "status": "failed", "error": map[string]any{}}})
	for i := 4; i <= 7; i++ {
		e.do(t, req{method: http.MethodPost, target: ops, token: w, status: http.StatusCreated,
			body: map[string]any{"id": "op-" + strconv.Itoa(i), "status": "completed"}})
	}
	e.do(t, req{method: http.MethodPost, target: ops, token: w, status: http.StatusConflict, body: map[string]any{"id": "op-1"}})

	// Idempotent creates: a retry replays, a reused key is refused.
	key := map[string]string{"Idempotency-Key": "key-" + tenant}
	first := e.do(t, req{method: http.MethodPost, target: ops, token: w, status: http.StatusCreated, header: key, body: map[string]any{"status": "inprogress"}})
	replay := e.do(t, req{method: http.MethodPost, target: ops, token: w, status: http.StatusCreated, header: key, body: map[string]any{"status": "inprogress"}})
	if replay.header.Get("Idempotent-Replayed") != "true" || replay.object(t)["id"] != first.object(t)["id"] {
		t.Errorf("retry with the same Idempotency-Key was not replayed: %s", replay.body)
	}
	e.do(t, req{method: http.MethodPost, target: ops, token: w, status: http.StatusUnprocessableEntity, header: key, body: map[string]any{"status": "failed"}})
	e.do(t, req{method: http.MethodPost, target: b, token: w, status: http.StatusUnprocessableEntity, header: key, body: map[string]any{"id": "keyed" + cid, "name": "N"}})
	e.do(t, req{method: http.MethodPost, target: ops, token: w, status: http.StatusBadRequest, request: invalid,
		header: map[string]string{"Idempotency-Key": "has space"}, body: map[string]any{}})
	e.do(t, req{method: http.MethodDelete, target: ops + "/" + first.object(t)["id"].(string), token: w, status: http.StatusNoContent})

	// Every list option, paged to the end through nextLink.
	get(ops, http.StatusOK)
	filter := url.QueryEscape("status ne 'completed' or id in ('op-4','op-5')")
	target := ops + "?$top=2&$count=true&$filter=" + filter + "&$orderby=" + url.QueryEscape("status desc,id") + "&$select=status,error"
	var seen int
	for pages := 0; target != ""; pages++ {
		if pages > 10 {
			t.Fatal("nextLink paging does not end")
		}
		p := get(target, http.StatusOK).object(t)
		seen += len(p["value"].([]any))
		if p["@odata.count"] != float64(6) {
			t.Errorf("@odata.count = %v, want 6", p["@odata.count"])
		}
		target, _ = p["@odata.nextLink"].(string)
	}
	if seen != 6 {
		t.Errorf("paging saw %d operations, want 6", seen)
	}
	get(ops+"?$skip=2&$orderby=id%20desc", http.StatusOK)
	if m.version == "beta" {
		get(ops+"?top=2&filter="+url.QueryEscape("status eq 'failed'"), http.StatusOK)
	}
	count := get(ops+"/$count", http.StatusOK)
	if string(count.body) != "8" {
		t.Errorf("$count = %q, want 8", count.body)
	}
	get(ops+"/$count?$filter="+url.QueryEscape("status eq microsoft.graph.externalConnectors.connectionOperationStatus'failed'"), http.StatusOK)

	one := get(ops+"/op-1", http.StatusOK)
	get(ops+"/op-2", http.StatusOK)
	get(ops+"/op-2?$select=error", http.StatusOK)
	done := e.do(t, req{method: http.MethodPatch, target: ops + "/op-1", token: w, status: http.StatusNoContent,
		header: map[string]string{"If-Match": one.header.Get("ETag")}, body: map[string]any{"status": "completed"}})
	e.do(t, req{method: http.MethodPatch, target: ops + "/op-1", token: w, status: http.StatusConflict,
		body: map[string]any{"status": "inprogress"}})
	e.do(t, req{method: http.MethodPatch, target: ops + "/op-1", token: w, status: http.StatusPreconditionFailed,
		header: map[string]string{"If-Match": one.header.Get("ETag")}, body: map[string]any{"error": nil}})
	e.do(t, req{method: http.MethodPatch, target: ops + "/op-1", token: w, status: http.StatusOK,
		header: map[string]string{"If-Match": done.header.Get("ETag"), "Prefer": "return=representation"},
		body:   map[string]any{"status": "unknownFutureValue", "error": m.opError("late")}})
	e.do(t, req{method: http.MethodPatch, target: ops + "/op-2", token: w, status: http.StatusBadRequest, request: invalid,
		body: map[string]any{"id": "op-9"}})

	e.do(t, req{method: http.MethodDelete, target: ops + "/op-3", token: w, status: http.StatusNoContent})
	get(ops+"/op-3", http.StatusNotFound)
	e.do(t, req{method: http.MethodDelete, target: ops + "/op-3", token: w, status: http.StatusNotFound})
	e.do(t, req{method: http.MethodDelete, target: b + "/" + cid2, token: w, status: http.StatusAccepted})
	get(b+"/"+cid2, http.StatusNotFound)
	get(b+"/"+cid2+"/operations", http.StatusNotFound)
}

// mountErrors sends the requests each documented error answers.
func (e *env) mountErrors(t *testing.T, m mount, tenant string) {
	w, r := writer(t, tenant), reader(t, tenant)
	cid := "err" + strings.ReplaceAll(tenant, "-", "")
	b := m.base
	item, ops := b+"/"+cid, b+"/"+cid+"/operations"
	e.do(t, req{method: http.MethodPost, target: b, token: w, status: http.StatusCreated, body: map[string]any{"id": cid, "name": "Errors"}})
	e.do(t, req{method: http.MethodPost, target: ops, token: w, status: http.StatusCreated, body: map[string]any{"id": "op"}})

	// 400
	e.do(t, req{method: http.MethodPost, target: b, token: w, status: http.StatusBadRequest, request: invalid,
		body: map[string]any{"id": "x1y2z3", "name": "N", "colour": "red"}})
	e.do(t, req{method: http.MethodPost, target: b, token: w, status: http.StatusBadRequest, request: invalid,
		body: map[string]any{"id": "Microsoft1", "name": "N"}})
	e.do(t, req{method: http.MethodPost, target: b, token: w, status: http.StatusBadRequest, request: invalid, body: `{"id": "abc",`})
	e.do(t, req{method: http.MethodPost, target: ops, token: w, status: http.StatusBadRequest, request: invalid,
		body: map[string]any{"status": "unknownFutureValue"}})
	e.do(t, req{method: http.MethodPost, target: ops, token: w, status: http.StatusBadRequest, request: invalid,
		body: map[string]any{"error": map[string]any{"code": strings.Repeat("c", 129)}}})
	e.do(t, req{method: http.MethodGet, target: b + "?$top=0", token: r, status: http.StatusBadRequest, request: invalid})
	e.do(t, req{method: http.MethodGet, target: ops + "?$top=1001", token: r, status: http.StatusBadRequest, request: invalid})
	e.do(t, req{method: http.MethodGet, target: ops + "?$orderby=name", token: r, status: http.StatusBadRequest, request: invalid})
	e.do(t, req{method: http.MethodGet, target: ops + "?$select=name", token: r, status: http.StatusBadRequest, request: invalid})
	e.do(t, req{method: http.MethodGet, target: ops + "?$skiptoken=abc", token: r, status: http.StatusBadRequest})
	e.do(t, req{method: http.MethodGet, target: ops + "?$filter=" + url.QueryEscape("status gt 'a'"), token: r, status: http.StatusBadRequest})
	e.do(t, req{method: http.MethodGet, target: b + "?$filter=" + url.QueryEscape("id eq 'a'"), token: r, status: http.StatusBadRequest, request: unchecked})
	e.do(t, req{method: http.MethodGet, target: item + "?$expand=operations", token: r, status: http.StatusBadRequest, request: unchecked})
	e.do(t, req{method: http.MethodDelete, target: ops + "/op?$select=id", token: w, status: http.StatusBadRequest, request: unchecked})

	// 401
	e.do(t, req{method: http.MethodGet, target: b, status: http.StatusUnauthorized, request: invalid})
	e.do(t, req{method: http.MethodGet, target: ops, token: "not-a-jwt", status: http.StatusUnauthorized})
	e.do(t, req{method: http.MethodGet, target: ops, header: map[string]string{"Authorization": "Basic dTpw"},
		status: http.StatusUnauthorized, request: invalid})

	// 403: a read-only token writes.
	e.do(t, req{method: http.MethodPost, target: ops, token: r, status: http.StatusForbidden, body: map[string]any{}})
	e.do(t, req{method: http.MethodDelete, target: item, token: r, status: http.StatusForbidden})
	e.do(t, req{method: http.MethodGet, target: b, token: token(t, tenant), status: http.StatusForbidden})

	// 404
	e.do(t, req{method: http.MethodGet, target: b + "/missing1", token: r, status: http.StatusNotFound})
	e.do(t, req{method: http.MethodPost, target: b + "/missing1/operations", token: w, status: http.StatusNotFound, body: map[string]any{}})
	e.do(t, req{method: http.MethodGet, target: b + "/missing1/operations/$count", token: r, status: http.StatusNotFound})
	e.do(t, req{method: http.MethodPatch, target: ops + "/nope", token: w, status: http.StatusNotFound, body: map[string]any{"status": "failed"}})
	e.do(t, req{method: http.MethodPatch, target: b + "/missing1", token: w, status: http.StatusNotFound, body: map[string]any{"name": "N"}})
	e.do(t, req{method: http.MethodDelete, target: b + "/missing1", token: w, status: http.StatusNotFound})
	e.do(t, req{method: http.MethodGet, target: item + "/schema", token: r, status: http.StatusNotFound})

	// 405
	e.do(t, req{method: http.MethodPut, target: item, token: w, status: http.StatusMethodNotAllowed, body: map[string]any{"name": "N"}, request: unchecked})
	e.do(t, req{method: http.MethodDelete, target: b, token: w, status: http.StatusMethodNotAllowed, request: unchecked})

	// 406
	e.do(t, req{method: http.MethodGet, target: item, token: r, header: map[string]string{"Accept": "text/html"}, status: http.StatusNotAcceptable})
	e.do(t, req{method: http.MethodGet, target: ops, token: r, header: map[string]string{"Accept": "application/xml"}, status: http.StatusNotAcceptable})
	e.do(t, req{method: http.MethodGet, target: ops + "/op", token: r, header: map[string]string{"Accept": "text/plain"}, status: http.StatusNotAcceptable})
	e.do(t, req{method: http.MethodGet, target: ops + "/$count", token: r, header: map[string]string{"Accept": "application/json"}, status: http.StatusNotAcceptable})
	e.do(t, req{method: http.MethodPost, target: b, token: w, header: map[string]string{"Accept": "text/html"}, status: http.StatusNotAcceptable,
		body: map[string]any{"id": "acc" + cid, "name": "N"}})
	e.do(t, req{method: http.MethodPost, target: ops, token: w, header: map[string]string{"Accept": "text/html"}, status: http.StatusNotAcceptable,
		body: map[string]any{}})
	for _, target := range []string{item, ops + "/op"} {
		e.do(t, req{method: http.MethodPatch, target: target, token: w, status: http.StatusNotAcceptable,
			header: map[string]string{"Accept": "text/html", "Prefer": "return=representation"}, body: map[string]any{}})
	}

	// 413 and 415
	huge := strings.Repeat("a", httpapi.DefaultMaxBodyBytes+1)
	e.do(t, req{method: http.MethodPost, target: b, token: w, status: http.StatusRequestEntityTooLarge, request: invalid,
		body: map[string]any{"id": "big" + cid, "name": "N", "description": huge}})
	e.do(t, req{method: http.MethodPatch, target: item, token: w, status: http.StatusRequestEntityTooLarge, request: invalid,
		body: map[string]any{"description": huge}})
	e.do(t, req{method: http.MethodPost, target: ops, token: w, status: http.StatusRequestEntityTooLarge, request: invalid,
		body: map[string]any{"error": map[string]any{"message": huge}}})
	e.do(t, req{method: http.MethodPatch, target: ops + "/op", token: w, status: http.StatusRequestEntityTooLarge, request: invalid,
		body: map[string]any{"error": map[string]any{"message": huge}}})
	for _, target := range []string{b, ops} {
		e.do(t, req{method: http.MethodPost, target: target, token: w, status: http.StatusUnsupportedMediaType, request: invalid,
			header: map[string]string{"Content-Type": "text/plain"}, body: `{}`})
	}
	for _, target := range []string{item, ops + "/op"} {
		e.do(t, req{method: http.MethodPatch, target: target, token: w, status: http.StatusUnsupportedMediaType, request: invalid,
			header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, body: `name=x`})
	}
}

// batchItem is one request of a batch and what the document should make of
// it once it is unpacked.
type batchItem struct {
	item    map[string]any
	request want
}

// batchScenario sends batches to the version root, then validates each inner
// request and response as if it had been sent alone.
func (e *env) batchScenario(t *testing.T, version, tenant string) {
	w := writer(t, tenant)
	set := "/external/connections"
	if version == "beta" {
		set = "/connections" // the legacy mount, through the batch
	}
	cid := "batch" + strings.ReplaceAll(version, ".", "")
	jsonHeaders := map[string]any{"Content-Type": "application/json"}
	items := []batchItem{
		{item: map[string]any{"id": "1", "method": "POST", "url": set, "headers": jsonHeaders, "body": map[string]any{"id": cid, "name": "Batch"}}},
		{item: map[string]any{"id": "2", "method": "post", "url": strings.TrimPrefix(set, "/") + "/" + cid + "/operations", "dependsOn": []string{"1"},
			"headers": jsonHeaders, "body": map[string]any{"id": "bop", "status": "inprogress"}}},
		{item: map[string]any{"id": "3", "method": "GET", "url": set + "/" + cid + "/operations/bop?$select=status", "dependsOn": []string{"2"}}},
		{item: map[string]any{"id": "4", "method": "PATCH", "url": set + "/" + cid + "/operations/bop", "dependsOn": []string{"3"},
			"headers": map[string]any{"Content-Type": "application/json", "Prefer": "return=representation"},
			"body":    base64.StdEncoding.EncodeToString([]byte(`{"status":"completed"}`))}},
		{item: map[string]any{"id": "5", "method": "GET", "url": set + "/" + cid + "/operations/$count", "dependsOn": []string{"4"}}},
		{item: map[string]any{"id": "6", "method": "GET", "url": set + "/missing1/operations"}},
		{item: map[string]any{"id": "7", "method": "GET", "url": set + "/" + cid, "dependsOn": []string{"6"}}},
		{item: map[string]any{"id": "8", "method": "GET", "url": set + "?$top=1&$count=true", "dependsOn": []string{"2"}}},
		{item: map[string]any{"id": "9", "method": "DELETE", "url": set + "/" + cid + "/operations/bop", "dependsOn": []string{"5", "8"}}},
		{item: map[string]any{"id": "10", "method": "PUT", "url": set + "/" + cid, "headers": jsonHeaders, "body": map[string]any{}}, request: unchecked},
		{item: map[string]any{"id": "11", "method": "GET", "url": "/nowhere"}, request: unchecked},
	}
	var body []any
	for _, it := range items {
		body = append(body, it.item)
	}
	got := e.do(t, req{method: http.MethodPost, target: "/" + version + "/$batch", token: w, status: http.StatusOK,
		header: map[string]string{"client-request-id": "batch-client-id"}, body: map[string]any{"requests": body}})
	var out struct {
		Responses []struct {
			ID      string            `json:"id"`
			Status  int               `json:"status"`
			Headers map[string]string `json:"headers"`
			Body    json.RawMessage   `json:"body"`
		} `json:"responses"`
	}
	if err := json.Unmarshal(got.body, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Responses) != len(items) {
		t.Fatalf("%d responses for %d requests", len(out.Responses), len(items))
	}
	wantStatus := map[string]int{"1": 201, "2": 201, "3": 200, "4": 200, "5": 200, "6": 404, "7": 424, "8": 200, "9": 204, "10": 405, "11": 404}
	for _, r := range out.Responses {
		if r.Status != wantStatus[r.ID] {
			t.Errorf("batch item %s: status %d, want %d: %s", r.ID, r.Status, wantStatus[r.ID], r.Body)
		}
		i := slices.IndexFunc(items, func(it batchItem) bool { return it.item["id"] == r.ID })
		e.validateBatchItem(t, version, w, items[i], r.Status, r.Headers, r.Body)
	}

	// A malformed batch is one 400; so is one the document forbids.
	e.do(t, req{method: http.MethodPost, target: "/" + version + "/$batch", token: w, status: http.StatusBadRequest,
		body: map[string]any{"requests": []any{
			map[string]any{"id": "a", "method": "GET", "url": set},
			map[string]any{"id": "A", "method": "GET", "url": set},
		}}})
	var many []any
	for i := range httpapi.MaxBatchRequests + 1 {
		many = append(many, map[string]any{"id": strconv.Itoa(i), "method": "GET", "url": set})
	}
	e.do(t, req{method: http.MethodPost, target: "/" + version + "/$batch", token: w, status: http.StatusBadRequest, request: invalid,
		body: map[string]any{"requests": many}})
	e.do(t, req{method: http.MethodPost, target: "/" + version + "/$batch", token: w, status: http.StatusBadRequest, request: invalid,
		body: map[string]any{"requests": []any{map[string]any{"id": "1", "method": "GET", "url": "https://example.com/x"}}, "extra": true}})
	e.do(t, req{method: http.MethodPost, target: "/" + version + "/$batch", status: http.StatusUnauthorized, request: invalid,
		body: map[string]any{"requests": []any{}}})
	e.do(t, req{method: http.MethodPost, target: "/" + version + "/$batch", token: w, status: http.StatusUnsupportedMediaType, request: invalid,
		header: map[string]string{"Content-Type": "text/plain"}, body: `{"requests": []}`})
	e.do(t, req{method: http.MethodPost, target: "/" + version + "/$batch", token: w, status: http.StatusNotAcceptable,
		header: map[string]string{"Accept": "text/html"}, body: map[string]any{"requests": []any{map[string]any{"id": "1", "method": "GET", "url": set}}}})
	e.do(t, req{method: http.MethodPost, target: "/" + version + "/$batch", token: w, status: http.StatusRequestEntityTooLarge, request: unchecked,
		body: `{"requests": [{"id": "1", "method": "GET", "url": "` + strings.Repeat("x", 4*httpapi.DefaultMaxBodyBytes) + `"}]}`})
	e.do(t, req{method: http.MethodGet, target: "/" + version + "/$batch", token: w, status: http.StatusMethodNotAllowed, request: unchecked})
}

// validateBatchItem rebuilds one inner exchange of a batch as the service ran
// it and validates it like any other.
func (e *env) validateBatchItem(t *testing.T, version, tok string, it batchItem, status int, headers map[string]string, raw json.RawMessage) {
	t.Helper()
	id := it.item["id"].(string)
	var body []byte
	switch b := it.item["body"].(type) {
	case nil:
	case string:
		var err error
		if body, err = base64.StdEncoding.DecodeString(b); err != nil {
			t.Fatal(err)
		}
	default:
		body = encodeBody(t, b)
	}
	method := strings.ToUpper(it.item["method"].(string))
	target := e.url + "/" + version + "/" + strings.TrimPrefix(it.item["url"].(string), "/")
	hr, err := http.NewRequestWithContext(t.Context(), method, target, strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	if h, ok := it.item["headers"].(map[string]any); ok {
		for k, v := range h {
			hr.Header.Set(k, v.(string))
		}
	}
	hr.Header.Set("Authorization", "Bearer "+tok)
	got := resp{status: status, header: http.Header{}}
	for k, v := range headers {
		got.header.Set(k, v)
	}
	if len(raw) > 0 {
		got.body = raw
		if !strings.HasPrefix(got.header.Get("Content-Type"), "application/json") {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				t.Fatalf("batch item %s: a non-JSON body must come as a JSON string: %s", id, raw)
			}
			got.body = []byte(s)
		}
	}
	if status == http.StatusFailedDependency {
		e.validateComponent(t, "batch item "+id, "failedDependency", status, got)
		return
	}
	e.validate(t, hr, it.request, got)
}

// faultyService fails the way a lost database or a bug does.
type faultyService struct{ *connections.Service }

func (faultyService) GetConnection(context.Context, connections.Caller, string, []string) (connections.Connection, error) {
	return connections.Connection{}, fmt.Errorf("get connection: %w", connections.ErrUnavailable)
}

func (faultyService) ListConnections(context.Context, connections.Caller, connections.ListQuery) (connections.Page[connections.Connection], error) {
	panic("a bug")
}

type notReady struct{}

func (notReady) Ready() error {
	return fmt.Errorf("database: %w", connections.ErrUnavailable)
}

// faults checks the 500 and 503 answers.
func faults(t *testing.T) {
	e := newEnv(t, envOptions{faulty: true, vars: map[string]string{"MAX_CONNECTIONS_PER_TENANT": "1"}})
	r, w := reader(t, "faults"), writer(t, "faults")
	e.do(t, req{method: http.MethodPost, target: "/v1.0/external/connections", token: w, status: http.StatusCreated,
		body: map[string]any{"id": "quota1", "name": "First"}})
	e.do(t, req{method: http.MethodPost, target: "/v1.0/external/connections", token: w, status: http.StatusConflict,
		body: map[string]any{"id": "quota2", "name": "One too many"}})
	e.do(t, req{method: http.MethodGet, target: "/readyz", status: http.StatusServiceUnavailable})
	e.do(t, req{method: http.MethodGet, target: "/healthz", status: http.StatusOK})
	for _, m := range mounts {
		e.do(t, req{method: http.MethodGet, target: m.base + "/anyconn", token: r, status: http.StatusServiceUnavailable})
		e.do(t, req{method: http.MethodGet, target: m.base, token: r, status: http.StatusInternalServerError})
	}
}

// throttling checks the 429 answer, on the API and on $batch.
func throttling(t *testing.T) {
	e := newEnv(t, envOptions{vars: map[string]string{"RATE_LIMIT_RPS": "0.01", "RATE_LIMIT_BURST": "1"}})
	for _, m := range mounts {
		r := reader(t, "throttled-"+m.name)
		e.do(t, req{method: http.MethodGet, target: m.base, token: r, status: http.StatusOK})
		e.do(t, req{method: http.MethodGet, target: m.base, token: r, status: http.StatusTooManyRequests})
	}
	for _, v := range []string{"v1.0", "beta"} {
		r := reader(t, "throttled-batch-"+v)
		batch := map[string]any{"requests": []any{map[string]any{"id": "1", "method": "GET", "url": "/external/connections"}}}
		e.do(t, req{method: http.MethodPost, target: "/" + v + "/$batch", token: r, status: http.StatusOK, body: batch})
		e.do(t, req{method: http.MethodPost, target: "/" + v + "/$batch", token: r, status: http.StatusTooManyRequests, body: batch})
	}
}
