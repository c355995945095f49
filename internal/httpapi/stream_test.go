package httpapi_test

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/connops/connops/internal/auth"
	"github.com/connops/connops/internal/connections"
)

func TestOperationStream(t *testing.T) {
	e := newEnv(t)
	tok := writer(t, "contoso")
	e.createConnection(tok, "streamconn")
	e.createConnection(tok, "otherconn")
	const ops = "/v1.0/external/connections/streamconn/operations"
	s := e.openStream(ops, tok, nil)
	if ct := s.res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Errorf("Content-Type = %q", ct)
	}
	start := s.first(5 * time.Second)
	if start.id == "" || start.data != "" {
		t.Fatalf("the stream opens with %+v, want an id-only block", start)
	}

	op := e.newOperation(tok, "streamconn", "op1")
	e.newOperation(tok, "otherconn", "elsewhere") // another connection: not on this stream
	e.patch(op, tok, `{"status":"failed","error":{"code":"badSchema","message":"no"}}`, nil)
	e.send(request{method: http.MethodDelete, path: op, token: tok})

	var ids []int64
	for _, want := range []struct{ event, status string }{{"created", "inprogress"}, {"updated", "failed"}, {"deleted", "failed"}} {
		ev := s.next(5 * time.Second)
		data := ev.json(t)
		if ev.event != want.event || data["status"] != want.status || data["id"] != "op1" {
			t.Fatalf("event %s %s, want %s with status %s", ev.event, ev.data, want.event, want.status)
		}
		if data["@odata.type"] != "#microsoft.graph.externalConnectors.connectionOperation" ||
			data["@odata.id"] != "external/connections/streamconn/operations/op1" || data["@odata.etag"] == nil {
			t.Errorf("event data lacks its annotations: %s", ev.data)
		}
		if _, ok := data["connectionId"]; ok {
			t.Errorf("an operation stream's data names the connection: %s", ev.data)
		}
		if at, err := time.Parse(time.RFC3339Nano, data["@connops.changedAt"].(string)); err != nil || time.Since(at) > time.Minute {
			t.Errorf("@connops.changedAt = %v", data["@connops.changedAt"])
		}
		id, err := strconv.ParseInt(ev.id, 10, 64)
		if err != nil {
			t.Fatalf("event id %q", ev.id)
		}
		ids = append(ids, id)
	}
	first, _ := strconv.ParseInt(start.id, 10, 64)
	if !(first < ids[0] && ids[0] < ids[1] && ids[1] < ids[2]) {
		t.Errorf("ids %d then %v: want increasing", first, ids)
	}
	// The connection's own changes are on its stream too; another
	// connection's are not.
	e.patch("/v1.0/external/connections/otherconn", tok, `{"name":"Renamed elsewhere"}`, nil)
	e.patch("/v1.0/external/connections/streamconn", tok, `{"name":"Renamed"}`, nil)
	ev := s.next(5 * time.Second)
	if d := ev.json(t); ev.event != "updated" || d["name"] != "Renamed" || d["@odata.type"] != "#microsoft.graph.externalConnectors.externalConnection" {
		t.Errorf("after a rename: %s %s", ev.event, ev.data)
	}
	s.quiet(300 * time.Millisecond)
}

func TestStreamResumesWithLastEventID(t *testing.T) {
	e := newEnv(t)
	tok := writer(t, "contoso")
	e.createConnection(tok, "streamconn")
	const ops = "/v1.0/external/connections/streamconn/operations"
	s := e.openStream(ops, tok, nil)
	s.first(5 * time.Second)
	for i := range 5 {
		e.newOperation(tok, "streamconn", "op"+strconv.Itoa(i))
	}
	var ids []string
	for range 5 {
		ids = append(ids, s.next(5*time.Second).id)
	}
	s.close()

	// More changes while the client is away; it resumes after the second.
	for i := 5; i < 8; i++ {
		e.newOperation(tok, "streamconn", "op"+strconv.Itoa(i))
	}
	again := e.openStream(ops, tok, map[string]string{"Last-Event-ID": ids[1]})
	if got := again.first(5 * time.Second); got.id != ids[1] {
		t.Errorf("the resumed stream opens at %q, want %s", got.id, ids[1])
	}
	for i := 2; i < 8; i++ {
		ev := again.next(5 * time.Second)
		if got := ev.json(t)["id"]; got != "op"+strconv.Itoa(i) {
			t.Fatalf("resumed event %d is %v, want op%d: a gap or a repeat", i, got, i)
		}
	}
	again.quiet(300 * time.Millisecond)
}

