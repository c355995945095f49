package auth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/connops/connops/internal/connections"
)

// The algorithms a Verifier can be configured for. HS256 comes with a shared
// secret, RS256 and ES256 with a JWKS; every other alg, "none" included, is
// refused whatever the configuration.
const (
	algHS256 = "HS256"
	algRS256 = "RS256"
	algES256 = "ES256"
)

const (
	// clockSkew is how far token times may be off between issuer and us.
	clockSkew = 2 * time.Minute
	// maxTokenLen bounds the work an unauthenticated caller can ask for;
	// Entra tokens, even with group claims, stay well below it.
	maxTokenLen = 64 << 10
)

// Options configure a Verifier. At least one of HS256Secret and JWKSURL must
// be set; each enables only its own algorithms.
type Options struct {
	// HS256Secret enables HS256 tokens signed with this shared secret, for
	// development and tests.
	HS256Secret []byte
	// JWKSURL enables RS256 and ES256 tokens signed by a key published at
	// this address, e.g. https://login.microsoftonline.com/{tenant}/discovery/v2.0/keys.
	// It must be https, or http to a loopback host.
	JWKSURL string
	// Issuer, when set, must equal the token's iss claim.
	Issuer string
	// Audience, when set, must be one of the token's aud values (Entra v1
	// tokens carry the app ID URI, v2 tokens the client ID).
	Audience string
	// RefreshInterval is how often the JWKS is fetched again; default 1h.
	RefreshInterval time.Duration
	// HTTPClient fetches the JWKS; default a client with a 10 s timeout.
	HTTPClient *http.Client
	// Log receives JWKS fetch failures; nil discards them.
	Log *slog.Logger
}

// Verifier checks bearer tokens against the secret and keys it was configured
// with. It is safe for concurrent use.
type Verifier struct {
	secret []byte
	keys   *keySet // nil unless a JWKS is configured
	algs   []string
	parser *jwt.Parser
	cache  verified
}

// New returns a Verifier for opts. With a JWKSURL it fetches the keys before
// returning; if that fails it logs a warning and still succeeds, so a slow or
// down issuer cannot keep the service from starting (HS256 and health checks
// keep working). Until a fetch succeeds, RS256 and ES256 tokens are refused
// with "signing keys are unavailable" while a background loop retries.
//
// The background refresh runs until ctx is cancelled or Close is called.
func New(ctx context.Context, opts Options) (*Verifier, error) {
	if len(opts.HS256Secret) == 0 && opts.JWKSURL == "" {
		return nil, errors.New("auth: configure an HS256 secret, a JWKS URL, or both")
	}
	var keys *keySet
	if opts.JWKSURL != "" {
		var err error
		if keys, err = newKeySet(ctx, opts); err != nil {
			return nil, fmt.Errorf("auth: %w", err)
		}
	}
	return newVerifier(opts.HS256Secret, keys, opts.Issuer, opts.Audience), nil
}

// NewHS256 returns a Verifier that accepts only HS256 tokens signed with
// secret. It does no I/O and starts nothing, so it needs no Close.
func NewHS256(secret []byte) *Verifier {
	return newVerifier(secret, nil, "", "")
}

func newVerifier(secret []byte, keys *keySet, issuer, audience string) *Verifier {
	v := &Verifier{secret: bytes.Clone(secret), keys: keys, algs: []string{}}
	if len(v.secret) > 0 {
		v.algs = append(v.algs, algHS256)
	}
	if keys != nil {
		v.algs = append(v.algs, algRS256, algES256)
	}
	popts := []jwt.ParserOption{
		// A non-nil list, even empty, makes the parser refuse every other
		// alg before any key is looked up; keyFunc checks again.
		jwt.WithValidMethods(v.algs),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(clockSkew),
		// Strict base64 leaves one encoding per signature, so a token
		// cannot be altered in its padding bits and still verify.
		jwt.WithStrictDecoding(),
	}
	if issuer != "" {
		popts = append(popts, jwt.WithIssuer(issuer))
	}
	if audience != "" {
		popts = append(popts, jwt.WithAudience(audience))
	}
	v.parser = jwt.NewParser(popts...)
	return v
}

