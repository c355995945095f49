package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/connops/connops/internal/auth"
	"github.com/connops/connops/internal/connections"
)

// The permission matrix runs every route against every kind of caller on the
// same fixture, and checks three things per cell: the status, that nothing of
// another tenant (or, for OwnedBy apps, of a connection the app may not see)
// shows anywhere in the answer, and that a refused request changed no row.
//
// The fixture, reset before every cell:
//
//	tenant contoso:  connection "owned"      created by app-owner, authorizedAppIds [app-friend], operation op1
//	                 connection "contosoall" created by app-admin, operation op1
//	tenant fabrikam: connection "fabrikamx"  created by app-fabrikam, operation fabop1
//
// Callers address contoso's "owned" connection and its op1. Existence must not
// leak: an OwnedBy app that may not see "owned", and fabrikam, get 404 exactly
// as for a connection that does not exist; only a caller holding no
// ExternalConnection permission at all gets 403.

const fixtureSQL = `
TRUNCATE work_items, schema_versions, operations, connection_counts, connections, idempotency_keys, deleted_connections, item_activities, items, group_members, external_groups;
INSERT INTO connections (tenant_id, id, name, description, created_by_app, authorized_app_ids) VALUES
  ('contoso',  'owned',      'Contoso Owned Name',   'contoso-desc-marker',  'app-owner',    '{app-friend}'),
  ('contoso',  'contosoall', 'Contoso All Name',     NULL,                   'app-admin',    '{}'),
  ('fabrikam', 'fabrikamx',  'Fabrikam Marker Name', 'fabrikam-desc-marker', 'app-fabrikam', '{app-fabfriend}');
INSERT INTO operations (tenant_id, connection_id, id, status, error) VALUES
  ('contoso',  'owned',      'op1',    'inprogress', '{"code":"contoso-op-code","message":"contoso-op-marker"}'),
  ('contoso',  'contosoall', 'op1',    'inprogress', '{"message":"contosoall-op-marker"}'),
  ('fabrikam', 'fabrikamx',  'fabop1', 'failed',     '{"code":"fabrikam-op-code","message":"fabrikam-op-marker"}');
`

// Strings only the fixture's rows contain: none is ever sent by a caller.
var (
	contosoMarkers  = []string{"Contoso Owned Name", "contoso-desc-marker", "contoso-op-code", "contoso-op-marker", "app-owner", "app-friend", "app-admin", "contosoall", "Contoso All Name", "contosoall-op-marker"}
	fabrikamMarkers = []string{"fabrikamx", "Fabrikam Marker Name", "fabrikam-desc-marker", "app-fabrikam", "app-fabfriend", "fabop1", "fabrikam-op-code", "fabrikam-op-marker"}
	// What an OwnedBy app of contoso may not see: the connection it neither
	// created nor is authorized for.
	contosoAllMarkers = []string{"contosoall", "Contoso All Name", "contosoall-op-marker"}
)

// perCaller holds one expected status for each caller of the matrix.
type perCaller struct {
	none, read, readWrite, owner, friend, stranger, delegated, unrelated, otherTenant int
}

func (p perCaller) of(name string) int {
	return map[string]int{
		"none": p.none, "read": p.read, "readWrite": p.readWrite, "owner": p.owner, "friend": p.friend,
		"stranger": p.stranger, "delegated": p.delegated, "unrelated": p.unrelated, "otherTenant": p.otherTenant,
	}[name]
}

type matrixCaller struct {
	name   string
	tenant string // "" for no token
	token  string
	// hidden must appear in no answer to this caller.
	hidden []string
}

func matrixCallers(t *testing.T) []matrixCaller {
	delegated := signed(t, jwt.SigningMethodHS256, []byte(testSecret), auth.Claims{
		RegisteredClaims: jwt.RegisteredClaims{ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))},
		TenantID:         "contoso", AuthorizedParty: "app-spa", Scope: "openid profile " + connections.PermReadWriteAll,
	})
	ownedHidden := slices.Concat(fabrikamMarkers, contosoAllMarkers)
	return []matrixCaller{
		{"none", "", "", slices.Concat(fabrikamMarkers, contosoMarkers)},
		{"read", "contoso", token(t, "contoso", "app-reader", connections.PermReadAll), fabrikamMarkers},
		{"readWrite", "contoso", token(t, "contoso", "app-writer", connections.PermReadWriteAll), fabrikamMarkers},
		{"owner", "contoso", token(t, "contoso", "app-owner", connections.PermReadWriteOwnedBy), ownedHidden},
		{"friend", "contoso", token(t, "contoso", "app-friend", connections.PermReadWriteOwnedBy), ownedHidden},
		{"stranger", "contoso", token(t, "contoso", "app-stranger", connections.PermReadWriteOwnedBy),
			slices.Concat(fabrikamMarkers, contosoMarkers)},
		{"delegated", "contoso", delegated, fabrikamMarkers},
		{"unrelated", "contoso", token(t, "contoso", "app-unrelated", "User.Read.All", "ExternalItem.ReadWrite.All"),
			slices.Concat(fabrikamMarkers, contosoMarkers)},
		{"otherTenant", "fabrikam", token(t, "fabrikam", "app-fabwriter", connections.PermReadWriteAll), contosoMarkers},
	}
}