func TestConnectionsStream(t *testing.T) {
	e := newEnv(t)
	tok := writer(t, "contoso")
	owner := token(t, "contoso", "app-owner", connections.PermReadWriteOwnedBy)
	s := e.openStream("/v1.0/external/connections", tok, nil)
	owned := e.openStream("/v1.0/external/connections", owner, nil)
	other := e.openStream("/v1.0/external/connections", writer(t, "fabrikam"), nil)
	for _, st := range []*sseStream{s, owned, other} {
		st.first(5 * time.Second)
	}

	e.createConnection(tok, "everyone") // created by app-contoso: not the owner's
	e.newOperation(tok, "everyone", "op1")
	if r := e.post("/v1.0/external/connections", owner, `{"id":"ownersconn","name":"Owner's"}`); r.status != http.StatusCreated {
		t.Fatalf("owner create: %d %s", r.status, r.body)
	}

	ev := s.next(5 * time.Second)
	if d := ev.json(t); ev.event != "created" || d["id"] != "everyone" || d["@odata.type"] != "#microsoft.graph.externalConnectors.externalConnection" ||
		d["@odata.id"] != "external/connections/everyone" || d["state"] != "draft" {
		t.Fatalf("first event %s %s", ev.event, ev.data)
	}
	ev = s.next(5 * time.Second)
	if d := ev.json(t); ev.event != "created" || d["id"] != "op1" || d["connectionId"] != "everyone" {
		t.Fatalf("second event %s %s: want the operation with its connectionId", ev.event, ev.data)
	}
	if d := s.next(5 * time.Second).json(t); d["id"] != "ownersconn" {
		t.Fatalf("third event %v", d)
	}
	// The OwnedBy app sees only its own connection; the other tenant nothing.
	if d := owned.next(5 * time.Second).json(t); d["id"] != "ownersconn" {
		t.Fatalf("the owner's stream shows %v first, want only its own connection", d)
	}
	owned.quiet(300 * time.Millisecond)
	other.quiet(300 * time.Millisecond)
}

func TestOperationStreamEndsWhenTheConnectionGoes(t *testing.T) {
	e := newEnv(t)
	tok := writer(t, "contoso")
	e.createConnection(tok, "streamconn")
	s := e.openStream("/v1.0/external/connections/streamconn/operations", tok, nil)
	s.first(5 * time.Second)
	e.newOperation(tok, "streamconn", "op1")
	e.send(request{method: http.MethodDelete, path: "/v1.0/external/connections/streamconn", token: tok})
	if ev := s.next(5 * time.Second); ev.event != "created" {
		t.Fatalf("first event %+v", ev)
	}
	ev := s.next(5 * time.Second)
	if d := ev.json(t); ev.event != "deleted" || d["id"] != "streamconn" || !strings.HasSuffix(d["@odata.type"].(string), "externalConnection") {
		t.Fatalf("want the connection's deletion, got %s %s", ev.event, ev.data)
	}
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the stream stayed open after its connection was deleted")
	}
}

func TestStreamHeartbeat(t *testing.T) {
	e := newAppEnv(t, map[string]string{"STREAM_HEARTBEAT": "200ms"}, nil)
	tok := writer(t, "contoso")
	s := e.openStream("/v1.0/external/connections", tok, nil)
	deadline := time.After(3 * time.Second)
	for {
		select {
		case ev := <-s.events:
			if ev.comment == "keep-alive" {
				return
			}
		case <-deadline:
			t.Fatal("no keep-alive comment on an idle stream")
		}
	}
}