// Verify checks the token and returns its caller. Every refusal matches
// ErrUnauthenticated and its message is safe to return to the caller.
func (v *Verifier) Verify(ctx context.Context, token string) (connections.Caller, error) {
	if len(token) > maxTokenLen {
		return connections.Caller{}, rejection("the token is too large")
	}
	if !compact(token) {
		return connections.Caller{}, rejection("the token is malformed")
	}
	now := time.Now()
	if caller, ok := v.cache.get(token, now, v.keys); ok {
		return caller, nil
	}
	if err := checkDates(token); err != nil {
		return connections.Caller{}, err
	}
	var claims Claims
	t, err := v.parser.ParseWithClaims(token, &claims, v.keyFunc(ctx))
	if err != nil {
		return connections.Caller{}, v.refusal(t, err)
	}
	if err := checkValues(&claims); err != nil {
		return connections.Caller{}, err
	}
	caller := claims.Caller()
	if claims.ExpiresAt != nil {
		entry := verifiedEntry{caller: caller}
		if kid, _ := t.Header["kid"].(string); kid != "" && t.Method.Alg() != algHS256 {
			entry.kid = kid
			entry.key, _, _ = v.keys.lookup(kid)
		}
		v.cache.put(token, entry, claims.ExpiresAt.Time, now)
	}
	return caller, nil
}

// Close stops the background JWKS refresh and waits for it. Verify keeps
// working with the keys already fetched. Close is safe to call more than once.
func (v *Verifier) Close() error {
	if v.keys != nil {
		v.keys.close()
	}
	return nil
}

// keyFunc picks the key from the alg the token names, but only among the
// algorithms configured, and a secret only ever for HS256: an HS256 token is
// never checked against a JWKS public key (algorithm confusion).
func (v *Verifier) keyFunc(ctx context.Context) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		alg := t.Method.Alg()
		if !slices.Contains(v.algs, alg) {
			return nil, notAccepted(alg)
		}
		// Here, before any key is used: crit may change what the
		// signature covers (RFC 7797's b64, for one).
		if err := checkCrit(t.Header); err != nil {
			return nil, err
		}
		switch alg {
		case algHS256:
			return v.secret, nil
		case algRS256, algES256:
			kid, _ := t.Header["kid"].(string)
			if kid == "" {
				return nil, rejection("the token does not name its signing key (kid)")
			}
			return v.keys.key(ctx, kid, alg)
		}
		return nil, notAccepted(alg)
	}
}

// refusal turns a parse error into a caller-safe rejection.
func (v *Verifier) refusal(t *jwt.Token, err error) error {
	var r rejection
	if errors.As(err, &r) {
		return r
	}
	// The parser refuses unlisted algs with a signature error; say so plainly.
	// Method is only set for algs registered with the jwt package, so the
	// name is one of a fixed few, not arbitrary token content.
	if t != nil && t.Method != nil && !slices.Contains(v.algs, t.Method.Alg()) {
		return notAccepted(t.Method.Alg())
	}
	return rejection(reason(err))
}

// checkCrit refuses a token whose JOSE header has a crit parameter (RFC 7515
// §4.1.11). It lists extensions a recipient must understand and process or
// else refuse the token; this verifier understands none, so any crit is
// refused. A crit that is not a non-empty array of strings is refused as
// malformed. Header parameter names are case-sensitive, so only "crit"
// counts. The extension names are token content and are not repeated.
func checkCrit(header map[string]any) error {
	crit, ok := header["crit"]
	if !ok {
		return nil
	}
	list, ok := crit.([]any)
	if !ok || len(list) == 0 {
		return rejection("the token's crit header parameter is malformed")
	}
	for _, name := range list {
		if _, ok := name.(string); !ok {
			return rejection("the token's crit header parameter is malformed")
		}
	}
	return rejection("the token's header marks an extension critical (crit) that this service does not support")
}

func notAccepted(alg string) rejection {
	return rejection(fmt.Sprintf("tokens signed with %s are not accepted", alg))
}

// compact reports whether token uses only the characters of the JWS compact
// form. base64 decoding skips CR and LF, so without this check the same
// signed token could be sent in many spellings.
func compact(token string) bool {
	for i := range len(token) {
		switch c := token[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}
