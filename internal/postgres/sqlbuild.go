package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/connops/connops/internal/connections"
)

// query assembles a statement whose WHERE and ORDER BY depend on the list
// options. Only fixed column names and operators are ever written into the
// text; every value the caller gave travels as a bind parameter.
type query struct {
	sql  strings.Builder
	args []any
}

func (q *query) bind(v any) string {
	q.args = append(q.args, v)
	return fmt.Sprintf("$%d", len(q.args))
}

// operationColumn maps a filterable property to its column and the cast its
// literals need.
func operationColumn(field string) (column, cast string) {
	if field == connections.FieldStatus {
		return "o.status", "::operation_status"
	}
	return "o.id", ""
}

// pageColumn is operationColumn for the outer query over a page.
func pageColumn(field string) (column, cast string) {
	if field == connections.FieldStatus {
		return "p.status", ""
	}
	return "p.id", ""
}

// writeFilter renders a validated filter over operations.
func (q *query) writeFilter(f connections.Filter) { q.writeFilterWith(f, operationColumn) }

// writeFilterWith renders a validated filter tree, with column naming the
// column (and literal cast) of each property.
func (q *query) writeFilterWith(f connections.Filter, column func(string) (string, string)) {
	switch n := f.(type) {
	case connections.Comparison:
		col, cast := column(n.Field)
		if n.Field == connections.FieldStatus && connections.Status(n.Value) == connections.StatusUnknownFutureValue {
			// No stored member lies beyond the sentinel, so eq matches nothing.
			q.sql.WriteString(map[bool]string{false: "false", true: "true"}[n.Negate])
			return
		}
		op := " = "
		if n.Negate {
			op = " <> "
		}
		q.sql.WriteString(col + op + q.bind(n.Value) + cast)
	case connections.In:
		col, cast := column(n.Field)
		values := n.Values
		if n.Field == connections.FieldStatus {
			values = withoutSentinel(values)
		}
		q.sql.WriteString(col + " = ANY(" + q.bind(values))
		if cast != "" {
			q.sql.WriteString(cast + "[]")
		}
		q.sql.WriteString(")")
	case connections.And:
		q.writeBinary(n.Left, " AND ", n.Right, column)
	case connections.Or:
		q.writeBinary(n.Left, " OR ", n.Right, column)
	case connections.Not:
		q.sql.WriteString("NOT (")
		q.writeFilterWith(n.Operand, column)
		q.sql.WriteString(")")
	}
}

func (q *query) writeBinary(left connections.Filter, op string, right connections.Filter, column func(string) (string, string)) {
	q.sql.WriteString("(")
	q.writeFilterWith(left, column)
	q.sql.WriteString(op)
	q.writeFilterWith(right, column)
	q.sql.WriteString(")")
}

func withoutSentinel(values []string) []string {
	out := make([]string, 0, len(values))
	for _, v := range values {
		if connections.Status(v) != connections.StatusUnknownFutureValue {
			out = append(out, v)
		}
	}
	return out
}

// writeAfter renders the keyset condition "comes after the cursor" for the
// given order: (k1 > v1) OR (k1 = v1 AND k2 > v2) OR ..., with < for
// descending keys. Unlike OFFSET, it stays correct while rows are inserted.
func (q *query) writeAfter(order []connections.OrderKey, after connections.Cursor, column func(string) (string, string)) {
	q.sql.WriteString("(")
	for i, k := range order {
		if i > 0 {
			q.sql.WriteString(" OR ")
		}
		q.sql.WriteString("(")
		for j := 0; j < i; j++ {
			col, cast := column(order[j].Field)
			q.sql.WriteString(col + " = " + q.bind(after[j]) + cast + " AND ")
		}
		col, cast := column(k.Field)
		cmp := " > "
		if k.Descending {
			cmp = " < "
		}
		q.sql.WriteString(col + cmp + q.bind(after[i]) + cast + ")")
	}
	q.sql.WriteString(")")
}

func (q *query) writeOrder(order []connections.OrderKey, column func(string) (string, string)) {
	q.sql.WriteString(" ORDER BY ")
	for i, k := range order {
		if i > 0 {
			q.sql.WriteString(", ")
		}
		col, _ := column(k.Field)
		q.sql.WriteString(col)
		if k.Descending {
			q.sql.WriteString(" DESC")
		}
	}
}

// writePage ends a list query: rows after the cursor, in the query's order,
// one more than a page so the presence of a next page is known without a
// second query.
func (q *query) writePage(lq connections.ListQuery, column func(string) (string, string)) {
	if lq.After != nil {
		q.sql.WriteString(" AND ")
		q.writeAfter(lq.OrderBy, lq.After, column)
	}
	q.writeOrder(lq.OrderBy, column)
	q.sql.WriteString(" LIMIT " + q.bind(lq.Top+1) + " OFFSET " + q.bind(lq.Skip))
}

// selectPage runs a query built with writePage and cuts the rows to one
// page; when there is more, Next holds the order-key values of the page's
// last row, as key reads them.
func selectPage[T any](ctx context.Context, pool *pgxpool.Pool, q *query, lq connections.ListQuery,
	scan pgx.RowToFunc[T], key func(T, string) string) (connections.Page[T], error) {
	var page connections.Page[T]
	rows, err := pool.Query(ctx, q.sql.String(), q.args...)
	if err != nil {
		return page, domainError(err)
	}
	if page.Items, err = pgx.CollectRows(rows, scan); err != nil {
		return page, domainError(err)
	}
	if len(page.Items) > lq.Top {
		page.Items = page.Items[:lq.Top]
		last := page.Items[lq.Top-1]
		for _, k := range lq.OrderBy {
			page.Next = append(page.Next, key(last, k.Field))
		}
	}
	return page, nil
}
