package openapi_test

import (
	"maps"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/connops/connops/internal/connections"
	"github.com/connops/connops/internal/postgres"
)

// changesScenario drives, on one mount, what connops serves beside Graph's
// own surface: a connection's statistics, the annotations on its schema,
// Prefer: wait and If-None-Match on an operation, and the event streams of
// the connections collection and of a connection's operations, each with
// good requests and bad ones. The steps run in turn on a tenant of their
// own, so the streams see exactly the changes the scenario makes.
func (e *env) changesScenario(t *testing.T, m mount, tenant string) {
	cid := "chg" + strings.ReplaceAll(tenant, "-", "")
	e.do(t, req{method: http.MethodPost, target: m.base, token: writer(t, tenant), status: http.StatusCreated,
		body: map[string]any{"id": cid, "name": "Changes"}})
	e.statisticsScenario(t, m, tenant, cid)
	e.waitScenario(t, m, tenant, cid)
	e.streamScenario(t, m, tenant, cid)
}

// statisticsScenario reads a connection's statistics before and after
// operations, a schema registration and an item write; on the way it
// checks the schema's @connops annotations while the registration runs and
// after it completed.
func (e *env) statisticsScenario(t *testing.T, m mount, tenant, cid string) {
	w, r := writer(t, tenant), reader(t, tenant)
	b := m.base
	stats, ops, schema := b+"/"+cid+"/statistics", b+"/"+cid+"/operations", b+"/"+cid+"/schema"
	get := func(target string, status int) resp {
		t.Helper()
		return e.do(t, req{method: http.MethodGet, target: target, token: r, status: status})
	}

	quiet := get(stats, http.StatusOK).object(t)
	wantStatistics(t, quiet, map[string]int{"operationsStarted": 0, "operationsCompleted": 0, "operationsFailed": 0, "itemsWritten": 0}, 0)

	e.do(t, req{method: http.MethodPost, target: ops, token: w, status: http.StatusCreated, body: map[string]any{"id": "done", "status": "completed"}})
	e.do(t, req{method: http.MethodPost, target: ops, token: w, status: http.StatusCreated, body: map[string]any{"id": "broken", "status": "failed"}})
	// A registration is an operation too; its duration counts once it ends.
	accepted := e.do(t, req{method: http.MethodPatch, target: schema, token: w, status: http.StatusAccepted, body: itemsSchema()})
	loc := e.operationLocation(t, accepted, b+"/"+cid+"/operations/")
	pending := get(schema, http.StatusOK).object(t)
	if pending["@connops.state"] != "pending" || pending["@connops.operationId"] != path.Base(loc) {
		t.Errorf("schema while its registration %s runs: @connops.state %v, @connops.operationId %v",
			path.Base(loc), pending["@connops.state"], pending["@connops.operationId"])
	}
	e.do(t, req{method: http.MethodPatch, target: loc, token: token(t, tenant, connections.PermOperationsControl), status: http.StatusNoContent,
		body: map[string]any{"status": "completed"}})
	active := get(schema, http.StatusOK).object(t)
	if active["@connops.state"] != "active" || active["@connops.operationId"] != path.Base(loc) {
		t.Errorf("schema after its registration completed: @connops.state %v, @connops.operationId %v", active["@connops.state"], active["@connops.operationId"])
	}
	// The document pins the annotations: another state, or a schema
	// without its operation, is not one connops may answer.
	for name, change := range map[string]func(map[string]any){
		"unknown state":   func(s map[string]any) { s["@connops.state"] = "registering" },
		"no operation id": func(s map[string]any) { delete(s, "@connops.operationId") },
	} {
		bad := maps.Clone(active)
		change(bad)
		if err := e.doc.Components.Schemas["schema"].Value.VisitJSON(bad); err == nil {
			t.Errorf("components.schemas.schema accepts a schema with %s", name)
		}
	}
	e.do(t, req{method: http.MethodPut, target: b + "/" + cid + "/items/counted", token: itemWriter(t, tenant), status: http.StatusOK, body: pnpItem("counted")})

	busy := get(stats, http.StatusOK).object(t)
	wantStatistics(t, busy, map[string]int{"operationsStarted": 3, "operationsCompleted": 2, "operationsFailed": 1, "itemsWritten": 1}, 1)

	// The extension takes no query options and no event stream; it is a
	// connection read, scoped like every other.
	for _, option := range []string{"$top=1", "$select=itemsWritten"} {
		e.do(t, req{method: http.MethodGet, target: stats + "?" + option, token: r, status: http.StatusBadRequest, request: unchecked})
	}
	get(b+"/missing1/statistics", http.StatusNotFound)
	e.do(t, req{method: http.MethodGet, target: stats, token: reader(t, "other"+tenant), status: http.StatusNotFound})
	e.do(t, req{method: http.MethodGet, target: stats, token: token(t, tenant, connections.PermItemReadAll), status: http.StatusForbidden})
	e.do(t, req{method: http.MethodGet, target: stats, status: http.StatusUnauthorized, request: invalid})
	for _, accept := range []string{"text/html", "text/event-stream"} {
		e.do(t, req{method: http.MethodGet, target: stats, token: r, header: map[string]string{"Accept": accept}, status: http.StatusNotAcceptable})
	}
	e.do(t, req{method: http.MethodPost, target: stats, token: w, status: http.StatusMethodNotAllowed, body: map[string]any{}, request: unchecked})
}

