package odata

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/connops/connops/internal/connections"
)

// Fuzz targets for the parsers that read the query string before any
// authorization decision matters. Seed corpora live in testdata/fuzz/<name>;
// run one with
//
//	go test -run='^$' -fuzz=FuzzParseFilter -fuzztime=10s ./internal/odata

// wantInvalid fails unless err is an *Error that is a 400 with a bounded
// message.
func wantInvalid(t *testing.T, err error, input string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, connections.ErrInvalid) {
		t.Fatalf("refusal is not an *odata.Error: %T %v (input %q)", err, err, input)
	}
	if e.Message == "" {
		t.Fatalf("refusal without a message (input %q)", input)
	}
	// Messages may quote the client's input, but truncated: never the whole
	// of a long query. The longest legitimate echo is a $filter token.
	if len(e.Message) > MaxFilterLen+512 {
		t.Fatalf("message of %d bytes echoes too much input", len(e.Message))
	}
}

func FuzzParseFilter(f *testing.F) {
	f.Add("status eq 'completed' and not (id in ('a', 'b''c'))")
	f.Fuzz(func(t *testing.T, s string) {
		filter, err := ParseFilter(s)
		if err != nil {
			wantInvalid(t, err, s)
			return
		}
		if len(s) > MaxFilterLen {
			t.Fatalf("accepted a filter of %d bytes", len(s))
		}
		if filter == nil {
			t.Fatalf("accepted %q as an empty filter", s)
		}
		if d := notDepth(filter); d > maxFilterDepth {
			t.Fatalf("accepted %q with %d nested nots", s, d)
		}
		// The domain's check is what bounds the SQL built from a filter; if
		// it passes, the tree is small.
		q := connections.ListQuery{Filter: filter}
		if err := connections.ValidateOperationQuery(&q); err == nil {
			nodes, values := size(filter)
			if nodes > connections.MaxFilterTerms || values > connections.MaxInValues*connections.MaxFilterTerms {
				t.Fatalf("validated %q with %d terms and %d values", s, nodes, values)
			}
		}
		// Printing the tree and parsing it again gives the same tree.
		printed := printFilter(filter, precOr)
		if len(printed) > MaxFilterLen {
			return
		}
		again, err := ParseFilter(printed)
		if err != nil {
			t.Fatalf("%q parsed, but its rendering %q does not: %v", s, printed, err)
		}
		if !reflect.DeepEqual(filter, again) {
			t.Fatalf("%q and its rendering %q parse differently:\n%#v\n%#v", s, printed, filter, again)
		}
	})
}

func notDepth(f connections.Filter) int {
	switch n := f.(type) {
	case connections.Not:
		return 1 + notDepth(n.Operand)
	case connections.And:
		return max(notDepth(n.Left), notDepth(n.Right))
	case connections.Or:
		return max(notDepth(n.Left), notDepth(n.Right))
	}
	return 0
}

func size(f connections.Filter) (nodes, values int) {
	switch n := f.(type) {
	case connections.Not:
		nodes, values = size(n.Operand)
		return nodes + 1, values
	case connections.And:
		ln, lv := size(n.Left)
		rn, rv := size(n.Right)
		return ln + rn + 1, lv + rv
	case connections.Or:
		ln, lv := size(n.Left)
		rn, rv := size(n.Right)
		return ln + rn + 1, lv + rv
	case connections.In:
		return 1, len(n.Values)
	}
	return 1, 1
}

const (
	precOr = iota
	precAnd
	precUnary
)

// printFilter renders f with the fewest parentheses that keep its shape:
// and binds tighter than or, and both associate to the left.
func printFilter(f connections.Filter, prec int) string {
	var s string
	var own int
	switch n := f.(type) {
	case connections.Or:
		s, own = printFilter(n.Left, precOr)+" or "+printFilter(n.Right, precAnd), precOr
	case connections.And:
		s, own = printFilter(n.Left, precAnd)+" and "+printFilter(n.Right, precUnary), precAnd
	case connections.Not:
		s, own = "not "+printFilter(n.Operand, precUnary), precUnary
	case connections.Comparison:
		op := " eq "
		if n.Negate {
			op = " ne "
		}
		s, own = n.Field+op+quote(n.Value), precUnary
	case connections.In:
		var vals []string
		for _, v := range n.Values {
			vals = append(vals, quote(v))
		}
		s, own = n.Field+" in ("+strings.Join(vals, ",")+")", precUnary
	}
	if own < prec {
		return "(" + s + ")"
	}
	return s
}

func quote(v string) string { return "'" + strings.ReplaceAll(v, "'", "''") + "'" }

var listOptions = []string{Top, Skip, Count, Filter, OrderBy, Select, SkipToken}

func FuzzParseQuery(f *testing.F) {
	f.Add("$top=10&$skip=2&$count=true&$filter=status%20eq%20%27failed%27&$orderby=status%20desc,id&$select=id,status")
	codec, _ := NewTokenCodec([]byte("fuzz-key-0123456789abcdef"))
	f.Fuzz(func(t *testing.T, raw string) {
		for _, bare := range []bool{false, true} {
			for _, allowed := range [][]string{listOptions, {Select}, {Filter}} {
				opts, err := Parse(raw, Rules{Allowed: allowed, BarePrefix: bare})
				if err != nil {
					wantInvalid(t, err, raw)
					continue
				}
				for k, v := range opts.Given {
					if !slices.Contains(allowed, k) {
						t.Fatalf("%q let %q through where only %v are allowed", raw, k, allowed)
					}
					if checkText(k, v) != nil {
						t.Fatalf("%q let a value that is not clean text through: %q", raw, v)
					}
				}
				if len(opts.Given[Filter]) > MaxFilterLen {
					t.Fatalf("%q let a $filter of %d bytes through", raw, len(opts.Given[Filter]))
				}
				// A page token minted for these options opens for them, and
				// only gives back the position it carries.
				bound := opts.Given[Filter] + "\x00" + opts.Given[OrderBy]
				cursor := connections.Cursor{"id-1", "x"}
				got, err := codec.Open(codec.Seal(cursor, bound), bound)
				if err != nil || !slices.Equal(got, cursor) {
					t.Fatalf("page token round trip for %q: %v %v", raw, got, err)
				}
			}
		}
	})
}
