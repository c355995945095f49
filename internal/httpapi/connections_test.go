package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestConnectionLifecycle(t *testing.T) {
	e := newEnv(t)
	tok := writer(t, "contoso")

	r := e.post("/v1.0/external/connections", tok, `{"id":"contosohr","name":"Contoso HR","description":"HR tickets"}`)
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	if got, want := r.header.Get("Location"), e.url+"/v1.0/external/connections/contosohr"; got != want {
		t.Errorf("Location = %q, want %q", got, want)
	}
	body := r.json(t)
	if body["state"] != "draft" || body["name"] != "Contoso HR" || body["description"] != "HR tickets" {
		t.Errorf("created body %s", r.body)
	}

	// Same data on every mount.
	for _, path := range []string{"/v1.0/connections/contosohr", "/beta/connections/contosohr", "/beta/external/connections/contosohr"} {
		if r := e.get(path, tok); r.status != http.StatusOK || r.json(t)["id"] != "contosohr" {
			t.Errorf("GET %s: %d %s", path, r.status, r.body)
		}
	}
	r = e.post("/beta/connections", tok, `{"id":"contosohr","name":"Again"}`)
	wantError(t, r, http.StatusConflict, "nameAlreadyExists")

	e.createConnection(tok, "second")
	list := e.get("/v1.0/external/connections", tok).json(t)
	values, _ := list["value"].([]any)
	if len(values) != 2 {
		t.Fatalf("list has %d connections: %v", len(values), list)
	}

	for _, id := range []string{"a1", "b2", "c3"} {
		if r := e.post("/v1.0/connections/contosohr/operations", tok, `{"id":"`+id+`"}`); r.status != http.StatusCreated {
			t.Fatalf("create op: %d %s", r.status, r.body)
		}
	}
	r = e.send(request{method: http.MethodDelete, path: "/v1.0/external/connections/contosohr", token: tok})
	if r.status != http.StatusAccepted {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if n := e.count(`SELECT count(*) FROM operations WHERE connection_id = 'contosohr'`); n != 0 {
		t.Errorf("%d operations survived their connection", n)
	}
	wantError(t, e.get("/v1.0/external/connections/contosohr", tok), http.StatusNotFound, "itemNotFound")
	r = e.send(request{method: http.MethodDelete, path: "/v1.0/external/connections/contosohr", token: tok})
	wantError(t, r, http.StatusNotFound, "itemNotFound")
}

func TestCreateConnectionRejectsBadInput(t *testing.T) {
	e := newEnv(t)
	tok := writer(t, "contoso")
	tests := []struct{ name, body, target string }{
		{"missing id", `{"name":"x"}`, "id"},
		{"hyphen in id", `{"id":"contoso-hr","name":"x"}`, "id"},
		{"id too short", `{"id":"ab","name":"x"}`, "id"},
		{"id too long", `{"id":"` + strings.Repeat("a", 33) + `","name":"x"}`, "id"},
		{"id starts with Microsoft", `{"id":"MicrosoftThings","name":"x"}`, "id"},
		{"reserved id", `{"id":"SharePoint","name":"x"}`, "id"},
		{"reserved id other case", `{"id":"teams","name":"x"}`, "id"},
		{"id wrong type", `{"id":123,"name":"x"}`, "id"},
		{"missing name", `{"id":"contosohr"}`, "name"},
		{"blank name", `{"id":"contosohr","name":"  "}`, "name"},
		{"name too long", `{"id":"contosohr","name":"` + strings.Repeat("n", 129) + `"}`, "name"},
		{"unknown property", `{"id":"contosohr","name":"x","colour":"red"}`, "colour"},
		{"bad app ids", `{"id":"contosohr","name":"x","configuration":{"authorizedAppIds":"one"}}`, "configuration.authorizedAppIds"},
		{"not an object", `["contosohr"]`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.post("/v1.0/external/connections", tok, tt.body)
			got := wantError(t, r, http.StatusBadRequest, "invalidRequest")
			if tt.target != "" && got["target"] != tt.target {
				t.Errorf("target = %v, want %s", got["target"], tt.target)
			}
			if n := e.count(`SELECT count(*) FROM connections`); n != 0 {
				t.Errorf("%d connections stored by a rejected create", n)
			}
		})
	}
}