// wantStatistics checks the per-minute series add up to sums and the
// number of registration durations.
func wantStatistics(t *testing.T, body map[string]any, sums map[string]int, durations int) {
	t.Helper()
	start, err := time.Parse(time.RFC3339, body["windowStart"].(string))
	if minutes := body["minuteCount"]; err != nil || minutes != 60.0 || time.Since(start) > 61*time.Minute {
		t.Errorf("windowStart %v, minuteCount %v: want the last 60 minutes", body["windowStart"], minutes)
	}
	for name, want := range sums {
		values := body[name].([]any)
		got := 0
		for _, v := range values {
			got += int(v.(float64))
		}
		if len(values) != 60 || got != want {
			t.Errorf("%s: %d minutes adding up to %d, want 60 adding up to %d", name, len(values), got, want)
		}
	}
	if got := body["provisioningSeconds"].([]any); len(got) != durations {
		t.Errorf("provisioningSeconds %v, want %d durations", got, durations)
	}
}

// waitScenario reads an operation with If-None-Match and Prefer: wait. The
// suite caps waits at WAIT_MAX=1s, so a wait that runs out costs a second.
func (e *env) waitScenario(t *testing.T, m mount, tenant, cid string) {
	w, r := writer(t, tenant), reader(t, tenant)
	ops := m.base + "/" + cid + "/operations"
	op := ops + "/waiting"
	get := func(target string, status int, header map[string]string) resp {
		t.Helper()
		return e.do(t, req{method: http.MethodGet, target: target, token: r, status: status, header: header})
	}
	tag := e.do(t, req{method: http.MethodPost, target: ops, token: w, status: http.StatusCreated,
		body: map[string]any{"id": "waiting", "status": "inprogress"}}).header.Get("ETag")

	// Without a wait, If-None-Match is a conditional GET.
	for _, held := range []string{tag, "*", `W/"12345678", ` + tag} {
		got := get(op, http.StatusNotModified, map[string]string{"If-None-Match": held})
		if len(got.body) != 0 || got.header.Get("ETag") != tag {
			t.Errorf("If-None-Match %s: 304 with body %q and ETag %q, want none and %s", held, got.body, got.header.Get("ETag"), tag)
		}
	}
	for _, stale := range []string{`W/"12345678"`, "not-an-etag"} {
		get(op, http.StatusOK, map[string]string{"If-None-Match": stale})
	}

	// Nothing changes: after the wait (capped from 30 s to WAIT_MAX), 304.
	held := get(op, http.StatusNotModified, map[string]string{"Prefer": "wait=30", "If-None-Match": tag})
	if pa := held.header.Get("Preference-Applied"); pa != "wait=1" {
		t.Errorf("Preference-Applied %q, want wait=1: WAIT_MAX caps the wait", pa)
	}
	// A change the caller has not seen answers at once, 200 with it.
	changed := e.do(t, req{method: http.MethodPatch, target: op, token: w, status: http.StatusNoContent, body: map[string]any{"status": "completed"}})
	fresh := get(op, http.StatusOK, map[string]string{"Prefer": "wait=30", "If-None-Match": tag})
	if o := fresh.object(t); o["status"] != "completed" || fresh.header.Get("ETag") != changed.header.Get("ETag") ||
		fresh.header.Get("Preference-Applied") != "wait=1" {
		t.Errorf("wait after a change: %v, ETag %q, Preference-Applied %q", o, fresh.header.Get("ETag"), fresh.header.Get("Preference-Applied"))
	}
	// A final operation never changes: the wait ends at once, 304 when
	// the caller holds it.
	get(op, http.StatusNotModified, map[string]string{"Prefer": "wait=30", "If-None-Match": changed.header.Get("ETag")})
	get(op+"?$select=status", http.StatusOK, map[string]string{"Prefer": "wait=5"})
	// A wait that is no positive integer is ignored, as RFC 7240 asks.
	for _, prefer := range []string{"wait=soon", "wait=-1", "wait=0"} {
		if pa := get(op, http.StatusOK, map[string]string{"Prefer": prefer}).header.Get("Preference-Applied"); strings.Contains(pa, "wait") {
			t.Errorf("Prefer: %s: Preference-Applied %q", prefer, pa)
		}
	}

	wait := map[string]string{"Prefer": "wait=30"}
	get(ops+"/nosuch", http.StatusNotFound, wait)
	e.do(t, req{method: http.MethodGet, target: op, token: reader(t, "other"+tenant), status: http.StatusNotFound, header: wait})
	e.do(t, req{method: http.MethodGet, target: op, token: token(t, tenant, connections.PermItemReadAll), status: http.StatusForbidden, header: wait})
	e.do(t, req{method: http.MethodGet, target: op, status: http.StatusUnauthorized, header: wait, request: invalid})
	e.do(t, req{method: http.MethodGet, target: op + "?$select=name", token: r, status: http.StatusBadRequest, header: wait, request: invalid})
}

