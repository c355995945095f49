package httpapi

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/connops/connops/internal/connections"
)

// White-box fuzz targets for the parsers that read client input before any
// authorization decision matters: request bodies, $filter and the query
// string. Seed corpora live in testdata/fuzz/<name>; run one with
//
//	go test -run='^$' -fuzz=FuzzDecodeOperation -fuzztime=10s ./internal/httpapi

var (
	currentRoute = route{version: "v1.0", set: "external/connections"}
	legacyRoute  = route{version: "beta", set: "connections", legacy: true}
)

// wantInvalid fails unless err is a caller-facing 400 with a bounded message.
func wantInvalid(t *testing.T, err error, input string) {
	t.Helper()
	var pub *connections.Error
	if !errors.As(err, &pub) || !errors.Is(err, connections.ErrInvalid) {
		t.Fatalf("refusal is not a 400 *connections.Error: %T %v (input %q)", err, err, input)
	}
	if pub.Message == "" {
		t.Fatalf("refusal without a message (input %q)", input)
	}
	// Messages may quote the client's input, but truncated: never the whole of
	// a large body. The longest legitimate echo is a $filter token.
	if len(pub.Message) > maxFilterLen+512 {
		t.Fatalf("message of %d bytes echoes too much input", len(pub.Message))
	}
}

