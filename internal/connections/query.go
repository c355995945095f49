package connections

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
	if q.Top == 0 {
		q.Top = DefaultPageSize
	}
	if q.Top < 1 || q.Top > MaxPageSize {
		return invalid("$top", "Query option '$top' must be between 1 and %d.", MaxPageSize)
	}
	if q.Skip < 0 {
		return invalid("$skip", "Query option '$skip' must not be negative.")
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
	if q.After != nil && len(q.After) != len(q.OrderBy) {
		return invalid("$skiptoken", "Query option '$skiptoken' does not belong to this query.")
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
		if Status(value) == StatusUnknownFutureValue {
			return nil
		}
		for _, s := range storableStatuses {
			if Status(value) == s {
				return nil
			}
		}
		return invalid("$filter", "Query option '$filter' compares status with '%s', which is not a connectionOperationStatus member.", truncate(value, 64))
	}
	return invalid("$filter", "Query option '$filter' cannot filter on '%s'; operations filter on id and status.", truncate(field, 64))
}
