package auth

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// maxNumericDate is 9999-12-31T23:59:59Z in seconds. jwt converts a
// NumericDate to int64 seconds without a range check, and Go leaves an
// out-of-range float conversion implementation-defined (on amd64 1e300
// becomes a time long past, so such an nbf was ignored). No real token
// names a time this far off either way.
const maxNumericDate = 253402300799

// checkDates refuses a token whose exp, nbf or iat is not a JSON number in
// range (RFC 7519 §2 NumericDate). jwt's NumericDate is laxer: it also takes
// a number inside a string ("1700000000") and reads null as an absent
// claim, and it refuses booleans, objects and arrays only as a malformed
// token. This runs before the jwt parser so that those get a message
// naming the claim.
func checkDates(token string) error {
	_, rest, _ := strings.Cut(token, ".")
	segment, _, _ := strings.Cut(rest, ".")
	// Decoded as the parser decodes it (WithStrictDecoding). What does not
	// decode here would not decode there either; refuse it now rather than
	// skip the check.
	payload, err := base64.RawURLEncoding.Strict().DecodeString(segment)
	if err != nil {
		return rejection("the token is malformed")
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(payload, &members); err != nil {
		return rejection("the token is malformed")
	}
	for name, value := range members {
		for _, date := range [...]string{"exp", "nbf", "iat"} {
			// encoding/json fills a struct field from a member whose
			// name matches in any case (as bytes.EqualFold does), so
			// "EXP" sets ExpiresAt as surely as "exp".
			if !strings.EqualFold(name, date) {
				continue
			}
			if err := checkNumericDate(date, value); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkNumericDate refuses value, the claim called name, unless it is a JSON
// number within ±maxNumericDate.
func checkNumericDate(name string, value json.RawMessage) error {
	value = bytes.TrimSpace(value)
	// value is one valid JSON value, and only numbers start like this.
	if len(value) == 0 || (value[0] != '-' && (value[0] < '0' || value[0] > '9')) {
		return rejection("the token's " + name + " claim must be a number")
	}
	f, err := strconv.ParseFloat(string(value), 64)
	if err != nil || math.Abs(f) > maxNumericDate {
		return rejection("the token's " + name + " claim is out of range")
	}
	return nil
}