// matrixRow is one request. path holds {set} where the entity-set root goes;
// mounts lists the roots it runs under (the first one alone when empty).
type matrixRow struct {
	name   string
	method string
	path   string
	body   string
	header map[string]string
	want   perCaller
	// batch rows: the inner responses' expected statuses, by inner id.
	inner map[string]perCaller
	// listed, for list rows: the ids each caller must see, exactly.
	listed map[string][]string
	mounts []string
}

const (
	setV1     = "/v1.0/external/connections"
	setV1Old  = "/v1.0/connections"
	setBeta   = "/beta/external/connections"
	setLegacy = "/beta/connections"
)

var allMounts = []string{setV1, setV1Old, setBeta, setLegacy}

// Shorthands for the table: 401 without a token, 403 without any
// ExternalConnection permission (or, for read-only callers, on writes), 404
// when the resource is outside what the caller may see.
const (
	s200 = http.StatusOK
	s201 = http.StatusCreated
	s202 = http.StatusAccepted
	s204 = http.StatusNoContent
	s401 = http.StatusUnauthorized
	s403 = http.StatusForbidden
	s404 = http.StatusNotFound
)

var batchBody = `{"requests":[
	{"id":"read","method":"GET","url":"/external/connections/owned"},
	{"id":"write","method":"POST","url":"/external/connections/owned/operations","body":{"id":"batchop","status":"inprogress"}}
]}`