// event is one block of an event stream.
type event struct {
	retry, id, event, data, comment string
}

// parseEvents splits an event stream into its blocks.
func parseEvents(t *testing.T, body []byte) []event {
	t.Helper()
	var events []event
	for _, block := range strings.SplitAfter(string(body), "\n\n") {
		if block == "" {
			continue
		}
		if !strings.HasSuffix(block, "\n\n") {
			t.Fatalf("event stream block %q is not ended by an empty line", block)
		}
		var ev event
		for _, line := range strings.Split(strings.TrimSuffix(block, "\n\n"), "\n") {
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "":
				ev.comment = value
			case "retry":
				ev.retry = value
			case "id":
				ev.id = value
			case "event":
				ev.event = value
			case "data":
				ev.data += value
			default:
				t.Errorf("event stream line %q", line)
			}
		}
		events = append(events, ev)
	}
	return events
}

// stream opens target as an event stream and returns its first blocks.
func (e *env) stream(t *testing.T, target, tok, lastEventID string, blocks int) []event {
	t.Helper()
	h := map[string]string{"Accept": "text/event-stream"}
	if lastEventID != "" {
		h["Last-Event-ID"] = lastEventID
	}
	got := e.do(t, req{method: http.MethodGet, target: target, token: tok, header: h, status: http.StatusOK, blocks: blocks})
	if ct := got.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Errorf("%s: Content-Type %q", target, ct)
	}
	events := parseEvents(t, got.body)
	if len(events) != blocks || events[0].id == "" || events[0].data != "" {
		t.Fatalf("%s: %d blocks %+v, want %d opening with an id-only block", target, len(events), events, blocks)
	}
	return events
}

