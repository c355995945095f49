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
//	tenant contoso:  connection "owned"      created by app-owner, authorizedAppIds [app-friend], operation op1,
//	                                         ready with active schema 1 (title, tags), item item1 with one
//	                                         activity, external group group1 with member member1
//	                 connection "contosoall" created by app-admin, operation op1, draft (no active schema),
//	                                         item allitem, external group allgroup
//	tenant fabrikam: connection "fabrikamx"  created by app-fabrikam, operation fabop1, ready, item fabitem,
//	                                         external group fabgroup
//
// Callers address contoso's "owned" connection and what hangs off it. Existence
// must not leak: an OwnedBy app that may not see "owned", and fabrikam, get 404
// exactly as for a connection that does not exist; only a caller holding none
// of the permissions a route needs gets 403. Connections, operations, schemas
// and the quota need ExternalConnection permissions; items, external groups,
// members and activities need ExternalItem ones (as in Graph), so "unrelated",
// which holds ExternalItem.ReadWrite.All alone, may write items but not read a
// connection, and "connOnly", which holds ExternalConnection.ReadWrite.All
// alone, the other way round.

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
INSERT INTO schema_versions (tenant_id, connection_id, version, operation_id, state, schema)
SELECT tenant_id, id, 1, 'schemaop', 'active', '{"baseType":"microsoft.graph.externalItem","properties":[
  {"name":"title","type":"string","isSearchable":true,"isRetrievable":true},
  {"name":"tags","type":"stringCollection","isRetrievable":true}]}'
FROM connections WHERE id IN ('owned', 'fabrikamx');
UPDATE connections SET state = 'ready', active_schema_version = 1 WHERE id IN ('owned', 'fabrikamx');
INSERT INTO items (tenant_id, connection_uid, id, properties, acl, content_type, content)
SELECT c.tenant_id, c.uid, v.id, v.properties::jsonb, v.acl::jsonb, 'text', v.content
FROM (VALUES
  ('contoso', 'owned', 'item1', '{"title":"owned-item-marker","tags":["t"],"tags@odata.type":"Collection(String)"}',
   '[{"type":"user","value":"owned-acl-marker","accessType":"grant"}]', 'owned-content-marker'),
  ('contoso', 'contosoall', 'allitem', '{"title":"contosoall-item-marker"}',
   '[{"type":"everyone","value":"everyone","accessType":"grant"}]', 'contosoall-content-marker'),
  ('fabrikam', 'fabrikamx', 'fabitem', '{"title":"fabrikam-item-marker"}',
   '[{"type":"everyone","value":"everyone","accessType":"grant"}]', 'fabrikam-content-marker')
) AS v(tenant_id, connection_id, id, properties, acl, content)
JOIN connections c ON c.tenant_id = v.tenant_id AND c.id = v.connection_id;
UPDATE connection_counts SET items = 1;
INSERT INTO item_activities (tenant_id, connection_uid, item_id, type, start_at, performed_by)
SELECT tenant_id, uid, 'item1', 'created', '2026-11-01T00:00:00Z', '{"id":"owned-actor-marker","type":"user"}'
FROM connections WHERE tenant_id = 'contoso' AND id = 'owned';
INSERT INTO external_groups (tenant_id, connection_uid, id, display_name, description)
SELECT c.tenant_id, c.uid, v.id, v.display_name, NULL
FROM (VALUES ('contoso', 'owned', 'group1', 'owned-group-marker'),
             ('contoso', 'contosoall', 'allgroup', 'contosoall-group-marker'),
             ('fabrikam', 'fabrikamx', 'fabgroup', 'fabrikam-group-marker')) AS v(tenant_id, connection_id, id, display_name)
