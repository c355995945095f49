package httpapi_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/connops/connops/internal/auth"
	"github.com/connops/connops/internal/connections"
)

func signed(t *testing.T, method jwt.SigningMethod, key any, claims jwt.Claims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func claims(tenant string, exp time.Time) auth.Claims {
	return auth.Claims{
		RegisteredClaims: jwt.RegisteredClaims{ExpiresAt: jwt.NewNumericDate(exp)},
		TenantID:         tenant, AppID: "app", Roles: []string{connections.PermReadWriteAll},
	}
}

func TestRejectsBadTokens(t *testing.T) {
	e := newEnv(t)
	good := signed(t, jwt.SigningMethodHS256, []byte(testSecret), claims("contoso", time.Now().Add(time.Hour)))
	parts := strings.Split(good, ".")
	noneHeader := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	mac := hmac.New(sha256.New, []byte("some-other-secret-0123456789abcdef"))
	mac.Write([]byte(parts[0] + "." + parts[1]))

	tests := []struct{ name, header string }{
		{"missing", ""},
		{"not bearer", "Basic dXNlcjpwYXNz"},
		{"empty bearer", "Bearer "},
		{"malformed", "Bearer not-a-jwt"},
		{"truncated", "Bearer " + parts[0] + "." + parts[1]},
		{"expired", "Bearer " + signed(t, jwt.SigningMethodHS256, []byte(testSecret), claims("contoso", time.Now().Add(-time.Hour)))},
		{"bad signature", "Bearer " + parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))},
		{"alg none", "Bearer " + noneHeader + "." + parts[1] + "."},
		{"no tid", "Bearer " + signed(t, jwt.SigningMethodHS256, []byte(testSecret), claims("", time.Now().Add(time.Hour)))},
		{"no exp", "Bearer " + signed(t, jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"tid": "contoso", "roles": []string{connections.PermReadWriteAll}})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.send(request{method: http.MethodGet, path: "/v1.0/external/connections", header: map[string]string{"Authorization": tt.header}})
			got := wantError(t, r, http.StatusUnauthorized, "InvalidAuthenticationToken")
			if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate = %q", r.header.Get("WWW-Authenticate"))
			}
			if tok := strings.TrimPrefix(tt.header, "Bearer "); len(tok) > 8 && strings.Contains(string(r.body), tok) {
				t.Errorf("the answer echoes the token: %v", got["message"])
			}
		})
	}
	r := e.send(request{method: http.MethodGet, path: "/v1.0/external/connections", token: good})
	if r.status != http.StatusOK {
		t.Fatalf("good token: %d %s", r.status, r.body)
	}
}

func TestPermissions(t *testing.T) {
	e := newEnv(t)
	admin := writer(t, "contoso")
	e.createConnection(admin, "contosohr")
	readOnly := token(t, "contoso", "reader", connections.PermReadAll)
	nothing := token(t, "contoso", "other", "User.Read")
	delegated := func() string {
		c := auth.Claims{RegisteredClaims: jwt.RegisteredClaims{ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))},
			TenantID: "contoso", AuthorizedParty: "spa", Scope: "openid " + connections.PermReadAll}
		return signed(t, jwt.SigningMethodHS256, []byte(testSecret), c)
	}()

	for name, tok := range map[string]string{"read role": readOnly, "delegated read scope": delegated} {
		if r := e.get("/v1.0/external/connections/contosohr", tok); r.status != http.StatusOK {
			t.Errorf("%s read: %d %s", name, r.status, r.body)
		}
		wantError(t, e.post("/v1.0/external/connections/contosohr/operations", tok, `{}`), http.StatusForbidden, "accessDenied")
		wantError(t, e.post("/v1.0/external/connections", tok, `{"id":"newone","name":"x"}`), http.StatusForbidden, "accessDenied")
		wantError(t, e.send(request{method: http.MethodDelete, path: "/v1.0/external/connections/contosohr", token: tok}), http.StatusForbidden, "accessDenied")
	}
	wantError(t, e.get("/v1.0/external/connections/contosohr", nothing), http.StatusForbidden, "accessDenied")
	wantError(t, e.get("/v1.0/external/connections", nothing), http.StatusForbidden, "accessDenied")
	if n := e.operationCount() + e.count(`SELECT count(*) FROM connections WHERE id <> 'contosohr'`); n != 0 {
		t.Errorf("forbidden writes stored %d rows", n)
	}
}

