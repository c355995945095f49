package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/connops/connops/internal/connections"
)

// The decoders here read request bodies strictly: one JSON object, no trailing
// data, no duplicate or unknown properties, and each property of the expected
// JSON type. Every refusal names the property, so a client knows what to fix.
// JSON null counts as "not given" for optional properties.

// field decodes one property's raw value; path is its full name for messages.
type field func(path string, raw json.RawMessage) error

type fields map[string]field

func badRequest(target, format string, args ...any) error {
	return &connections.Error{Kind: connections.ErrInvalid, Target: target, Message: fmt.Sprintf(format, args...)}
}

// errBodyTooLarge is answered with 413.
var errBodyTooLarge = errors.New("request body too large")

func tooLargeMessage(limit int64) string {
	return "The request body is larger than the limit of " + strconv.FormatInt(limit, 10) + " bytes."
}

// readBody reads the whole (size-capped) body. A body that stops arriving
// until the server's read deadline is the client's delay: errRequestTimeout.
// Bytes that are not UTF-8 are refused here, before encoding/json would
// quietly turn them into U+FFFD and store something the client never sent.
func readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(r.Body)
	var tooLarge *http.MaxBytesError
	var netErr net.Error
	switch {
	case errors.As(err, &tooLarge):
		return nil, errBodyTooLarge
	case errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()):
		return nil, errRequestTimeout
	case err != nil:
		return nil, badRequest("", "The request body could not be read.")
	case len(bytes.TrimSpace(body)) == 0:
		return nil, badRequest("", "The request body is empty; a JSON object is required.")
	case !utf8.Valid(body):
		return nil, badRequest("", "The request body is not valid UTF-8.")
	}
	return body, nil
}

// maxJSONDepth caps how deeply a request body may nest objects and arrays. The
// deepest body the API accepts nests 8 levels (an inner error's details inside
// a $batch request), so 16 leaves room. Deeper bodies are refused up front with
// a message naming the limit, rather than walked by encoding/json, which
// allows 10000 levels.
const maxJSONDepth = 16

// checkDepth refuses raw if its objects and arrays nest deeper than
// maxJSONDepth. It only counts brackets outside strings; the decoder still
// judges whether the JSON is valid.
func checkDepth(raw []byte) error {
	depth := 0
	inString, escaped := false, false
	for _, b := range raw {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case b == '\\':
				escaped = true
			case b == '"':
				inString = false
			}
		case b == '"':
			inString = true
		case b == '{' || b == '[':
			depth++
			if depth > maxJSONDepth {
				return badRequest("", "The request body nests objects and arrays deeper than the limit of %d levels.", maxJSONDepth)
			}
		case b == '}' || b == ']':
			depth--
		}
	}
	return nil
}

// decodeObject walks one JSON object held in raw, handing each property to its
// field decoder. The whole body (path "") is checked first, for depth and
// validity; nested objects are parts of a body already checked, so their
// members are found by walkObject alone.
func decodeObject(path string, raw []byte, known fields) error {
	if path == "" {
		if err := checkDepth(raw); err != nil {
			return err
		}
		if !json.Valid(raw) {
			return decodeTokens(raw, known)
		}
	}
	seen := map[string]bool{}
	isObject, err := walkObject(raw, func(key string, value json.RawMessage) error {
		return decodeMember(path, key, value, seen, known)
	})
	if !isObject {
		what := "The request body"
		if path != "" {
			what = "Property '" + path + "'"
		}
		return badRequest(path, "%s must be a JSON object.", what)
	}
	return err
}

func decodeMember(path, key string, value json.RawMessage, seen map[string]bool, known fields) error {
	name := joinPath(path, key)
	if seen[key] {
		return badRequest(name, "Property '%s' appears more than once.", name)
	}
	seen[key] = true
	decode, ok := known[key]
	if !ok {
		return badRequest(name, "Property '%s' is not a known property of this resource.", name)
	}
	return decode(name, value)
}

// decodeTokens walks a body that is not valid JSON with encoding/json's
// tokens, so the refusal is the first problem in reading order, a
// property's or the syntax's, worded with where the syntax breaks.
func decodeTokens(raw []byte, known fields) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	const what = "The request body"
	tok, err := dec.Token()
	if err != nil {
		return badRequest("", "%s is not valid JSON: %s.", what, jsonProblem(err))
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return badRequest("", "%s must be a JSON object.", what)
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return badRequest("", "%s is not valid JSON: %s.", what, jsonProblem(err))
		}
		key, _ := tok.(string)
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return badRequest("", "%s is not valid JSON: %s.", what, jsonProblem(err))
		}
		if err := decodeMember("", key, value, seen, known); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return badRequest("", "%s is not valid JSON: %s.", what, jsonProblem(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("", "%s has data after the end of the JSON object.", what)
	}
	return nil
}