// streamScenario opens both streams, makes changes, resumes both with
// Last-Event-ID and reads the changes back; then the refusals.
func (e *env) streamScenario(t *testing.T, m mount, tenant, cid string) {
	w, r := writer(t, tenant), reader(t, tenant)
	b := m.base
	ops := b + "/" + cid + "/operations"

	start := e.stream(t, ops, r, "", 1)[0].id
	if got := e.stream(t, b, r, "", 1)[0].id; got != start {
		t.Errorf("the connections stream opens at %s, the operations stream at %s: want the tenant's newest change", got, start)
	}
	e.do(t, req{method: http.MethodPost, target: ops, token: w, status: http.StatusCreated, body: map[string]any{"id": "streamed", "status": "inprogress"}})
	e.do(t, req{method: http.MethodPatch, target: ops + "/streamed", token: w, status: http.StatusNoContent,
		body: map[string]any{"status": "failed", "error": m.opError("crawlFailed")}})
	e.do(t, req{method: http.MethodDelete, target: ops + "/streamed", token: w, status: http.StatusNoContent})
	e.do(t, req{method: http.MethodPatch, target: b + "/" + cid, token: w, status: http.StatusNoContent, body: map[string]any{"name": "Renamed"}})

	opType, connType := "#microsoft.graph.externalConnectors.connectionOperation", "#microsoft.graph.externalConnectors.externalConnection"
	if m.legacy {
		opType, connType = "#microsoft.graph.connectionOperation", "#microsoft.graph.externalConnection"
	}
	opID, connID := m.set+"/"+cid+"/operations/streamed", m.set+"/"+cid
	want := []struct{ event, typ, odataID, id, field, value string }{
		{"created", opType, opID, "streamed", "status", "inprogress"},
		{"updated", opType, opID, "streamed", "status", "failed"},
		{"deleted", opType, opID, "streamed", "status", "failed"},
		{"updated", connType, connID, cid, "name", "Renamed"},
	}
	for _, s := range []struct {
		target       string
		connectionID bool
	}{{ops, false}, {b, true}} {
		// Resumed from where it opened, each stream replays the four
		// changes after the id-only block that says where it starts.
		events := e.stream(t, s.target, r, start, 1+len(want))
		if events[0].id != start || events[0].retry == "" {
			t.Errorf("%s: the resumed stream opens with %+v, want retry and id %s", s.target, events[0], start)
		}
		last, _ := strconv.ParseInt(start, 10, 64)
		for i, wt := range want {
			ev := events[1+i]
			data := e.changeData(t, m, ev)
			id, err := strconv.ParseInt(ev.id, 10, 64)
			if err != nil || id <= last || ev.event != wt.event || data["@odata.type"] != wt.typ || data["@odata.id"] != wt.odataID ||
				data["id"] != wt.id || data[wt.field] != wt.value {
				t.Errorf("%s: event %d: id %s (after %d) %s %s, want %s of %s with %s %s", s.target, i, ev.id, last, ev.event, ev.data, wt.event, wt.odataID, wt.field, wt.value)
			}
			last = id
			onOperation := wt.typ == opType
			if c, ok := data["connectionId"]; ok != (s.connectionID && onOperation) || (ok && c != cid) {
				t.Errorf("%s: event %d: connectionId %v (present %v): only a connections stream names an operation's connection", s.target, i, c, ok)
			}
		}
	}

	// q=0 refuses a stream: a page answers.
	e.do(t, req{method: http.MethodGet, target: ops, token: r, status: http.StatusOK,
		header: map[string]string{"Accept": "text/event-stream;q=0, application/json"}})

	// The refusals.
	sse := func(h map[string]string) map[string]string {
		out := map[string]string{"Accept": "text/event-stream"}
		maps.Copy(out, h)
		return out
	}
	for _, target := range []string{ops, b} {
		e.do(t, req{method: http.MethodGet, target: target, token: r, status: http.StatusBadRequest, request: invalid,
			header: sse(map[string]string{"Last-Event-ID": "abc"})})
		e.do(t, req{method: http.MethodGet, target: target, token: r, status: http.StatusBadRequest,
			header: sse(map[string]string{"Last-Event-ID": strconv.Itoa(1 << 40)})})
		e.do(t, req{method: http.MethodGet, target: target + "?$top=1", token: r, status: http.StatusBadRequest, header: sse(nil)})
		e.do(t, req{method: http.MethodGet, target: target, token: token(t, tenant, connections.PermItemReadAll), status: http.StatusForbidden, header: sse(nil)})
		e.do(t, req{method: http.MethodGet, target: target, status: http.StatusUnauthorized, header: sse(nil), request: invalid})
	}
	e.do(t, req{method: http.MethodGet, target: b + "/missing1/operations", token: r, status: http.StatusNotFound, header: sse(nil)})
	e.do(t, req{method: http.MethodGet, target: ops, token: reader(t, "other"+tenant), status: http.StatusNotFound, header: sse(nil)})
	// No stream is offered on one operation.
	e.do(t, req{method: http.MethodGet, target: ops + "/waiting", token: r, status: http.StatusNotAcceptable, header: sse(nil)})
}

