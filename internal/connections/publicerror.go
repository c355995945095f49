package connections

import "fmt"

// PublicError is the canonical form of an operation's error: Graph's current
// publicError. It is what the database stores (as JSONB, through these JSON
// tags); the legacy beta errorDetail shape is rendered from it.
type PublicError struct {
	Code       string        `json:"code,omitempty"`
	Message    string        `json:"message,omitempty"`
	Target     string        `json:"target,omitempty"`
	Details    []ErrorDetail `json:"details,omitempty"`
	InnerError *InnerError   `json:"innerError,omitempty"`
}

// ErrorDetail is publicErrorDetail.
type ErrorDetail struct {
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	Target  string `json:"target,omitempty"`
}

// InnerError is publicInnerError.
type InnerError struct {
	Code    string        `json:"code,omitempty"`
	Message string        `json:"message,omitempty"`
	Target  string        `json:"target,omitempty"`
	Details []ErrorDetail `json:"details,omitempty"`
}

func (e PublicError) validate(path string) error {
	if err := checkTriple(path, e.Code, e.Message, e.Target); err != nil {
		return err
	}
	if err := checkDetails(path+".details", e.Details); err != nil {
		return err
	}
	if e.InnerError != nil {
		in := e.InnerError
		if err := checkTriple(path+".innerError", in.Code, in.Message, in.Target); err != nil {
			return err
		}
		return checkDetails(path+".innerError.details", in.Details)
	}
	return nil
}

func checkTriple(path, code, message, target string) error {
	if err := checkLen(path+".code", code, MaxErrorCodeLen); err != nil {
		return err
	}
	if err := checkLen(path+".message", message, MaxErrorMessageLen); err != nil {
		return err
	}
	return checkLen(path+".target", target, MaxErrorTargetLen)
}

func checkDetails(path string, details []ErrorDetail) error {
	if len(details) > MaxErrorDetails {
		return invalidField(path, "has more than %d entries", MaxErrorDetails)
	}
	for i, d := range details {
		if err := checkTriple(fmt.Sprintf("%s[%d]", path, i), d.Code, d.Message, d.Target); err != nil {
			return err
		}
	}
	return nil
}
