package auth_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/connops/connops/internal/auth"
)

// rawHS256 signs header and payload exactly as given, for tokens that
// jwt.NewWithClaims cannot produce: repeated members, members in a chosen
// order, values of the wrong JSON type.
func rawHS256(t testing.TB, header, payload string) string {
	t.Helper()
	enc := base64.RawURLEncoding.EncodeToString
	input := enc([]byte(header)) + "." + enc([]byte(payload))
	sig, err := jwt.SigningMethodHS256.Sign(input, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + enc(sig)
}

const hs256Header = `{"alg":"HS256","typ":"JWT"}`

// goodPayload is goodClaims as JSON with members appended after all the
// others. encoding/json keeps the last of repeated members, so an appended
// member replaces the one goodClaims set.
func goodPayload(t testing.TB, members ...string) string {
	t.Helper()
	b, err := json.Marshal(goodClaims())
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, m := range members {
		s = strings.TrimSuffix(s, "}") + "," + m + "}"
	}
	return s
}

// refuses checks that v refuses token with a message containing want that
// does not repeat the token.
func refuses(t *testing.T, v *auth.Verifier, token, want string) {
	t.Helper()
	caller, err := v.Verify(context.Background(), token)
	if err == nil {
		t.Fatalf("Verify accepted the token as %+v", caller)
	}
	if !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("error %v does not match ErrUnauthenticated", err)
	}
	if msg := err.Error(); !strings.Contains(msg, want) {
		t.Errorf("message %q does not mention %q", msg, want)
	}
	assertNoTokenContent(t, err.Error(), token)
}

func TestVerifyRequiresNumericDates(t *testing.T) {
	t.Parallel()
	v := auth.NewHS256(testSecret)
	now := time.Now()
	past, future := now.Add(-time.Minute).Unix(), now.Add(time.Hour).Unix()
	// Each claim gets a time that would pass its check, so that only the
	// form of the value can refuse the token.
	times := map[string]int64{"exp": future, "nbf": past, "iat": past}
	for _, name := range []string{"exp", "nbf", "iat"} {
		notNumber := "the token's " + name + " claim must be a number"
		outOfRange := "the token's " + name + " claim is out of range"
		for _, tt := range []struct{ label, value, want string }{
			{"numeric string", fmt.Sprintf(`"%d"`, times[name]), notNumber},
			{"fractional string", fmt.Sprintf(`"%d.5"`, times[name]), notNumber},
			{"exponent string", fmt.Sprintf(`"%e"`, float64(times[name])), notNumber},
			{"empty string", `""`, notNumber},
			{"word", `"tomorrow"`, notNumber},
			{"true", `true`, notNumber},
			{"false", `false`, notNumber},
			{"object", `{"seconds":1}`, notNumber},
			{"array", fmt.Sprintf(`[%d]`, times[name]), notNumber},
			{"null", `null`, notNumber},
			// jwt converts seconds to int64 unchecked: 1e300 became
			// a time long past, so such an nbf was ignored.
			{"beyond int64", `1e300`, outOfRange},
			{"huge negative", `-1e300`, outOfRange},
			{"beyond float64", `1e400`, outOfRange},
			{"past the year 9999", `253402300800`, outOfRange},
		} {
			t.Run(name+" "+tt.label, func(t *testing.T) {
				t.Parallel()
				member := fmt.Sprintf(`%q:%s`, name, tt.value)
				refuses(t, v, rawHS256(t, hs256Header, goodPayload(t, member)), tt.want)
			})
		}
		// encoding/json fills a struct field from a member whose name
		// matches in any case, so "EXP" sets ExpiresAt like "exp" does.
		t.Run(name+" in upper case", func(t *testing.T) {
			t.Parallel()
			member := fmt.Sprintf(`%q:"%d"`, strings.ToUpper(name), times[name])
			refuses(t, v, rawHS256(t, hs256Header, goodPayload(t, member)), notNumber)
		})
	}
}