func TestStreamEndsWhenTheTokenExpires(t *testing.T) {
	e := newEnv(t)
	short, err := auth.Issue([]byte(testSecret), auth.DevToken{TenantID: "contoso", AppID: "app-contoso",
		Roles: []string{connections.PermReadAll}, TTL: 2 * time.Second}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s := e.openStream("/v1.0/external/connections", short, nil)
	start := time.Now()
	select {
	case <-s.done:
	case <-time.After(6 * time.Second):
		t.Fatal("the stream outlived its token")
	}
	if took := time.Since(start); took > 4*time.Second {
		t.Errorf("the stream ended %s after opening, its token expired after 2s", took)
	}
}

func TestStreamRefusals(t *testing.T) {
	e := newEnv(t)
	tok := writer(t, "contoso")
	e.createConnection(tok, "streamconn")
	latest := e.count(`SELECT coalesce(max(id), 0) FROM changes WHERE tenant_id = 'contoso'`)
	const ops = "/v1.0/external/connections/streamconn/operations"
	for _, c := range []struct {
		name, path, tok string
		header          map[string]string
		status          int
		code            string
	}{
		{"no token", ops, "", nil, http.StatusUnauthorized, "InvalidAuthenticationToken"},
		{"no permission", ops, token(t, "contoso", "x", connections.PermItemReadAll), nil, http.StatusForbidden, "accessDenied"},
		{"other tenant's connection", ops, writer(t, "fabrikam"), nil, http.StatusNotFound, "itemNotFound"},
		{"unknown connection", "/v1.0/external/connections/nosuch/operations", tok, nil, http.StatusNotFound, "itemNotFound"},
		{"query option", ops + "?$top=2", tok, nil, http.StatusBadRequest, "invalidRequest"},
		{"garbage Last-Event-ID", ops, tok, map[string]string{"Last-Event-ID": "abc"}, http.StatusBadRequest, "invalidRequest"},
		{"Last-Event-ID from the future", ops, tok, map[string]string{"Last-Event-ID": strconv.Itoa(latest + 1000)}, http.StatusBadRequest, "invalidRequest"},
	} {
		_, res := e.tryStream(c.path, c.tok, c.header)
		b, _ := io.ReadAll(res.Body)
		wantError(t, response{status: res.StatusCode, header: res.Header, body: b}, c.status, c.code)
	}
	// A stream on a single operation is not offered.
	e.newOperation(tok, "streamconn", "op1")
	_, res := e.tryStream(ops+"/op1", tok, nil)
	if res.StatusCode != http.StatusNotAcceptable {
		t.Errorf("event stream on one operation: %d, want 406", res.StatusCode)
	}
}

func TestStreamResumeBelowRetentionIsGone(t *testing.T) {
	e := newEnv(t)
	tok := writer(t, "contoso")
	e.createConnection(tok, "streamconn")
	for i := range 3 {
		e.newOperation(tok, "streamconn", "op"+strconv.Itoa(i))
	}
	first := e.count(`SELECT min(id) FROM changes WHERE tenant_id = 'contoso'`)
	// As retention would: the oldest changes go and the horizon moves.
	if _, err := e.pool.Exec(context.Background(), `WITH gone AS (DELETE FROM changes WHERE id <= $1 + 1 RETURNING id, tenant_id)
INSERT INTO change_log_horizon (tenant_id, purged_through) SELECT tenant_id, max(id) FROM gone GROUP BY tenant_id
ON CONFLICT (tenant_id) DO UPDATE SET purged_through = EXCLUDED.purged_through`, first); err != nil {
		t.Fatal(err)
	}
	_, res := e.tryStream("/v1.0/external/connections/streamconn/operations", tok, map[string]string{"Last-Event-ID": strconv.Itoa(first)})
	b, _ := io.ReadAll(res.Body)
	wantError(t, response{status: res.StatusCode, header: res.Header, body: b}, http.StatusGone, "syncStateNotFound")

	// From the horizon on, nothing is missing: it resumes.
	s := e.openStream("/v1.0/external/connections/streamconn/operations", tok, map[string]string{"Last-Event-ID": strconv.Itoa(first + 1)})
	if d := s.next(5 * time.Second).json(t); d["id"] != "op1" {
		t.Errorf("resumed at the horizon with %v, want op1 (op0 was purged)", d)
	}
}

// TestChangesAreLoggedWithTheirWrite: a refused write logs nothing, an
// accepted one exactly its change.
func TestChangesAreLoggedWithTheirWrite(t *testing.T) {
	e := newEnv(t)
	tok := writer(t, "contoso")
	e.createConnection(tok, "logconn")
	op := e.newOperation(tok, "logconn", "op1")
	e.patch(op, tok, `{"status":"completed"}`, nil)
	before := e.count(`SELECT count(*) FROM changes`)
	for _, r := range []response{
		e.patch(op, tok, `{"status":"inprogress"}`, nil),                                   // 409: final
		e.post("/v1.0/external/connections/logconn/operations", tok, `{"id":"op1"}`),       // 409: exists
		e.patch(op, tok, `{"status":"bogus"}`, nil),                                        // 400
		e.send(request{method: http.MethodDelete, path: op, token: writer(t, "fabrikam")}), // 404
	} {
		if r.status < 400 {
			t.Fatalf("a refusal answered %d", r.status)
		}
	}
	if after := e.count(`SELECT count(*) FROM changes`); after != before {
		t.Errorf("refused writes logged %d changes", after-before)
	}
	want := map[string]int{"connection created": 1, "operation created": 1, "operation updated": 1}
	rows, err := e.pool.Query(context.Background(), `SELECT resource || ' ' || change_type, count(*) FROM changes GROUP BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			t.Fatal(err)
		}
		if want[k] != n {
			t.Errorf("%d %s changes, want %d", n, k, want[k])
		}
		delete(want, k)
	}
	if len(want) > 0 {
		t.Errorf("no changes logged for %v", want)
	}
}
