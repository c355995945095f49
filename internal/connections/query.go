package connections

import (
	"slices"
	"strings"
)

// Filter is a parsed $filter expression over operations: comparisons of id or
// status with literals, combined with and, or, not.
type Filter interface{ filterNode() }

// Comparison is `field eq 'v'` or `field ne 'v'`.
type Comparison struct {
	Field  string
	Negate bool // ne rather than eq
	Value  string
}

// In is `field in ('a', 'b')`.
type In struct {
	Field  string
	Values []string
}

// And, Or and Not combine filters.
type (
	And struct{ Left, Right Filter }
	Or  struct{ Left, Right Filter }
	Not struct{ Operand Filter }
)

func (Comparison) filterNode() {}
func (In) filterNode()         {}
func (And) filterNode()        {}
func (Or) filterNode()         {}
func (Not) filterNode()        {}

// Properties of an operation that lists can filter and order on.
const (
	FieldID     = "id"
	FieldStatus = "status"
)

// OrderKey is one $orderby term.
type OrderKey struct {
	Field      string
	Descending bool
}

// Cursor marks where the previous page ended: the values of the order keys
// (always ending with id) of its last row.
type Cursor []string

// Paging limits for lists.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
	// MaxSkip bounds $skip: skipping costs the database a scan of every
	// skipped row, so deep offsets are refused; pages beyond come from the
	// nextLink's $skiptoken, which seeks by key instead.
	MaxSkip = 10_000
	// DefaultPageBytes bounds the encoded size of one page: a page ends
	// early, with a nextLink, once its items reach it, so a list of large
	// items never costs more than about this much memory to answer.
	DefaultPageBytes = 1 << 20
	// MaxFilterTerms bounds how much work one $filter can ask of the database:
	// it counts comparisons and the and/or/not operators joining them.
	MaxFilterTerms = 32
	// MaxInValues bounds one `in` list.
	MaxInValues = 100
)

// ListQuery asks for one page of a list.
type ListQuery struct {
	Filter  Filter
	OrderBy []OrderKey
	Top     int
	Skip    int
	After   Cursor
	Count   bool
	// Fields are the properties the caller selected; empty means all. A
	// store need not load what is not selected.
	Fields []string
	// MaxBytes bounds the page's size as the store estimates it from the
	// rows' stored sizes; 0 means DefaultPageBytes. A page always holds at
	// least one item when there is one.
	MaxBytes int
}

// Selects reports whether field is to be returned.
func (q ListQuery) Selects(field string) bool {
	return len(q.Fields) == 0 || slices.Contains(q.Fields, field)
}

// Page is one page of a list. Next is nil on the last page; Count is set
// when the query asked for it.
type Page[T any] struct {
	Items []T
	Next  Cursor
	Count *int64
}

// ValidateOperationQuery checks a list query against what operations support
// and completes its order with the id tie-breaker keyset paging needs.
func ValidateOperationQuery(q *ListQuery) error {
	if err := validatePaging(q); err != nil {
		return err
	}
	if err := validateFields(q.Fields, operationFields); err != nil {
		return err
	}
	if q.Filter != nil {
		terms := 0
		if err := validateFilter(q.Filter, &terms); err != nil {
			return err
		}
	}
	seen := map[string]bool{}
	for _, k := range q.OrderBy {
		if k.Field != FieldID && k.Field != FieldStatus {
			return invalid("$orderby", "Query option '$orderby' cannot sort by '%s'; operations sort by id or status.", truncate(k.Field, 64))
		}
		if seen[k.Field] {
			return invalid("$orderby", "Query option '$orderby' names '%s' twice.", k.Field)
		}
		seen[k.Field] = true
	}
	if !seen[FieldID] {
		q.OrderBy = append(q.OrderBy, OrderKey{Field: FieldID})
	}
	return validateCursor(q)
}

// operationFields are the properties of an operation, for $select.
var operationFields = []string{FieldID, FieldStatus, "error"}

// validatePaging checks $top and $skip and fills in the defaults.
func validatePaging(q *ListQuery) error {
	if q.Top == 0 {
		q.Top = DefaultPageSize
	}
	if q.Top < 1 || q.Top > MaxPageSize {
		return invalid("$top", "Query option '$top' must be an integer from 1 to %d.", MaxPageSize)
	}
	if q.Skip < 0 || q.Skip > MaxSkip {
		return invalid("$skip", "Query option '$skip' must be an integer from 0 to %d; follow @odata.nextLink to page further.", MaxSkip)
	}
	if q.MaxBytes <= 0 {
		q.MaxBytes = DefaultPageBytes
	}
	return nil
}

func validateFields(fields, known []string) error {
	for _, f := range fields {
		if !slices.Contains(known, f) {
			return invalid("$select", "Query option '$select' names '%s', which is not a property here; use %s.",
				truncate(f, 64), strings.Join(known, ", "))
		}
	}
	return nil
}

// validateCursor checks that a page token's position fits the query's
// order: one value per key, each a value the key's column can hold. The
// token is sealed, so a mismatch means a token of another query.
func validateCursor(q *ListQuery) error {
	if q.After == nil {
		return nil
	}
	bad := invalid("$skiptoken", "Query option '$skiptoken' does not belong to this query.")
	if len(q.After) != len(q.OrderBy) {
		return bad
	}
	for i, k := range q.OrderBy {
		if k.Field == FieldStatus && !slices.Contains(storableStatuses, Status(q.After[i])) {
			return bad
		}
		if checkText("$skiptoken", q.After[i]) != nil {
			return bad
		}
	}
	return nil
}

func validateFilter(f Filter, terms *int) error {
	*terms++
	if *terms > MaxFilterTerms {
		return invalid("$filter", "Query option '$filter' is too complex: more than %d comparisons and logical operators together.", MaxFilterTerms)
	}
	switch n := f.(type) {
	case Comparison:
		return validateFilterValue(n.Field, n.Value)
	case In:
		if len(n.Values) == 0 || len(n.Values) > MaxInValues {
			return invalid("$filter", "Query option '$filter' has an 'in' list with %d values; 1 to %d are allowed.", len(n.Values), MaxInValues)
		}
		for _, v := range n.Values {
			if err := validateFilterValue(n.Field, v); err != nil {
				return err
			}
		}
		return nil
	case And:
		if err := validateFilter(n.Left, terms); err != nil {
			return err
		}
		return validateFilter(n.Right, terms)
	case Or:
		if err := validateFilter(n.Left, terms); err != nil {
			return err
		}
		return validateFilter(n.Right, terms)
	case Not:
		return validateFilter(n.Operand, terms)
	}
	return invalid("$filter", "Query option '$filter' is not supported.")
}

func validateFilterValue(field, value string) error {
	switch field {
	case FieldID:
		return nil
	case FieldStatus:
		if Status(value) == StatusUnknownFutureValue || slices.Contains(storableStatuses, Status(value)) {
			return nil
		}
		return invalid("$filter", "Query option '$filter' compares status with '%s', which is not a connectionOperationStatus member.", truncate(value, 64))
	}
	return invalid("$filter", "Query option '$filter' cannot filter on '%s'; operations filter on id and status.", truncate(field, 64))
}
