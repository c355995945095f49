package sdk_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/microsoftgraph/msgraph-sdk-go/external"
	"github.com/microsoftgraph/msgraph-sdk-go/models/externalconnectors"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
)

func (e *env) connections() *external.ConnectionsRequestBuilder {
	return e.client.External().Connections()
}

func (e *env) operations(connectionID string) *external.ConnectionsItemOperationsRequestBuilder {
	return e.connections().ByExternalConnectionId(connectionID).Operations()
}

// createConnection makes a connection through the SDK or fails the test.
func (e *env) createConnection(id string) externalconnectors.ExternalConnectionable {
	e.t.Helper()
	body := newConnectionBody(id)
	body.SetDescription(ptr("Created by the SDK suite."))
	conn, err := e.connections().Post(e.t.Context(), body, nil)
	if err != nil {
		e.t.Fatalf("create connection %s: %s", id, describe(err))
	}
	return conn
}

// createOperation makes an operation with status (and id, when not empty).
func (e *env) createOperation(connectionID, id string, status externalconnectors.ConnectionOperationStatus) externalconnectors.ConnectionOperationable {
	e.t.Helper()
	op, err := e.operations(connectionID).Post(e.t.Context(), newOperation(id, status), nil)
	if err != nil {
		e.t.Fatalf("create operation %q: %s", id, describe(err))
	}
	if op == nil || op.GetId() == nil || *op.GetId() == "" {
		e.t.Fatalf("create operation %q: no entity with an id in the answer", id)
	}
	return op
}

func newOperation(id string, status externalconnectors.ConnectionOperationStatus) *externalconnectors.ConnectionOperation {
	op := externalconnectors.NewConnectionOperation()
	if id != "" {
		op.SetId(ptr(id))
	}
	op.SetStatus(&status)
	return op
}

// wantODataError checks err is the SDK's ODataError with status and code,
// and that the SDK can render it.
func wantODataError(t *testing.T, err error, status int, code string) *odataerrors.ODataError {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want ODataError %d %s", status, code)
	}
	var odataErr *odataerrors.ODataError
	if !errors.As(err, &odataErr) {
		t.Fatalf("error is %T, not *odataerrors.ODataError: %v", err, err)
	}
	if odataErr.ResponseStatusCode != status {
		t.Errorf("ResponseStatusCode = %d, want %d (%s)", odataErr.ResponseStatusCode, status, describe(err))
	}
	main := odataErr.GetErrorEscaped()
	if main == nil {
		t.Fatalf("ODataError has no error object")
	}
	if main.GetCode() == nil || *main.GetCode() != code {
		t.Errorf("error.code = %v, want %s", deref(main.GetCode()), code)
	}
	if main.GetMessage() == nil || *main.GetMessage() == "" {
		t.Errorf("error.message is missing or empty")
	}
	_ = err.Error() // panics in the SDK when error.message is absent
	return odataErr
}

// describe renders an SDK error with the Graph code and message when present.
func describe(err error) string {
	var odataErr *odataerrors.ODataError
	if errors.As(err, &odataErr) {
		main := odataErr.GetErrorEscaped()
		if main == nil {
			return fmt.Sprintf("ODataError %d without error object", odataErr.ResponseStatusCode)
		}
		return fmt.Sprintf("ODataError %d %s: %s", odataErr.ResponseStatusCode, deref(main.GetCode()), deref(main.GetMessage()))
	}
	return fmt.Sprintf("%T: %v", err, err)
}

func ptr[T any](v T) *T { return &v }

func deref[T any](p *T) any {
	if p == nil {
		return "<nil>"
	}
	return *p
}

func newConnectionBody(id string) *externalconnectors.ExternalConnection {
	body := externalconnectors.NewExternalConnection()
	body.SetId(ptr(id))
	body.SetName(ptr("Connection " + id))
	return body
}
