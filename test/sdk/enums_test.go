package sdk_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/externalconnectors"
)

func TestStatusRoundTrip(t *testing.T) {
	e := newEnv(t)
	e.createConnection("sdkenums")
	for _, status := range []externalconnectors.ConnectionOperationStatus{
		externalconnectors.UNSPECIFIED_CONNECTIONOPERATIONSTATUS, inprogress, completed, failed,
	} {
		t.Run(status.String(), func(t *testing.T) {
			body := newOperation("", status)
			if status == failed {
				pe := models.NewPublicError()
				pe.SetCode(ptr("InvalidSchema"))
				pe.SetMessage(ptr("Property 'priority' cannot be both searchable and refinable."))
				body.SetError(pe)
			}
			created, err := e.operations("sdkenums").Post(t.Context(), body, nil)
			if err != nil {
				t.Fatalf("create: %s", describe(err))
			}
			if sent := e.wire.last(t).body(t); !strings.Contains(sent, `"status":"`+status.String()+`"`) {
				t.Errorf("SDK sent %s", sent)
			}
			got, err := e.operations("sdkenums").ByConnectionOperationId(*created.GetId()).Get(t.Context(), nil)
			if err != nil {
				t.Fatalf("get: %s", describe(err))
			}
			if got.GetStatus() == nil || *got.GetStatus() != status {
				t.Errorf("status = %v, want %s", got.GetStatus(), status)
			}
			if status == failed && (got.GetError() == nil || deref(got.GetError().GetCode()) != "InvalidSchema") {
				t.Errorf("failed operation lost its error: %v", got.GetError())
			}
		})
	}
}

func TestUnknownFutureValueIsRefused(t *testing.T) {
	e := newEnv(t)
	e.createConnection("sdksentinel")
	_, err := e.operations("sdksentinel").Post(t.Context(),
		newOperation("", externalconnectors.UNKNOWNFUTUREVALUE_CONNECTIONOPERATIONSTATUS), nil)
	wantODataError(t, err, http.StatusBadRequest, "invalidRequest")
}
