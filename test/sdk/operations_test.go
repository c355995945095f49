package sdk_test

import (
	"net/http"
	"testing"

	"github.com/microsoftgraph/msgraph-sdk-go/models/externalconnectors"
)

const (
	inprogress = externalconnectors.INPROGRESS_CONNECTIONOPERATIONSTATUS
	completed  = externalconnectors.COMPLETED_CONNECTIONOPERATIONSTATUS
	failed     = externalconnectors.FAILED_CONNECTIONOPERATIONSTATUS
)

func TestOperationCreateAndGet(t *testing.T) {
	e := newEnv(t)
	e.createConnection("sdkops")
	created := e.createOperation("sdkops", "", inprogress)
	e.wire.wantStatus(t, http.StatusCreated)
	if created.GetStatus() == nil || *created.GetStatus() != inprogress {
		t.Errorf("created status = %v, want inprogress", created.GetStatus())
	}

	id := *created.GetId()
	got, err := e.operations("sdkops").ByConnectionOperationId(id).Get(t.Context(), nil)
	if err != nil {
		t.Fatalf("get %s: %s", id, describe(err))
	}
	if deref(got.GetId()) != id {
		t.Errorf("get id = %v, want %s", deref(got.GetId()), id)
	}
	if got.GetStatus() == nil || *got.GetStatus() != inprogress {
		t.Errorf("get status = %v, want inprogress", got.GetStatus())
	}
	if got.GetError() != nil {
		t.Errorf("get error = %v, want none", got.GetError())
	}
}

func TestOperationPatchStatus(t *testing.T) {
	e := newEnv(t)
	e.createConnection("sdkpatchop")
	id := *e.createOperation("sdkpatchop", "", inprogress).GetId()
	item := e.operations("sdkpatchop").ByConnectionOperationId(id)

	if _, err := item.Patch(t.Context(), newOperation("", completed), nil); err != nil {
		t.Fatalf("patch inprogress->completed: %s", describe(err))
	}
	e.wire.wantStatus(t, http.StatusNoContent, http.StatusOK)
	got, err := item.Get(t.Context(), nil)
	if err != nil {
		t.Fatalf("get: %s", describe(err))
	}
	if got.GetStatus() == nil || *got.GetStatus() != completed {
		t.Errorf("status after patch = %v, want completed", got.GetStatus())
	}

	_, err = item.Patch(t.Context(), newOperation("", inprogress), nil)
	wantODataError(t, err, http.StatusConflict, "conflict")
}

func TestOperationDelete(t *testing.T) {
	e := newEnv(t)
	e.createConnection("sdkdelop")
	id := *e.createOperation("sdkdelop", "", completed).GetId()
	item := e.operations("sdkdelop").ByConnectionOperationId(id)

	if err := item.Delete(t.Context(), nil); err != nil {
		t.Fatalf("delete: %s", describe(err))
	}
	e.wire.wantStatus(t, http.StatusNoContent, http.StatusAccepted)
	_, err := item.Get(t.Context(), nil)
	wantODataError(t, err, http.StatusNotFound, "itemNotFound")
}