// changeData checks an event's data against the document: the
// annotations against components.schemas.changeEvent, the rest against
// the entity's own schema on this mount.
func (e *env) changeData(t *testing.T, m mount, ev event) map[string]any {
	t.Helper()
	data := parseEventData(t, ev)
	if err := e.doc.Components.Schemas["changeEvent"].Value.VisitJSON(data); err != nil {
		t.Errorf("event %s: data does not match components.schemas.changeEvent: %v\n%s", ev.id, err, ev.data)
	}
	if at, err := time.Parse(time.RFC3339Nano, data["@connops.changedAt"].(string)); err != nil || time.Since(at) > time.Hour {
		t.Errorf("event %s: @connops.changedAt %v", ev.id, data["@connops.changedAt"])
	}
	name := "externalConnectionComplete"
	if strings.HasSuffix(data["@odata.type"].(string), "connectionOperation") {
		name = "connectionOperationComplete"
		if m.legacy {
			name = "legacyConnectionOperationComplete"
		}
	}
	entity := e.doc.Components.Schemas[name].Value
	rest := maps.Clone(data)
	for _, k := range []string{"@connops.changedAt", "@odata.id", "@odata.type", "connectionId"} {
		if k != "@odata.type" || !declares(entity, k) {
			delete(rest, k)
		}
	}
	if err := entity.VisitJSON(rest); err != nil {
		t.Errorf("event %s: the entity in its data does not match components.schemas.%s: %v\n%s", ev.id, name, err, ev.data)
	}
	return data
}

func parseEventData(t *testing.T, ev event) map[string]any {
	t.Helper()
	return resp{body: []byte(ev.data)}.object(t)
}

// changeRetentionScenario: once retention has removed changes, a stream
// cannot resume before them (410) but resumes from the last one removed,
// on every mount and both streams.
func changeRetentionScenario(t *testing.T) {
	e := newEnv(t, envOptions{})
	const tenant, cid = "retention", "kept"
	w, r := writer(t, tenant), reader(t, tenant)
	e.do(t, req{method: http.MethodPost, target: mounts[0].base, token: w, status: http.StatusCreated, body: map[string]any{"id": cid, "name": "Kept"}})
	e.do(t, req{method: http.MethodPost, target: mounts[0].base + "/" + cid + "/operations", token: w, status: http.StatusCreated, body: map[string]any{"id": "old"}})
	horizon := e.stream(t, mounts[0].base, r, "", 1)[0].id

	// What the retention job does once changes are older than
	// CHANGE_RETENTION, here for every change so far.
	store := postgres.NewStore(e.app.Pool(), postgres.StoreOptions{})
	defer store.Close()
	for attempt := 0; ; attempt++ {
		// skipped: the app's own retention job held the lock.
		n, skipped, err := store.PurgeChanges(t.Context(), 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if !skipped {
			if n < 2 {
				t.Fatalf("retention removed %d changes, want the connection's and the operation's", n)
			}
			break
		}
		if attempt == 50 {
			t.Fatal("the change log purge stayed locked")
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.do(t, req{method: http.MethodPost, target: mounts[0].base + "/" + cid + "/operations", token: w, status: http.StatusCreated, body: map[string]any{"id": "new"}})

	n, _ := strconv.ParseInt(horizon, 10, 64)
	before := strconv.FormatInt(n-1, 10)
	for _, m := range mounts {
		for _, target := range []string{m.base, m.base + "/" + cid + "/operations"} {
			gone := e.do(t, req{method: http.MethodGet, target: target, token: r, status: http.StatusGone,
				header: map[string]string{"Accept": "text/event-stream", "Last-Event-ID": before}}).object(t)
			if target := gone["error"].(map[string]any)["target"]; target != "Last-Event-ID" {
				t.Errorf("410 target %v, want Last-Event-ID", target)
			}
			events := e.stream(t, target, r, horizon, 2)
			if d := parseEventData(t, events[1]); events[1].event != "created" || d["id"] != "new" {
				t.Errorf("%s resumed from the horizon with %s %s, want the new operation", target, events[1].event, events[1].data)
			}
		}
	}
}

// declares reports whether an object schema, or one it is allOf, names
// property k.
func declares(s *openapi3.Schema, k string) bool {
	if _, ok := s.Properties[k]; ok {
		return true
	}
	return slices.ContainsFunc(s.AllOf, func(sub *openapi3.SchemaRef) bool { return sub.Value != nil && declares(sub.Value, k) })
}
