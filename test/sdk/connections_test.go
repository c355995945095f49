package sdk_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/microsoftgraph/msgraph-sdk-go/models/externalconnectors"
)

func TestConnectionCreateGetList(t *testing.T) {
	e := newEnv(t)
	created := e.createConnection("sdkconn1")
	e.wire.wantStatus(t, http.StatusCreated)
	if got := deref(created.GetId()); got != "sdkconn1" {
		t.Errorf("created id = %v, want sdkconn1", got)
	}
	if got := deref(created.GetName()); got != "Connection sdkconn1" {
		t.Errorf("created name = %v", got)
	}

	got, err := e.connections().ByExternalConnectionId("sdkconn1").Get(t.Context(), nil)
	if err != nil {
		t.Fatalf("get: %s", describe(err))
	}
	if deref(got.GetId()) != "sdkconn1" || deref(got.GetDescription()) != "Created by the SDK suite." {
		t.Errorf("get = id %v description %v", deref(got.GetId()), deref(got.GetDescription()))
	}
	if got.GetState() == nil || *got.GetState() != externalconnectors.DRAFT_CONNECTIONSTATE {
		t.Errorf("state = %v, want draft", got.GetState())
	}

	e.createConnection("sdkconn2")
	list, err := e.connections().Get(t.Context(), nil)
	if err != nil {
		t.Fatalf("list: %s", describe(err))
	}
	var ids []string
	for _, c := range list.GetValue() {
		ids = append(ids, deref(c.GetId()).(string))
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"sdkconn1", "sdkconn2"}) {
		t.Errorf("listed ids = %v, want [sdkconn1 sdkconn2]", ids)
	}
}

func TestConnectionUpdate(t *testing.T) {
	e := newEnv(t)
	e.createConnection("sdkpatch")
	item := e.connections().ByExternalConnectionId("sdkpatch")

	patch := externalconnectors.NewExternalConnection()
	patch.SetName(ptr("Renamed"))
	patch.SetDescription(ptr("New description"))
	if _, err := item.Patch(t.Context(), patch, nil); err != nil {
		t.Fatalf("patch: %s", describe(err))
	}
	e.wire.wantStatus(t, http.StatusNoContent)

	got, err := item.Get(t.Context(), nil)
	if err != nil {
		t.Fatalf("get: %s", describe(err))
	}
	if deref(got.GetName()) != "Renamed" || deref(got.GetDescription()) != "New description" {
		t.Errorf("after patch: name %v, description %v", deref(got.GetName()), deref(got.GetDescription()))
	}
}

func TestConnectionDelete(t *testing.T) {
	e := newEnv(t)
	e.createConnection("sdkdel")
	item := e.connections().ByExternalConnectionId("sdkdel")
	if err := item.Delete(t.Context(), nil); err != nil {
		t.Fatalf("delete: %s", describe(err))
	}
	e.wire.wantStatus(t, http.StatusAccepted, http.StatusNoContent)

	_, err := item.Get(t.Context(), nil)
	wantODataError(t, err, http.StatusNotFound, "itemNotFound")
}