func TestOwnedByPermissionSeesOnlyOwnedConnections(t *testing.T) {
	e := newEnv(t)
	owner := token(t, "contoso", "app-owner", connections.PermReadWriteOwnedBy)
	stranger := token(t, "contoso", "app-stranger", connections.PermReadWriteOwnedBy)
	friend := token(t, "contoso", "app-friend", connections.PermReadWriteOwnedBy)

	r := e.post("/v1.0/external/connections", owner, `{"id":"owned","name":"x","configuration":{"authorizedAppIds":["app-friend"]}}`)
	if r.status != http.StatusCreated {
		t.Fatalf("owner create: %d %s", r.status, r.body)
	}
	if r := e.post("/v1.0/external/connections/owned/operations", owner, `{"id":"op1"}`); r.status != http.StatusCreated {
		t.Fatalf("owner op: %d %s", r.status, r.body)
	}
	wantError(t, e.get("/v1.0/external/connections/owned", stranger), http.StatusNotFound, "itemNotFound")
	wantError(t, e.get("/v1.0/external/connections/owned/operations/op1", stranger), http.StatusNotFound, "itemNotFound")
	wantError(t, e.post("/v1.0/external/connections/owned/operations", stranger, `{}`), http.StatusNotFound, "itemNotFound")
	if list := e.get("/v1.0/external/connections", stranger).json(t); len(list["value"].([]any)) != 0 {
		t.Errorf("stranger lists %v", list)
	}
	if r := e.get("/v1.0/external/connections/owned/operations/op1", friend); r.status != http.StatusOK {
		t.Errorf("authorized app read: %d %s", r.status, r.body)
	}
	if e.operationCount() != 1 {
		t.Errorf("operations = %d, want 1", e.operationCount())
	}
}

func TestTenantIsolation(t *testing.T) {
	e := newEnv(t)
	a, b := writer(t, "tenant-a"), writer(t, "tenant-b")
	e.createConnection(a, "shared")
	if r := e.post("/v1.0/connections/shared/operations", a, `{"id":"op1","status":"completed"}`); r.status != http.StatusCreated {
		t.Fatalf("tenant a op: %d %s", r.status, r.body)
	}

	wantError(t, e.get("/v1.0/connections/shared", b), http.StatusNotFound, "itemNotFound")
	wantError(t, e.get("/beta/connections/shared/operations/op1", b), http.StatusNotFound, "itemNotFound")
	wantError(t, e.post("/v1.0/connections/shared/operations", b, `{"id":"op2"}`), http.StatusNotFound, "itemNotFound")
	wantError(t, e.send(request{method: http.MethodDelete, path: "/v1.0/connections/shared", token: b}), http.StatusNotFound, "itemNotFound")
	list := e.get("/v1.0/connections", b)
	if strings.Contains(string(list.body), "shared") {
		t.Errorf("tenant b's list shows tenant a's data: %s", list.body)
	}
	// Tenant b may use the same connection id for its own data.
	e.createConnection(b, "shared")
	if n := e.count(`SELECT count(*) FROM operations WHERE tenant_id = 'tenant-a'`); n != 1 {
		t.Errorf("tenant a has %d operations, want 1", n)
	}
	if n := e.count(`SELECT count(*) FROM operations WHERE tenant_id = 'tenant-b'`); n != 0 {
		t.Errorf("tenant b has %d operations, want 0", n)
	}
	if r := e.get("/v1.0/connections/shared/operations/op1", a); r.status != http.StatusOK {
		t.Errorf("tenant a lost its operation: %d", r.status)
	}
}