var matrixRows = []matrixRow{
	{name: "create connection", method: "POST", path: "{set}", body: `{"id":"newconn","name":"New connection"}`,
		want:   perCaller{none: s401, read: s403, readWrite: s201, owner: s201, friend: s201, stranger: s201, delegated: s201, unrelated: s403, otherTenant: s201},
		mounts: allMounts},
	{name: "list connections", method: "GET", path: "{set}",
		want: perCaller{none: s401, read: s200, readWrite: s200, owner: s200, friend: s200, stranger: s200, delegated: s200, unrelated: s403, otherTenant: s200},
		listed: map[string][]string{
			"read": {"contosoall", "owned"}, "readWrite": {"contosoall", "owned"}, "owner": {"owned"}, "friend": {"owned"},
			"stranger": {}, "delegated": {"contosoall", "owned"}, "otherTenant": {"fabrikamx"},
		}},
	{name: "get connection", method: "GET", path: "{set}/owned",
		want:   perCaller{none: s401, read: s200, readWrite: s200, owner: s200, friend: s200, stranger: s404, delegated: s200, unrelated: s403, otherTenant: s404},
		mounts: allMounts},
	{name: "get missing connection", method: "GET", path: "{set}/nosuchconn",
		want: perCaller{none: s401, read: s404, readWrite: s404, owner: s404, friend: s404, stranger: s404, delegated: s404, unrelated: s403, otherTenant: s404}},
	{name: "patch connection", method: "PATCH", path: "{set}/owned", body: `{"description":"patched"}`,
		want: perCaller{none: s401, read: s403, readWrite: s204, owner: s204, friend: s204, stranger: s404, delegated: s204, unrelated: s403, otherTenant: s404}},
	{name: "patch connection authorizedAppIds", method: "PATCH", path: "{set}/owned", body: `{"configuration":{"authorizedAppIds":["app-stranger"]}}`,
		want: perCaller{none: s401, read: s403, readWrite: s204, owner: s204, friend: s204, stranger: s404, delegated: s204, unrelated: s403, otherTenant: s404}},
	{name: "delete connection", method: "DELETE", path: "{set}/owned",
		want:   perCaller{none: s401, read: s403, readWrite: s202, owner: s202, friend: s202, stranger: s404, delegated: s202, unrelated: s403, otherTenant: s404},
		mounts: allMounts},
	{name: "create operation", method: "POST", path: "{set}/owned/operations", body: `{"id":"newop","status":"inprogress"}`,
		want:   perCaller{none: s401, read: s403, readWrite: s201, owner: s201, friend: s201, stranger: s404, delegated: s201, unrelated: s403, otherTenant: s404},
		mounts: allMounts},
	{name: "create operation on missing connection", method: "POST", path: "{set}/nosuchconn/operations", body: `{"id":"newop"}`,
		want: perCaller{none: s401, read: s403, readWrite: s404, owner: s404, friend: s404, stranger: s404, delegated: s404, unrelated: s403, otherTenant: s404}},
	{name: "list operations", method: "GET", path: "{set}/owned/operations",
		want: perCaller{none: s401, read: s200, readWrite: s200, owner: s200, friend: s200, stranger: s404, delegated: s200, unrelated: s403, otherTenant: s404},
		listed: map[string][]string{
			"read": {"op1"}, "readWrite": {"op1"}, "owner": {"op1"}, "friend": {"op1"}, "delegated": {"op1"},
		},
		mounts: allMounts},
	{name: "count operations", method: "GET", path: "{set}/owned/operations/$count", header: map[string]string{"Accept": "text/plain"},
		want: perCaller{none: s401, read: s200, readWrite: s200, owner: s200, friend: s200, stranger: s404, delegated: s200, unrelated: s403, otherTenant: s404}},
	{name: "get operation", method: "GET", path: "{set}/owned/operations/op1",
		want:   perCaller{none: s401, read: s200, readWrite: s200, owner: s200, friend: s200, stranger: s404, delegated: s200, unrelated: s403, otherTenant: s404},
		mounts: allMounts},
	{name: "get operation of other connection", method: "GET", path: "{set}/contosoall/operations/op1",
		want: perCaller{none: s401, read: s200, readWrite: s200, owner: s404, friend: s404, stranger: s404, delegated: s200, unrelated: s403, otherTenant: s404}},
	{name: "patch operation", method: "PATCH", path: "{set}/owned/operations/op1", body: `{"status":"completed"}`,
		want:   perCaller{none: s401, read: s403, readWrite: s204, owner: s204, friend: s204, stranger: s404, delegated: s204, unrelated: s403, otherTenant: s404},
		mounts: allMounts},
	{name: "delete operation", method: "DELETE", path: "{set}/owned/operations/op1",
		want:   perCaller{none: s401, read: s403, readWrite: s204, owner: s204, friend: s204, stranger: s404, delegated: s204, unrelated: s403, otherTenant: s404},
		mounts: allMounts},
	{name: "batch", method: "POST", path: "/v1.0/$batch", body: batchBody,
		want: perCaller{none: s401, read: s200, readWrite: s200, owner: s200, friend: s200, stranger: s200, delegated: s200, unrelated: s200, otherTenant: s200},
		inner: map[string]perCaller{
			"read":  {read: s200, readWrite: s200, owner: s200, friend: s200, stranger: s404, delegated: s200, unrelated: s403, otherTenant: s404},
			"write": {read: s403, readWrite: s201, owner: s201, friend: s201, stranger: s404, delegated: s201, unrelated: s403, otherTenant: s404},
		}},
	{name: "beta batch", method: "POST", path: "/beta/$batch", body: batchBody,
		want: perCaller{none: s401, read: s200, readWrite: s200, owner: s200, friend: s200, stranger: s200, delegated: s200, unrelated: s200, otherTenant: s200},
		inner: map[string]perCaller{
			"read":  {read: s200, readWrite: s200, owner: s200, friend: s200, stranger: s404, delegated: s200, unrelated: s403, otherTenant: s404},
			"write": {read: s403, readWrite: s201, owner: s201, friend: s201, stranger: s404, delegated: s201, unrelated: s403, otherTenant: s404},
		}},
}

// errorCodes are the Graph codes each refusal status must carry.
var errorCodes = map[int]string{s401: "InvalidAuthenticationToken", s403: "accessDenied", s404: "itemNotFound"}

func TestPermissionMatrix(t *testing.T) {
	for _, caller := range matrixCallers(t) {
		t.Run(caller.name, func(t *testing.T) {
			e := newEnv(t)
			for _, row := range matrixRows {
				mounts := row.mounts
				if len(mounts) == 0 {
					mounts = []string{setV1}
				}
				for _, mount := range mounts {
					name := row.name
					if len(row.mounts) > 0 {
						name += " " + mount
					}
					t.Run(name, func(t *testing.T) { runCell(t, e, caller, row, mount) })
				}
			}
		})
	}
}