JOIN connections c ON c.tenant_id = v.tenant_id AND c.id = v.connection_id;
INSERT INTO group_members (tenant_id, connection_uid, group_id, id, type)
SELECT tenant_id, uid, 'group1', 'member1', 'user' FROM connections WHERE tenant_id = 'contoso' AND id = 'owned';
`

// Strings only the fixture's rows contain: none is ever sent by a caller.
var (
	contosoMarkers  = []string{"Contoso Owned Name", "contoso-desc-marker", "contoso-op-code", "contoso-op-marker", "app-owner", "app-friend", "app-admin", "contosoall", "Contoso All Name", "contosoall-op-marker"}
	fabrikamMarkers = []string{"fabrikamx", "Fabrikam Marker Name", "fabrikam-desc-marker", "app-fabrikam", "app-fabfriend", "fabop1", "fabrikam-op-code", "fabrikam-op-marker",
		"fabitem", "fabrikam-item-marker", "fabrikam-content-marker", "fabgroup", "fabrikam-group-marker"}
	// What an OwnedBy app of contoso may not see: the connection it neither
	// created nor is authorized for.
	contosoAllMarkers = []string{"contosoall", "Contoso All Name", "contosoall-op-marker"}
	// The items and groups of "owned", and of "contosoall": what needs an
	// ExternalItem permission to see.
	contosoItemMarkers    = []string{"owned-item-marker", "owned-acl-marker", "owned-content-marker", "owned-group-marker"}
	contosoAllItemMarkers = []string{"allitem", "contosoall-item-marker", "contosoall-content-marker", "allgroup", "contosoall-group-marker"}
)

// perCaller holds one expected status for each caller of the matrix.
type perCaller struct {
	none, read, readWrite, owner, friend, stranger, delegated, unrelated, otherTenant, connOnly int
}

func (p perCaller) of(name string) int {
	return map[string]int{
		"none": p.none, "read": p.read, "readWrite": p.readWrite, "owner": p.owner, "friend": p.friend,
		"stranger": p.stranger, "delegated": p.delegated, "unrelated": p.unrelated, "otherTenant": p.otherTenant,
		"connOnly": p.connOnly,
	}[name]
}

type matrixCaller struct {
	name   string
	tenant string // "" for no token
	token  string
	// hidden must appear in no answer to this caller.
	hidden []string
}

// matrixCallers are the callers of the matrix. Each app holds the
// ExternalItem permission that goes with its ExternalConnection one, as a
// connector's app does; "unrelated" and "connOnly" hold one kind only.
func matrixCallers(t *testing.T) []matrixCaller {
	delegated := signed(t, jwt.SigningMethodHS256, []byte(testSecret), auth.Claims{
		RegisteredClaims: jwt.RegisteredClaims{ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))},
		TenantID:         "contoso", AuthorizedParty: "app-spa",
		Scope: "openid profile " + connections.PermReadWriteAll + " " + connections.PermItemReadWriteAll,
	})
	everyContoso := slices.Concat(contosoMarkers, contosoItemMarkers, contosoAllItemMarkers)
	ownedHidden := slices.Concat(fabrikamMarkers, contosoAllMarkers, contosoAllItemMarkers)
	return []matrixCaller{
		{"none", "", "", slices.Concat(fabrikamMarkers, everyContoso)},
		{"read", "contoso", token(t, "contoso", "app-reader", connections.PermReadAll, connections.PermItemReadAll), fabrikamMarkers},
		{"readWrite", "contoso", token(t, "contoso", "app-writer", connections.PermReadWriteAll, connections.PermItemReadWriteAll), fabrikamMarkers},
		{"owner", "contoso", token(t, "contoso", "app-owner", connections.PermReadWriteOwnedBy, connections.PermItemReadWriteOwnedBy), ownedHidden},
		{"friend", "contoso", token(t, "contoso", "app-friend", connections.PermReadWriteOwnedBy, connections.PermItemReadWriteOwnedBy), ownedHidden},
		{"stranger", "contoso", token(t, "contoso", "app-stranger", connections.PermReadWriteOwnedBy, connections.PermItemReadWriteOwnedBy),
			slices.Concat(fabrikamMarkers, everyContoso)},
		{"delegated", "contoso", delegated, fabrikamMarkers},
		{"unrelated", "contoso", token(t, "contoso", "app-unrelated", "User.Read.All", connections.PermItemReadWriteAll),
			slices.Concat(fabrikamMarkers, contosoMarkers)},
		{"otherTenant", "fabrikam", token(t, "fabrikam", "app-fabwriter", connections.PermReadWriteAll, connections.PermItemReadWriteAll), everyContoso},
		{"connOnly", "contoso", token(t, "contoso", "app-connonly", connections.PermReadWriteAll),
			slices.Concat(fabrikamMarkers, contosoItemMarkers, contosoAllItemMarkers)},
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
	s409 = http.StatusConflict
)

var batchBody = `{"requests":[
	{"id":"read","method":"GET","url":"/external/connections/owned"},
	{"id":"write","method":"POST","url":"/external/connections/owned/operations","body":{"id":"batchop","status":"inprogress"}}
]}`

var matrixRows = []matrixRow{
	{name: "create connection", method: "POST", path: "{set}", body: `{"id":"newconn","name":"New connection"}`,
		want:   perCaller{none: s401, read: s403, readWrite: s201, owner: s201, friend: s201, stranger: s201, delegated: s201, unrelated: s403, otherTenant: s201, connOnly: s201},
		mounts: allMounts},
	{name: "list connections", method: "GET", path: "{set}",
		want: perCaller{none: s401, read: s200, readWrite: s200, owner: s200, friend: s200, stranger: s200, delegated: s200, unrelated: s403, otherTenant: s200, connOnly: s200},
		listed: map[string][]string{
			"read": {"contosoall", "owned"}, "readWrite": {"contosoall", "owned"}, "owner": {"owned"}, "friend": {"owned"},
			"stranger": {}, "delegated": {"contosoall", "owned"}, "otherTenant": {"fabrikamx"}, "connOnly": {"contosoall", "owned"},
		}},
	{name: "get connection", method: "GET", path: "{set}/owned",
		want:   perCaller{none: s401, read: s200, readWrite: s200, owner: s200, friend: s200, stranger: s404, delegated: s200, unrelated: s403, otherTenant: s404, connOnly: s200},
		mounts: allMounts},
	{name: "get missing connection", method: "GET", path: "{set}/nosuchconn",
		want: perCaller{none: s401, read: s404, readWrite: s404, owner: s404, friend: s404, stranger: s404, delegated: s404, unrelated: s403, otherTenant: s404, connOnly: s404}},
	{name: "patch connection", method: "PATCH", path: "{set}/owned", body: `{"description":"patched"}`,
		want: perCaller{none: s401, read: s403, readWrite: s204, owner: s204, friend: s204, stranger: s404, delegated: s204, unrelated: s403, otherTenant: s404, connOnly: s204}},
	{name: "patch connection authorizedAppIds", method: "PATCH", path: "{set}/owned", body: `{"configuration":{"authorizedAppIds":["app-stranger"]}}`,
		want: perCaller{none: s401, read: s403, readWrite: s204, owner: s204, friend: s204, stranger: s404, delegated: s204, unrelated: s403, otherTenant: s404, connOnly: s204}},
	{name: "delete connection", method: "DELETE", path: "{set}/owned",
		want:   perCaller{none: s401, read: s403, readWrite: s202, owner: s202, friend: s202, stranger: s404, delegated: s202, unrelated: s403, otherTenant: s404, connOnly: s202},
		mounts: allMounts},
	{name: "create operation", method: "POST", path: "{set}/owned/operations", body: `{"id":"newop","status":"inprogress"}`,
		want:   perCaller{none: s401, read: s403, readWrite: s201, owner: s201, friend: s201, stranger: s404, delegated: s201, unrelated: s403, otherTenant: s404, connOnly: s201},
		mounts: allMounts},
	{name: "create operation on missing connection", method: "POST", path: "{set}/nosuchconn/operations", body: `{"id":"newop"}`,
		want: perCaller{none: s401, read: s403, readWrite: s404, owner: s404, friend: s404, stranger: s404, delegated: s404, unrelated: s403, otherTenant: s404, connOnly: s404}},
	{name: "list operations", method: "GET", path: "{set}/owned/operations",
		want: perCaller{none: s401, read: s200, readWrite: s200, owner: s200, friend: s200, stranger: s404, delegated: s200, unrelated: s403, otherTenant: s404, connOnly: s200},
		listed: map[string][]string{
			"read": {"op1"}, "readWrite": {"op1"}, "owner": {"op1"}, "friend": {"op1"}, "delegated": {"op1"}, "connOnly": {"op1"},
		},
		mounts: allMounts},
	{name: "count operations", method: "GET", path: "{set}/owned/operations/$count", header: map[string]string{"Accept": "text/plain"},
		want: perCaller{none: s401, read: s200, readWrite: s200, owner: s200, friend: s200, stranger: s404, delegated: s200, unrelated: s403, otherTenant: s404, connOnly: s200}},
	{name: "get operation", method: "GET", path: "{set}/owned/operations/op1",
		want:   perCaller{none: s401, read: s200, readWrite: s200, owner: s200, friend: s200, stranger: s404, delegated: s200, unrelated: s403, otherTenant: s404, connOnly: s200},
		mounts: allMounts},
	{name: "get operation of other connection", method: "GET", path: "{set}/contosoall/operations/op1",
		want: perCaller{none: s401, read: s200, readWrite: s200, owner: s404, friend: s404, stranger: s404, delegated: s200, unrelated: s403, otherTenant: s404, connOnly: s200}},
	{name: "patch operation", method: "PATCH", path: "{set}/owned/operations/op1", body: `{"status":"completed"}`,
		want:   perCaller{none: s401, read: s403, readWrite: s204, owner: s204, friend: s204, stranger: s404, delegated: s204, unrelated: s403, otherTenant: s404, connOnly: s204},
		mounts: allMounts},
	{name: "delete operation", method: "DELETE", path: "{set}/owned/operations/op1",
		want:   perCaller{none: s401, read: s403, readWrite: s204, owner: s204, friend: s204, stranger: s404, delegated: s204, unrelated: s403, otherTenant: s404, connOnly: s204},
		mounts: allMounts},
	// Items, external groups and members need ExternalItem permissions;
	// the quota, an ExternalConnection one.
	{name: "put new item", method: "PUT", path: "{set}/owned/items/newitem", body: matrixItem,
		want:   itemWrite(s200),
		mounts: allMounts},
	{name: "put item replacing one", method: "PUT", path: "{set}/owned/items/item1", body: matrixItem,
		want: itemWrite(s200)},
	{name: "put item before the schema is active", method: "PUT", path: "{set}/contosoall/items/newitem", body: matrixItem,
		want: perCaller{none: s401, read: s403, readWrite: s409, owner: s404, friend: s404, stranger: s404, delegated: s409, unrelated: s409, otherTenant: s404, connOnly: s403}},
	{name: "put item on missing connection", method: "PUT", path: "{set}/nosuchconn/items/newitem", body: matrixItem,
		want: perCaller{none: s401, read: s403, readWrite: s404, owner: s404, friend: s404, stranger: s404, delegated: s404, unrelated: s404, otherTenant: s404, connOnly: s403}},
	{name: "get item", method: "GET", path: "{set}/owned/items/item1",
		want:   itemRead(s200),
		mounts: allMounts},
	{name: "get item of other connection", method: "GET", path: "{set}/contosoall/items/allitem",
		want: perCaller{none: s401, read: s200, readWrite: s200, owner: s404, friend: s404, stranger: s404, delegated: s200, unrelated: s200, otherTenant: s404, connOnly: s403}},
	{name: "patch item", method: "PATCH", path: "{set}/owned/items/item1", body: `{"properties":{"title":"patched title"}}`,
		want:   itemWrite(s200),
		mounts: allMounts},
	{name: "delete item", method: "DELETE", path: "{set}/owned/items/item1",
		want:   itemWrite(s204),
		mounts: allMounts},
	{name: "list items", method: "GET", path: "{set}/owned/items",
		want: itemRead(s200),
		listed: map[string][]string{
			"read": {"item1"}, "readWrite": {"item1"}, "owner": {"item1"}, "friend": {"item1"}, "delegated": {"item1"}, "unrelated": {"item1"},
		},
		mounts: allMounts},
	{name: "count items", method: "GET", path: "{set}/owned/items/$count", header: map[string]string{"Accept": "text/plain"},
		want: itemRead(s200)},
	{name: "add activities", method: "POST", path: "{set}/owned/items/item1/addActivities", body: matrixActivities,
		want:   itemWrite(s200),
		mounts: allMounts},
	{name: "add activities by the qualified name", method: "POST", path: "{set}/owned/items/item1/microsoft.graph.externalConnectors.addActivities", body: matrixActivities,
		want: itemWrite(s200)},
	{name: "create group", method: "POST", path: "{set}/owned/groups", body: `{"id":"newgroup","displayName":"New group"}`,
		want:   itemWrite(s201),
		mounts: allMounts},
	{name: "get group", method: "GET", path: "{set}/owned/groups/group1",
		want:   itemRead(s200),
		mounts: allMounts},
	{name: "get group of other connection", method: "GET", path: "{set}/contosoall/groups/allgroup",
		want: perCaller{none: s401, read: s200, readWrite: s200, owner: s404, friend: s404, stranger: s404, delegated: s200, unrelated: s200, otherTenant: s404, connOnly: s403}},
	{name: "patch group", method: "PATCH", path: "{set}/owned/groups/group1", body: `{"description":"patched"}`,
		want:   itemWrite(s204),
		mounts: allMounts},
	{name: "delete group", method: "DELETE", path: "{set}/owned/groups/group1",
		want:   itemWrite(s204),
		mounts: allMounts},
	{name: "add member", method: "POST", path: "{set}/owned/groups/group1/members", body: `{"id":"newmember","type":"user"}`,
		want:   itemWrite(s201),
		mounts: allMounts},
	{name: "list members", method: "GET", path: "{set}/owned/groups/group1/members",
		want: itemRead(s200),
		listed: map[string][]string{
			"read": {"member1"}, "readWrite": {"member1"}, "owner": {"member1"}, "friend": {"member1"}, "delegated": {"member1"}, "unrelated": {"member1"},
		},
		mounts: allMounts},
	{name: "get member", method: "GET", path: "{set}/owned/groups/group1/members/member1",
		want:   itemRead(s200),
		mounts: allMounts},
	{name: "delete member", method: "DELETE", path: "{set}/owned/groups/group1/members/member1",
		want:   itemWrite(s204),
		mounts: allMounts},
	{name: "get quota", method: "GET", path: "{set}/owned/quota",
		want:   perCaller{none: s401, read: s200, readWrite: s200, owner: s200, friend: s200, stranger: s404, delegated: s200, unrelated: s403, otherTenant: s404, connOnly: s200},
		mounts: []string{setBeta, setLegacy}},
	{name: "batch", method: "POST", path: "/v1.0/$batch", body: batchBody,
		want: perCaller{none: s401, read: s200, readWrite: s200, owner: s200, friend: s200, stranger: s200, delegated: s200, unrelated: s200, otherTenant: s200, connOnly: s200},
		inner: map[string]perCaller{
			"read":  {read: s200, readWrite: s200, owner: s200, friend: s200, stranger: s404, delegated: s200, unrelated: s403, otherTenant: s404, connOnly: s200},
			"write": {read: s403, readWrite: s201, owner: s201, friend: s201, stranger: s404, delegated: s201, unrelated: s403, otherTenant: s404, connOnly: s201},
		}},
	{name: "beta batch", method: "POST", path: "/beta/$batch", body: batchBody,
		want: perCaller{none: s401, read: s200, readWrite: s200, owner: s200, friend: s200, stranger: s200, delegated: s200, unrelated: s200, otherTenant: s200, connOnly: s200},
		inner: map[string]perCaller{
			"read":  {read: s200, readWrite: s200, owner: s200, friend: s200, stranger: s404, delegated: s200, unrelated: s403, otherTenant: s404, connOnly: s200},
			"write": {read: s403, readWrite: s201, owner: s201, friend: s201, stranger: s404, delegated: s201, unrelated: s403, otherTenant: s404, connOnly: s201},
		}},
}

// matrixItem is a valid item for the fixture's schema.
const matrixItem = `{"properties":{"title":"matrix title","tags@odata.type":"Collection(String)","tags":["m"]},
	"acl":[{"accessType":"grant","type":"everyone","value":"everyone"}],"content":{"type":"text","value":"matrix content"}}`

const matrixActivities = `{"activities":[{"@odata.type":"#microsoft.graph.externalConnectors.externalActivity",
	"type":"viewed","startDateTime":"2026-11-02T00:00:00Z","performedBy":{"type":"user","id":"matrix-user"}}]}`

// itemWrite is the row of a write on the items or groups of "owned" that
// answers ok to the callers allowed to make it.
func itemWrite(ok int) perCaller {
	return perCaller{none: s401, read: s403, readWrite: ok, owner: ok, friend: ok, stranger: s404, delegated: ok, unrelated: ok, otherTenant: s404, connOnly: s403}
}

// itemRead is the row of a read of the items or groups of "owned".
func itemRead(ok int) perCaller {
	return perCaller{none: s401, read: ok, readWrite: ok, owner: ok, friend: ok, stranger: s404, delegated: ok, unrelated: ok, otherTenant: s404, connOnly: s403}
}

// errorCodes are the Graph codes each refusal status must carry.
var errorCodes = map[int]string{s401: "InvalidAuthenticationToken", s403: "accessDenied", s404: "itemNotFound", s409: "conflict"}

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
SELECT concat_ws(E'\n--\n',
  coalesce((SELECT string_agg(c::text, E'\n' ORDER BY c.id) FROM connections c WHERE c.tenant_id = $1), ''),
  coalesce((SELECT string_agg(n::text, E'\n' ORDER BY n.connection_id) FROM connection_counts n WHERE n.tenant_id = $1), ''),
  coalesce((SELECT string_agg(o::text, E'\n' ORDER BY o.connection_id, o.id) FROM operations o WHERE o.tenant_id = $1), ''),
  coalesce((SELECT string_agg(v::text, E'\n' ORDER BY v.connection_id, v.version) FROM schema_versions v WHERE v.tenant_id = $1), ''),
  coalesce((SELECT string_agg(k::text, E'\n' ORDER BY k.app_id, k.key) FROM idempotency_keys k WHERE k.tenant_id = $1), ''),
  coalesce((SELECT string_agg(i::text, E'\n' ORDER BY i.connection_uid, i.id) FROM items i WHERE i.tenant_id = $1), ''),
  coalesce((SELECT string_agg(a::text, E'\n' ORDER BY a.connection_uid, a.item_id, a.seq) FROM item_activities a WHERE a.tenant_id = $1), ''),
  coalesce((SELECT string_agg(g::text, E'\n' ORDER BY g.connection_uid, g.id) FROM external_groups g WHERE g.tenant_id = $1), ''),
  coalesce((SELECT string_agg(m::text, E'\n' ORDER BY m.connection_uid, m.group_id, m.id) FROM group_members m WHERE m.tenant_id = $1), ''),
  coalesce((SELECT string_agg(d::text, E'\n' ORDER BY d.connection_uid) FROM deleted_connections d WHERE d.tenant_id = $1), ''))`,
		tenant).Scan(&s)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}
