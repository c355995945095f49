package sdk_test

import (
	"net/http"
	"testing"
)

func TestErrorsAreODataErrors(t *testing.T) {
	e := newEnv(t)
	e.createConnection("sdkerrs")

	tests := []struct {
		name   string
		call   func() error
		status int
		code   string
	}{
		{
			name: "connection id with a hyphen",
			call: func() error {
				body := newConnectionBody("bad-id")
				_, err := e.connections().Post(t.Context(), body, nil)
				return err
			},
			status: http.StatusBadRequest, code: "invalidRequest",
		},
		{
			name: "duplicate connection id",
			call: func() error {
				_, err := e.connections().Post(t.Context(), newConnectionBody("sdkerrs"), nil)
				return err
			},
			status: http.StatusConflict, code: "nameAlreadyExists",
		},
		{
			name: "missing connection",
			call: func() error {
				_, err := e.connections().ByExternalConnectionId("nosuchconn").Get(t.Context(), nil)
				return err
			},
			status: http.StatusNotFound, code: "itemNotFound",
		},
		{
			name: "missing operation",
			call: func() error {
				_, err := e.operations("sdkerrs").ByConnectionOperationId("nosuchop").Get(t.Context(), nil)
				return err
			},
			status: http.StatusNotFound, code: "itemNotFound",
		},
		{
			name: "operation on a missing connection",
			call: func() error {
				_, err := e.operations("nosuchconn").Post(t.Context(), newOperation("", inprogress), nil)
				return err
			},
			status: http.StatusNotFound, code: "itemNotFound",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			odataErr := wantODataError(t, tt.call(), tt.status, tt.code)
			inner := odataErr.GetErrorEscaped().GetInnerError()
			if inner == nil || inner.GetRequestId() == nil || inner.GetDate() == nil {
				t.Errorf("innerError request-id/date not parsed by the SDK: %+v", inner)
			}
			if odataErr.ResponseHeaders == nil || len(odataErr.ResponseHeaders.Get("request-id")) == 0 {
				t.Errorf("request-id response header not attached to the ODataError")
			}
		})
	}
}
