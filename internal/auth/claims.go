package auth

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	// maxIDLen bounds tid and the app id, which become database keys.
	// Entra's are 36-byte GUIDs; development tokens name tenants freely.
	maxIDLen = 128
	// maxPermissions bounds roles and the scopes in scp, each. Entra
	// tokens carry a handful; every permission check scans them all.
	maxPermissions = 64
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

// checkValues refuses claims whose values connops would store or compare
// but which no sane issuer produces: an empty tid; a tid, appid or azp
// longer than maxIDLen or holding a control character or invalid UTF-8
// (tid and the app id become database keys, and PostgreSQL refuses a NUL
// outright, which surfaced as a 500); roles or scopes holding such
// characters, or more than maxPermissions of them. The messages name the
// claim and never repeat its value.
func checkValues(c *Claims) error {
	if c.TenantID == "" {
		return rejection("the token has no tenant (tid) claim")
	}
	for _, id := range [...]struct{ name, value string }{
		{"tid", c.TenantID}, {"appid", c.AppID}, {"azp", c.AuthorizedParty},
	} {
		if len(id.value) > maxIDLen {
			return rejection(fmt.Sprintf("the token's %s claim is longer than %d bytes", id.name, maxIDLen))
		}
		if !clean(id.value) {
			return badChars(id.name)
		}
	}
	if len(c.Roles) > maxPermissions {
		return rejection(fmt.Sprintf("the token has more than %d roles", maxPermissions))
	}
	for _, r := range c.Roles {
		if !clean(r) {
			return badChars("roles")
		}
	}
	// A tab or line break would separate scopes as a space does, but scp
	// is space-delimited (RFC 6749 §3.3), so they count as control
	// characters here too.
	if !clean(c.Scope) {
		return badChars("scp")
	}
	if len(strings.Fields(c.Scope)) > maxPermissions {
		return rejection(fmt.Sprintf("the token has more than %d scopes (scp)", maxPermissions))
	}
	return nil
}

// clean reports whether s holds no control character (C0, DEL or C1) and
// no U+FFFD. encoding/json replaces invalid UTF-8 and lone surrogates in a
// string with U+FFFD, so that is how invalid UTF-8 in the token shows here;
// no identifier or permission legitimately contains it.
func clean(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) {
			return false
		}
	}
	return true
}

func badChars(claim string) rejection {
	return rejection("the token's " + claim + " claim contains invalid UTF-8 or a control character")
}