// wireBody renders v as JSON and drops the response-only annotations, so it
// can be sent back as a request body.
func wireBody(t *testing.T, v any, keep ...string) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "@odata.etag")
	delete(m, "@odata.context")
	if keep != nil {
		for k := range m {
			if !slices.Contains(keep, k) {
				delete(m, k)
			}
		}
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func FuzzDecodeOperation(f *testing.F) {
	f.Add([]byte(`{"id":"op1","status":"inprogress","error":{"code":"c","message":"m","details":[{"message":"d"}],"innerError":{"code":"i"}}}`))
	f.Add([]byte(`{"@odata.type":"#microsoft.graph.connectionOperation","status":"failed","error":{"errorCode":"c","details":[{"source":"s"}]}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, rt := range []route{currentRoute, legacyRoute} {
			n, err := decodeNewOperation(rt, body)
			if err != nil {
				wantInvalid(t, err, string(body))
			} else {
				if err := n.Validate(); err != nil {
					t.Fatalf("accepted %q, but Validate says %v", body, err)
				}
				if err := checkDepth(body); err != nil {
					t.Fatalf("accepted %q deeper than %d", body, maxJSONDepth)
				}
				// What we would store, rendered in the route's shape and
				// sent back, decodes to the same operation.
				again := wireBody(t, renderOperation(rt, "", connections.Operation{ID: n.ID, Status: n.Status, Error: n.Error}))
				n2, err := decodeNewOperation(rt, again)
				if err != nil {
					t.Fatalf("re-encoded %q is refused: %v (from %q)", again, err, body)
				}
				if !reflect.DeepEqual(n, n2) {
					t.Fatalf("round trip differs:\n%#v\n%#v\nvia %s", n, n2, again)
				}
			}

			p, err := decodeOperationPatch(rt, body)
			if err != nil {
				wantInvalid(t, err, string(body))
				continue
			}
			if err := p.Validate(); err != nil {
				t.Fatalf("accepted patch %q, but Validate says %v", body, err)
			}
			keep := []string{"status"}
			if p.SetError {
				keep = append(keep, "error")
			}
			again := wireBody(t, renderOperation(rt, "", connections.Operation{Status: p.Status, Error: p.Error}), keep...)
			p2, err := decodeOperationPatch(rt, again)
			if err != nil {
				t.Fatalf("re-encoded patch %q is refused: %v (from %q)", again, err, body)
			}
			if !reflect.DeepEqual(p, p2) {
				t.Fatalf("patch round trip differs:\n%#v\n%#v\nvia %s", p, p2, again)
			}
		}
	})
}

func FuzzParseFilter(f *testing.F) {
	f.Add("status eq 'completed' and not (id in ('a', 'b''c'))")
	f.Fuzz(func(t *testing.T, s string) {
		filter, err := parseFilter(s)
		if err != nil {
			wantInvalid(t, err, s)
			return
		}
		if len(s) > maxFilterLen {
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
		if len(printed) > maxFilterLen {
			return
		}
		again, err := parseFilter(printed)
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

func FuzzParseQuery(f *testing.F) {
	f.Add("$top=10&$skip=2&$count=true&$filter=status%20eq%20%27failed%27&$orderby=status%20desc,id&$select=id,status")
	f.Fuzz(func(t *testing.T, raw string) {
		for _, rt := range []route{currentRoute, {version: "beta", set: "external/connections"}} {
			for _, allowed := range [][]string{listOptions, getOptions, countOptions} {
				c, _ := gin.CreateTestContext(httptest.NewRecorder())
				c.Request = httptest.NewRequest("GET", "/", nil)
				c.Request.URL.RawQuery = raw
				opts, err := parseQuery(c, rt, allowed, operationProperties)
				if err != nil {
					wantInvalid(t, err, raw)
					continue
				}
				checkOptions(t, raw, opts, allowed)
			}
		}
	})
}

func checkOptions(t *testing.T, raw string, opts queryOptions, allowed []string) {
	t.Helper()
	l := opts.list
	if l.Top < 0 || l.Top > connections.MaxPageSize || l.Skip < 0 {
		t.Fatalf("%q gave $top %d, $skip %d", raw, l.Top, l.Skip)
	}
	for k := range opts.raw {
		if !slices.Contains(allowed, k) {
			t.Fatalf("%q let %q through where only %v are allowed", raw, k, allowed)
		}
	}
	for _, s := range opts.selects {
		if !slices.Contains(operationProperties, s) {
			t.Fatalf("%q selects %q", raw, s)
		}
	}
	if len(opts.filter) > maxFilterLen {
		t.Fatalf("%q let a $filter of %d bytes through", raw, len(opts.filter))
	}
	// A page token minted for these options is accepted by them, and only
	// gives back the position it carries.
	cursor := connections.Cursor{"id-1", "x"}
	got, err := opts.decodeSkipToken(opts.encodeSkipToken(cursor))
	if err != nil || !slices.Equal(got, cursor) {
		t.Fatalf("page token round trip for %q: %v %v", raw, got, err)
	}
}

func TestCheckDepth(t *testing.T) {
	tests := []struct {
		name string
		body string
		ok   bool
	}{
		{"flat", `{"a":1}`, true},
		{"at the limit", strings.Repeat("[", maxJSONDepth) + strings.Repeat("]", maxJSONDepth), true},
		{"one past", strings.Repeat("[", maxJSONDepth+1), false},
		{"objects count", strings.Repeat(`{"a":`, maxJSONDepth+1), false},
		{"siblings do not add up", strings.Repeat(`[[[[[[[[]]]]]]]],`, 10), true},
		{"brackets in a string", `{"a":"` + strings.Repeat("[", 100) + `"}`, true},
		{"escaped quote keeps the string open", `{"a":"\"` + strings.Repeat("[", 100) + `"}`, true},
		{"escaped backslash closes it", `{"a":"\\"` + strings.Repeat("[", 100) + `}`, false},
		{"unicode escape", `{"a":"\u0022` + strings.Repeat("{", 100) + `"}`, true},
		{"unbalanced closers", strings.Repeat("]", 100) + strings.Repeat("[", maxJSONDepth), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkDepth([]byte(tt.body))
			if (err == nil) != tt.ok {
				t.Fatalf("checkDepth = %v, want ok %v", err, tt.ok)
			}
			if err != nil && !strings.Contains(err.Error(), "16") {
				t.Errorf("message %q does not name the limit", err)
			}
		})
	}
}
