package connections

import (
	"regexp"
	"slices"
	"time"
)

// Status is a connectionOperationStatus member as it appears on the wire.
type Status string

// The members of connectionOperationStatus. inprogress is all lower case in
// Graph's schema; unknownFutureValue is the evolvable-enum sentinel and is never
// stored.
const (
	StatusUnspecified        Status = "unspecified"
	StatusInProgress         Status = "inprogress"
	StatusCompleted          Status = "completed"
	StatusFailed             Status = "failed"
	StatusUnknownFutureValue Status = "unknownFutureValue"
)

var storableStatuses = []Status{StatusUnspecified, StatusInProgress, StatusCompleted, StatusFailed}

// Kind says who started an operation.
type Kind string

// Operation kinds. A client creates KindClient operations itself (POST
// .../operations, the seed's route) and changes them at will; connops
// starts KindSchema ones for a schema registration and finishes them.
const (
	KindClient Kind = "client"
	KindSchema Kind = "schema"
)

// Operation is a connectionOperation: the state of an asynchronous job on a
// connection.
type Operation struct {
	ConnectionID string
	ID           string
	Kind         Kind
	Status       Status
	Error        *PublicError
	// Version grows by one with every update; it is the ETag.
	Version   int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// NewOperation is what a caller may set when creating an operation. Empty ID
// means the service generates one; empty Status means unspecified.
type NewOperation struct {
	ID     string
	Status Status
	Error  *PublicError
}

// Limits on caller-supplied values. They keep one row small and bounded; the
// HTTP body limit sits above the largest value they allow together.
const (
	MaxOperationIDLen   = 128
	MaxErrorCodeLen     = 128
	MaxErrorTargetLen   = 256
	MaxErrorMessageLen  = 4096
	MaxErrorDetails     = 32
	MaxConnectionName   = 128
	MaxConnectionDesc   = 4096
	MaxAuthorizedAppIDs = 32
	MaxAppIDLen         = 128
)

// Operation ids appear in URL paths, so they stay within the unreserved set.
var operationIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// Validate checks the caller's values; the first problem found is returned
// as a *FieldError naming the property.
func (n NewOperation) Validate() error {
	if n.ID != "" {
		if err := ValidateOperationID(n.ID); err != nil {
			return err
		}
	}
	if n.Status != "" {
		if err := validateStoredStatus(n.Status); err != nil {
			return err
		}
	}
	if n.Error != nil {
		return n.Error.validate("error")
	}
	return nil
}

// ValidateOperationID checks an operation id as a client may choose it.
func ValidateOperationID(id string) error {
	if len(id) > MaxOperationIDLen || !operationIDPattern.MatchString(id) {
		return invalidField("id", "must be 1 to %d characters: letters, digits, '.', '_' or '-', starting with a letter or digit", MaxOperationIDLen)
	}
	return nil
}

func validateStoredStatus(s Status) error {
	if slices.Contains(storableStatuses, s) {
		return nil
	}
	if s == StatusUnknownFutureValue {
		return invalidField("status", "cannot be 'unknownFutureValue'; it is a reserved sentinel value")
	}
	return invalidField("status", "has the invalid value '%s'; expected one of unspecified, inprogress, completed, failed", truncate(string(s), 64))
}