func runCell(t *testing.T, e *env, caller matrixCaller, row matrixRow, mount string) {
	ce := &env{t: t, pool: e.pool, url: e.url}
	ce.exec(fixtureSQL)
	before := map[string]string{"contoso": ce.snapshot("contoso"), "fabrikam": ce.snapshot("fabrikam")}

	path := strings.ReplaceAll(row.path, "{set}", mount)
	r := ce.send(request{method: row.method, path: path, token: caller.token, body: row.body, header: row.header})
	want := row.want.of(caller.name)
	if r.status != want {
		t.Fatalf("%s %s as %s: status %d, want %d; body %s", row.method, path, caller.name, r.status, want, r.body)
	}
	if code, ok := errorCodes[want]; ok {
		wantError(t, r, want, code)
	}
	if want == s401 && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("401 without a Bearer challenge: %q", r.header.Get("WWW-Authenticate"))
	}
	wrote := row.method != http.MethodGet && want < 300
	if row.inner != nil && want == s200 {
		wrote = checkInner(t, r, caller, row)
	}
	if row.listed != nil && want == s200 {
		if got := listedIDs(t, r); !slices.Equal(got, row.listed[caller.name]) {
			t.Errorf("%s lists %v, want %v", caller.name, got, row.listed[caller.name])
		}
	}
	// An id the caller sent may come back in a 404 message; that tells it
	// nothing it did not know.
	var hidden []string
	for _, m := range caller.hidden {
		if !strings.Contains(path, m) && !strings.Contains(row.body, m) {
			hidden = append(hidden, m)
		}
	}
	assertHidden(t, r, hidden)

	for tenant, snap := range before {
		after := ce.snapshot(tenant)
		switch {
		case tenant == caller.tenant && wrote:
			if after == snap {
				t.Errorf("a write answered %d changed no row of %s", want, tenant)
			}
		case after != snap:
			t.Errorf("tenant %s's rows changed (caller %s, status %d):\nbefore %s\nafter  %s", tenant, caller.name, r.status, snap, after)
		}
	}
}

// checkInner compares a batch's inner statuses and says whether any write
// inside it was accepted.
func checkInner(t *testing.T, r response, caller matrixCaller, row matrixRow) (wrote bool) {
	t.Helper()
	var out struct {
		Responses []struct {
			ID     string `json:"id"`
			Status int    `json:"status"`
		} `json:"responses"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatalf("batch answer: %v\n%s", err, r.body)
	}
	if len(out.Responses) != len(row.inner) {
		t.Fatalf("batch answered %d responses, want %d: %s", len(out.Responses), len(row.inner), r.body)
	}
	for _, res := range out.Responses {
		want := row.inner[res.ID].of(caller.name)
		if res.Status != want {
			t.Errorf("inner request %s as %s: status %d, want %d; %s", res.ID, caller.name, res.Status, want, r.body)
		}
		if res.ID == "write" && res.Status < 300 {
			wrote = true
		}
	}
	return wrote
}

func listedIDs(t *testing.T, r response) []string {
	t.Helper()
	got := []string{}
	values, _ := r.json(t)["value"].([]any)
	for _, v := range values {
		got = append(got, v.(map[string]any)["id"].(string))
	}
	slices.Sort(got)
	return got
}

// assertHidden fails if any marker appears in the answer's body or headers.
func assertHidden(t *testing.T, r response, hidden []string) {
	t.Helper()
	var all strings.Builder
	all.Write(r.body)
	for k, vs := range r.header {
		all.WriteString("\n" + k + ": " + strings.Join(vs, ", "))
	}
	for _, m := range hidden {
		if strings.Contains(all.String(), m) {
			t.Errorf("the answer shows %q, which this caller may not see:\n%s", m, all.String())
		}
	}
}

func (e *env) exec(sql string) {
	e.t.Helper()
	for attempt := 0; ; attempt++ {
		_, err := e.pool.Exec(context.Background(), sql)
		// The fixture's TRUNCATE takes its table locks in its own order while
		// the app's engine poll may hold one of them: Postgres then aborts
		// one side as a deadlock, and running the fixture again is right.
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "40P01" && attempt < 5 {
			continue
		}
		if err != nil {
			e.t.Fatal(err)
		}
		return
	}
}

// snapshot renders every row a tenant owns, timestamps and versions included,
// so any change to them shows as a different string.
func (e *env) snapshot(tenant string) string {
	e.t.Helper()
	var s string
	err := e.pool.QueryRow(context.Background(), `
SELECT coalesce((SELECT string_agg(c::text, E'\n' ORDER BY c.id) FROM connections c WHERE c.tenant_id = $1), '')
    || E'\n--\n' ||
       coalesce((SELECT string_agg(o::text, E'\n' ORDER BY o.connection_id, o.id) FROM operations o WHERE o.tenant_id = $1), '')
    || E'\n--\n' ||
       coalesce((SELECT string_agg(k::text, E'\n' ORDER BY k.app_id, k.key) FROM idempotency_keys k WHERE k.tenant_id = $1), '')`,
		tenant).Scan(&s)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}
