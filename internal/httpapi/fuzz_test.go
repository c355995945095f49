package httpapi

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/connops/connops/internal/connections"
)

// White-box fuzz targets for the decoders that read request bodies before
// any authorization decision matters ($filter and the query string are
// fuzzed in internal/odata). Seed corpora live in testdata/fuzz/<name>; run one with
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
	if len(pub.Message) > 2048+512 {
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
			switch {
			case err != nil:
				wantInvalid(t, err, string(body))
			case n.Validate() != nil:
				// The domain refuses the values; the decoder only judges
				// the shape.
				if !errors.Is(n.Validate(), connections.ErrInvalid) {
					t.Fatalf("Validate of %q: %v", body, n.Validate())
				}
			default:
				if err := checkDepth(body); err != nil {
					t.Fatalf("accepted %q deeper than %d", body, maxJSONDepth)
				}
				// What we would store, rendered in the route's shape and
				// sent back, decodes to the same operation.
				again := wireBody(t, renderOperation(rt, "", connections.Operation{ID: n.ID, Status: n.Status, Error: n.Error}, nil))
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
			if p.Validate() != nil {
				continue
			}
			keep := []string{"status"}
			if p.SetError {
				keep = append(keep, "error")
			}
			again := wireBody(t, renderOperation(rt, "", connections.Operation{Status: p.Status, Error: p.Error}, nil), keep...)
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

// FuzzPlainString: the fast path for unescaped strings reads exactly what
// encoding/json reads, and leaves everything else to it.
func FuzzPlainString(f *testing.F) {
	for _, s := range []string{`"plain text"`, `""`, `"a\"b"`, `"tab\there"`, `"é and 中"`, `"\u0000"`, `"x`, `x"`, `"`, `7`, "\"raw\ttab\""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, ok := plainString(raw)
		if !ok || !utf8.Valid(raw) { // bodies are checked to be UTF-8 first
			return
		}
		var want string
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatalf("plainString(%q) = %q, but encoding/json refuses it: %v", raw, got, err)
		}
		if got != want {
			t.Fatalf("plainString(%q) = %q, encoding/json reads %q", raw, got, want)
		}
	})
}

// FuzzWalkObject: on valid JSON, the walkers find exactly the members and
// elements encoding/json finds.
func FuzzWalkObject(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, ` { "a" : [1, {"b":"}"}], "c\"d" : "e\\\\" , "f":null } `,
		`[1,"x",{"y":[]}]`, `{"a":{"b":{"c":"\\\""}}}`, `"s"`, `[]`, `{"k":tru`, `{"\u0041":true}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if !json.Valid(raw) || !utf8.Valid(raw) { // bodies are checked to be UTF-8 first
			return
		}
		var members map[string]json.RawMessage
		isObject := json.Unmarshal(raw, &members) == nil
		got := map[string]json.RawMessage{}
		ok, err := walkObject(raw, func(key string, value json.RawMessage) error {
			got[key] = value // the last of a repeated key wins, as in encoding/json
			return nil
		})
		if ok != isObject || err != nil {
			t.Fatalf("walkObject(%q): object %v, error %v; encoding/json: object %v", raw, ok, err, isObject)
		}
		for k, v := range members {
			if string(got[k]) != string(v) {
				t.Fatalf("walkObject(%q): member %q = %q, encoding/json %q", raw, k, got[k], v)
			}
		}
		if ok && len(got) != len(members) {
			t.Fatalf("walkObject(%q): %d members, encoding/json %d", raw, len(got), len(members))
		}
		var elems []json.RawMessage
		isArray := json.Unmarshal(raw, &elems) == nil
		walked, ok := walkArray(raw)
		if ok != isArray || len(walked) != len(elems) {
			t.Fatalf("walkArray(%q): %d elements (%v), encoding/json %d (%v)", raw, len(walked), ok, len(elems), isArray)
		}
		for i := range elems {
			if string(walked[i]) != string(elems[i]) {
				t.Fatalf("walkArray(%q)[%d] = %q, encoding/json %q", raw, i, walked[i], elems[i])
			}
		}
	})
}
