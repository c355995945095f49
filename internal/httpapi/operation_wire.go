package httpapi

import (
	"errors"
	"strings"

	"github.com/connops/connops/internal/connections"
)

// Type names of the two representations of a connectionOperation.
const (
	typeOperation       = "microsoft.graph.externalConnectors.connectionOperation"
	typeLegacyOperation = "microsoft.graph.connectionOperation"
	typePublicError     = "microsoft.graph.publicError"
	typeErrorDetail     = "microsoft.graph.errorDetail"
	typeInnerDetail     = "microsoft.graph.innerErrorDetail"
)

// decodeNewOperation reads a create body in the route's shape: publicError on
// current routes, the seed's errorDetail on the legacy beta route. Both land in
// the one canonical form.
func decodeNewOperation(rt route, body []byte) (connections.NewOperation, error) {
	var n connections.NewOperation
	var status string
	var errPresent bool
	var e errorInput
	errFields := e.publicFields()
	if rt.legacy {
		errFields = e.legacyFields()
	}
	err := decodeObject("", body, fields{
		"@odata.type": odataTypeField(typeOperation, typeLegacyOperation),
		"id":          stringField(&n.ID),
		"status":      stringField(&status),
		"error":       objectField(&errPresent, errFields),
	})
	if err != nil {
		return n, err
	}
	n.Status = connections.Status(status)
	if errPresent {
		n.Error = e.canonical()
	}
	if err := n.Validate(); err != nil {
		return n, wireTarget(rt, err)
	}
	return n, nil
}

// errorInput collects an error object while it is decoded.
type errorInput struct {
	pub          connections.PublicError
	inner        connections.InnerError
	innerPresent bool
}

func (e *errorInput) canonical() *connections.PublicError {
	out := e.pub
	if e.innerPresent {
		inner := e.inner
		out.InnerError = &inner
	}
	return &out
}

func (e *errorInput) publicFields() fields {
	return fields{
		"@odata.type": odataTypeField(typePublicError),
		"code":        stringField(&e.pub.Code),
		"message":     stringField(&e.pub.Message),
		"target":      stringField(&e.pub.Target),
		"details":     detailsField(&e.pub.Details),
		"innerError": objectField(&e.innerPresent, fields{
			"@odata.type": odataTypeField("microsoft.graph.publicInnerError"),
			"code":        stringField(&e.inner.Code),
			"message":     stringField(&e.inner.Message),
			"target":      stringField(&e.inner.Target),
			"details":     detailsField(&e.inner.Details),
		}),
	}
}

// legacyFields reads errorDetail: errorCode is the code, and each
// innerErrorDetail's source is the detail's target.
func (e *errorInput) legacyFields() fields {
	return fields{
		"@odata.type": odataTypeField(typeErrorDetail),
		"errorCode":   stringField(&e.pub.Code),
		"message":     stringField(&e.pub.Message),
		"details": arrayField(func(i int) fields {
			e.pub.Details = append(e.pub.Details, connections.ErrorDetail{})
			d := &e.pub.Details[i]
			return fields{
				"@odata.type": odataTypeField(typeInnerDetail),
				"message":     stringField(&d.Message),
				"source":      stringField(&d.Target),
			}
		}),
	}
}

func detailsField(dst *[]connections.ErrorDetail) field {
	return arrayField(func(i int) fields {
		*dst = append(*dst, connections.ErrorDetail{})
		d := &(*dst)[i]
		return fields{
			"@odata.type": odataTypeField("microsoft.graph.publicErrorDetail"),
			"code":        stringField(&d.Code),
			"message":     stringField(&d.Message),
			"target":      stringField(&d.Target),
		}
	})
}

// wireTarget renames a validation target from canonical names to the legacy
// shape's, so the message names the property the client actually sent.
func wireTarget(rt route, err error) error {
	var pub *connections.Error
	if !rt.legacy || !errors.As(err, &pub) || !strings.HasPrefix(pub.Target, "error.") {
		return err
	}
	r := strings.NewReplacer("error.code", "error.errorCode", ".target", ".source")
	renamed := *pub
	renamed.Target = r.Replace(pub.Target)
	renamed.Message = strings.ReplaceAll(pub.Message, pub.Target, renamed.Target)
	return &renamed
}

// operationBody is the current representation.
type operationBody struct {
	Context string                   `json:"@odata.context,omitempty"`
	ETag    string                   `json:"@odata.etag,omitempty"`
	ID      string                   `json:"id"`
	Status  connections.Status       `json:"status"`
	Error   *connections.PublicError `json:"error"`
}

// legacyOperationBody is the seed's beta representation.
type legacyOperationBody struct {
	Context string             `json:"@odata.context,omitempty"`
	ETag    string             `json:"@odata.etag,omitempty"`
	Type    string             `json:"@odata.type"`
	ID      string             `json:"id"`
	Status  connections.Status `json:"status"`
	Error   *legacyError       `json:"error"`
}

type legacyError struct {
	Type      string        `json:"@odata.type"`
	ErrorCode *string       `json:"errorCode"`
	Message   string        `json:"message,omitempty"`
	Details   []legacyInner `json:"details,omitempty"`
}

type legacyInner struct {
	Type    string `json:"@odata.type"`
	Message string `json:"message,omitempty"`
	Source  string `json:"source,omitempty"`
}

// renderOperation builds the body for op in the route's shape.
func renderOperation(rt route, context string, op connections.Operation) any {
	if !rt.legacy {
		return operationBody{Context: context, ETag: etag(op.Version), ID: op.ID, Status: op.Status, Error: op.Error}
	}
	body := legacyOperationBody{Context: context, ETag: etag(op.Version), Type: "#" + typeLegacyOperation, ID: op.ID, Status: op.Status}
	if op.Error != nil {
		le := &legacyError{Type: "#" + typeErrorDetail, Message: op.Error.Message}
		if op.Error.Code != "" {
			le.ErrorCode = &op.Error.Code
		}
		for _, d := range op.Error.Details {
			le.Details = append(le.Details, legacyInner{Type: "#" + typeInnerDetail, Message: d.Message, Source: d.Target})
		}
		body.Error = le
	}
	return body
}
