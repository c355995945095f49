package httpapi

import (
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
// the one canonical form. Only the shape is checked here; the values are the
// domain's to judge.
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
	n.Status = connections.Status(status)
	if errPresent {
		n.Error = e.canonical()
	}
	return n, err
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

// legacyError is the seed's errorDetail.
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

// renderOperation builds the body for op in the route's shape, with only
// the selected properties.
func renderOperation(rt route, context string, op connections.Operation, selects []string) object {
	body := make(object, 0, 6)
	if context != "" {
		body = body.add("@odata.context", context)
	}
	body = body.add("@odata.etag", etag(op.Version))
	if rt.legacy {
		body = body.add("@odata.type", "#"+typeLegacyOperation)
	}
	body = body.add("id", op.ID)
	if selected(selects, "status") {
		body = body.add("status", op.Status)
	}
	if selected(selects, "error") {
		if rt.legacy {
			body = body.add("error", legacyErrorOf(op.Error))
		} else {
			body = body.add("error", op.Error)
		}
	}
	return body
}

func legacyErrorOf(e *connections.PublicError) *legacyError {
	if e == nil {
		return nil
	}
	le := &legacyError{Type: "#" + typeErrorDetail, Message: e.Message}
	if e.Code != "" {
		le.ErrorCode = &e.Code
	}
	for _, d := range e.Details {
		le.Details = append(le.Details, legacyInner{Type: "#" + typeInnerDetail, Message: d.Message, Source: d.Target})
	}
	return le
}