func TestVerifyAcceptsNumericDates(t *testing.T) {
	t.Parallel()
	v := auth.NewHS256(testSecret)
	now := time.Now()
	past, future := now.Add(-time.Minute).Unix(), now.Add(time.Hour).Unix()
	for label, members := range map[string][]string{
		"integers":  {fmt.Sprintf(`"exp":%d`, future), fmt.Sprintf(`"nbf":%d`, past), fmt.Sprintf(`"iat":%d`, past)},
		"fractions": {fmt.Sprintf(`"exp":%d.25`, future), fmt.Sprintf(`"nbf":%d.5`, past), fmt.Sprintf(`"iat":%d.75`, past)},
		// Ten significant digits: %e's default six would round nbf up to
		// 500 s into the future.
		"exponents":  {`"exp":4.1e9`, fmt.Sprintf(`"nbf":%.9e`, float64(past)), fmt.Sprintf(`"iat":%.9E`, float64(past))},
		"nbf zero":   {`"nbf":0`},
		"far future": {`"exp":253402300799`},
	} {
		t.Run(label, func(t *testing.T) {
			t.Parallel()
			tok := rawHS256(t, hs256Header, goodPayload(t, members...))
			if _, err := v.Verify(context.Background(), tok); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
}

func TestVerifyRefusesCrit(t *testing.T) {
	t.Parallel()
	is := newTestIssuer(t)
	ecKey := newECKey(t, "ec-1")
	is.publish(ecKey)
	v := newVerifier(t, is, auth.Options{HS256Secret: testSecret, Issuer: testIss, Audience: testAud})

	const unknown = "the token's header marks an extension critical (crit)"
	const malformed = "the token's crit header parameter is malformed"
	for _, tt := range []struct{ label, header, want string }{
		{"b64", `{"alg":"HS256","typ":"JWT","b64":false,"crit":["b64"]}`, unknown},
		{"private extension", `{"alg":"HS256","http://example.test/ext":1,"crit":["http://example.test/ext"]}`, unknown},
		{"extension not in the header", `{"alg":"HS256","crit":["exp"]}`, unknown},
		{"two extensions", `{"alg":"HS256","a":1,"b":2,"crit":["a","b"]}`, unknown},
		{"empty list", `{"alg":"HS256","crit":[]}`, malformed},
		{"string", `{"alg":"HS256","b64":false,"crit":"b64"}`, malformed},
		{"number in list", `{"alg":"HS256","crit":[1]}`, malformed},
		{"null in list", `{"alg":"HS256","crit":[null]}`, malformed},
		{"null", `{"alg":"HS256","crit":null}`, malformed},
		{"object", `{"alg":"HS256","crit":{"b64":true}}`, malformed},
		{"true", `{"alg":"HS256","crit":true}`, malformed},
		{"repeated, last is bad", `{"alg":"HS256","crit":null,"crit":["b64"]}`, unknown},
	} {
		t.Run(tt.label, func(t *testing.T) {
			t.Parallel()
			refuses(t, v, rawHS256(t, tt.header, goodPayload(t)), tt.want)
		})
	}
	t.Run("ES256 from the JWKS", func(t *testing.T) {
		t.Parallel()
		tok := jwt.NewWithClaims(jwt.SigningMethodES256, goodClaims())
		tok.Header["kid"] = ecKey.kid
		tok.Header["b64"] = false
		tok.Header["crit"] = []string{"b64"}
		refuses(t, v, must(tok.SignedString(ecKey.priv)), unknown)
	})
	t.Run("no crit is accepted", func(t *testing.T) {
		t.Parallel()
		if _, err := v.Verify(context.Background(), rawHS256(t, `{"alg":"HS256","CRIT":["b64"]}`, goodPayload(t))); err != nil {
			// Header parameter names are case-sensitive: CRIT is
			// just an unregistered parameter, ignorable.
			t.Fatalf("Verify: %v", err)
		}
	})
}

func TestVerifyRefusesUnsafeClaimValues(t *testing.T) {
	t.Parallel()
	v := auth.NewHS256(testSecret)
	// secret marks each bad value, so the test can tell the message
	// never echoes it.
	const secret = "zzsecretzz"
	with := func(edit func(*auth.Claims)) string {
		c := goodClaims()
		edit(&c)
		return hs256(t, testSecret, c)
	}
	raw := func(member string) string { return rawHS256(t, hs256Header, goodPayload(t, member)) }
	many := func(n int) []string {
		s := make([]string, n)
		for i := range s {
			s[i] = fmt.Sprintf("Perm.%d", i)
		}
		return s
	}
	const badChars = "contains invalid UTF-8 or a control character"
	for _, tt := range []struct {
		label, token, want string
	}{
		{"tid with NUL", with(func(c *auth.Claims) { c.TenantID = "tenant-1\x00" + secret }), "tid claim " + badChars},
		{"tid with NUL first", with(func(c *auth.Claims) { c.TenantID = "\x00" + secret }), "tid claim " + badChars},
		{"tid with unit separator", with(func(c *auth.Claims) { c.TenantID = secret + "\x1f" }), "tid claim " + badChars},
		{"tid with line feed", with(func(c *auth.Claims) { c.TenantID = secret + "\n" }), "tid claim " + badChars},
		{"tid with DEL", with(func(c *auth.Claims) { c.TenantID = secret + "\x7f" }), "tid claim " + badChars},
		{"tid with C1 control", with(func(c *auth.Claims) { c.TenantID = secret + "\u0085" }), "tid claim " + badChars},
		// encoding/json turns invalid UTF-8 and lone surrogates into
		// U+FFFD, so that is what the check sees.
		{"tid with invalid UTF-8", raw(`"tid":"` + secret + "\xff\xfe" + `"`), "tid claim " + badChars},
		{"tid with lone surrogate", raw(`"tid":"` + secret + `\ud800"`), "tid claim " + badChars},
		{"tid too long", with(func(c *auth.Claims) { c.TenantID = secret + strings.Repeat("a", 129-len(secret)) }), "tid claim is longer than 128 bytes"},
		{"appid with NUL", with(func(c *auth.Claims) { c.AppID = "app\x00" + secret }), "appid claim " + badChars},
		{"appid too long", with(func(c *auth.Claims) { c.AppID = secret + strings.Repeat("a", 200) }), "appid claim is longer than 128 bytes"},
		{"azp with NUL", with(func(c *auth.Claims) { c.AppID, c.AuthorizedParty = "", "app\x00"+secret }), "azp claim " + badChars},
		{"azp too long", with(func(c *auth.Claims) { c.AppID, c.AuthorizedParty = "", secret+strings.Repeat("a", 200) }), "azp claim is longer than 128 bytes"},
		{"role with NUL", with(func(c *auth.Claims) { c.Roles = append(c.Roles, "Role\x00"+secret) }), "roles claim " + badChars},
		{"role with invalid UTF-8", raw(`"roles":["` + secret + "\xc3" + `"]`), "roles claim " + badChars},
		{"too many roles", with(func(c *auth.Claims) { c.Roles = many(65) }), "more than 64 roles"},
		{"scp with NUL", with(func(c *auth.Claims) { c.Scope = "Scope.Read \x00" + secret }), "scp claim " + badChars},
		{"scp with tab", with(func(c *auth.Claims) { c.Scope = "Scope.Read\t" + secret }), "scp claim " + badChars},
		{"too many scopes", with(func(c *auth.Claims) { c.Scope = strings.Join(many(65), " ") }), "more than 64 scopes"},
	} {
		t.Run(tt.label, func(t *testing.T) {
			t.Parallel()
			refuses(t, v, tt.token, tt.want)
			_, err := v.Verify(context.Background(), tt.token)
			if err != nil && strings.Contains(err.Error(), secret) {
				t.Errorf("message %q repeats the claim's value", err)
			}
		})
	}
}

func TestVerifyAcceptsSaneClaimValues(t *testing.T) {
	t.Parallel()
	v := auth.NewHS256(testSecret)
	for label, edit := range map[string]func(*auth.Claims){
		"tid of 128 bytes":   func(c *auth.Claims) { c.TenantID = strings.Repeat("t", 128) },
		"appid of 128 bytes": func(c *auth.Claims) { c.AppID = strings.Repeat("a", 128) },
		"non-ASCII tid":      func(c *auth.Claims) { c.TenantID = "contoso-ñ-日本" },
		"GUIDs":              func(c *auth.Claims) { c.TenantID, c.AppID = "72f988bf-86f1-41af-91ab-2d7cd011db47", "" },
		"64 roles, 64 scopes": func(c *auth.Claims) {
			c.Roles = make([]string, 64)
			scopes := make([]string, 64)
			for i := range 64 {
				c.Roles[i], scopes[i] = fmt.Sprintf("Role.%d", i), fmt.Sprintf("Scope.%d", i)
			}
			c.Scope = strings.Join(scopes, " ")
		},
	} {
		t.Run(label, func(t *testing.T) {
			t.Parallel()
			c := goodClaims()
			edit(&c)
			if _, err := v.Verify(context.Background(), hs256(t, testSecret, c)); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
}