func jsonProblem(err error) string {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "it ends too early"
	}
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) {
		return fmt.Sprintf("%s at byte %d", syntax.Error(), syntax.Offset)
	}
	return "it is malformed"
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// stringField stores a JSON string (or leaves dst alone for null).
func stringField(dst *string) field {
	return func(path string, raw json.RawMessage) error {
		if isNull(raw) {
			return nil
		}
		if s, ok := plainString(raw); ok {
			*dst = s
			return nil
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return badRequest(path, "Property '%s' must be a string.", path)
		}
		return nil
	}
}

// plainString reads a JSON string with no escapes without encoding/json,
// which scans it twice more (an item's content is kilobytes of it). raw is
// a value the decoder has already checked, inside a body already checked to
// be UTF-8, so a quote at each end and no backslash, quote or control
// character between them is exactly a string whose text is the bytes.
func plainString(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	inner := raw[1 : len(raw)-1]
	for _, b := range inner {
		if b < 0x20 || b == '"' || b == '\\' {
			return "", false
		}
	}
	return string(inner), true
}

// stringArrayField stores a JSON array of strings.
func stringArrayField(dst *[]string) field {
	return func(path string, raw json.RawMessage) error {
		if isNull(raw) {
			return nil
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return badRequest(path, "Property '%s' must be an array of strings.", path)
		}
		return nil
	}
}

// boolField stores a boolean sent as a JSON boolean or, as real clients
// and Graph's own samples do, as the string "true" or "false".
func boolField(dst *bool) field {
	return func(path string, raw json.RawMessage) error {
		if isNull(raw) {
			return nil
		}
		if json.Unmarshal(raw, dst) == nil {
			return nil
		}
		var s string
		if json.Unmarshal(raw, &s) == nil {
			switch strings.ToLower(s) {
			case "true":
				*dst = true
				return nil
			case "false":
				*dst = false
				return nil
			}
		}
		return badRequest(path, "Property '%s' must be true or false.", path)
	}
}

// intField stores a JSON integer.
func intField(dst *int64) field {
	return func(path string, raw json.RawMessage) error {
		if isNull(raw) {
			return nil
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return badRequest(path, "Property '%s' must be an integer.", path)
		}
		return nil
	}
}

// rawObjectField keeps a JSON object as sent, compacted: a document such
// as an Adaptive Card that connops stores but does not interpret.
func rawObjectField(dst *[]byte) field {
	return func(path string, raw json.RawMessage) error {
		if isNull(raw) {
			return nil
		}
		trimmed := bytes.TrimSpace(raw)
		if len(trimmed) == 0 || trimmed[0] != '{' {
			return badRequest(path, "Property '%s' must be a JSON object.", path)
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, trimmed); err != nil {
			return badRequest(path, "Property '%s' is not valid JSON.", path)
		}
		*dst = buf.Bytes()
		return nil
	}
}

// ignoredField accepts a property that carries nothing connops keeps, such
// as an entity's null id sent back by an SDK model.
func ignoredField(string, json.RawMessage) error { return nil }

// objectField decodes a nested object with its own fields; present reports
// whether a non-null object was given.
func objectField(present *bool, known fields) field {
	return func(path string, raw json.RawMessage) error {
		if isNull(raw) {
			return nil
		}
		*present = true
		return decodeObject(path, raw, known)
	}
}

// arrayField decodes an array of objects, each through item(i) fields.
func arrayField(item func(i int) fields) field {
	return func(path string, raw json.RawMessage) error {
		if isNull(raw) {
			return nil
		}
		elems, ok := walkArray(raw)
		if !ok {
			return badRequest(path, "Property '%s' must be an array.", path)
		}
		for i, e := range elems {
			if err := decodeObject(fmt.Sprintf("%s[%d]", path, i), e, item(i)); err != nil {
				return err
			}
		}
		return nil
	}
}

// odataTypeField accepts @odata.type naming one of the given types, with or
// without the leading '#'.
func odataTypeField(names ...string) field {
	return func(path string, raw json.RawMessage) error {
		var got string
		if err := stringField(&got)(path, raw); err != nil || got == "" {
			return err
		}
		for _, n := range names {
			if got == "#"+n || got == n {
				return nil
			}
		}
		return badRequest(path, "Property '%s' must be '#%s'.", path, names[0])
	}
}

// readOnlyField refuses a property the server owns.
func readOnlyField(path string, _ json.RawMessage) error {
	return badRequest(path, "Property '%s' is read-only and cannot be changed.", path)
}

// truncate keeps echoed client input short in messages.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "..."
}
