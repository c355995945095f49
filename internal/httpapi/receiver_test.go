package httpapi_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/connops/connops/internal/certs"
)

// receiver is a webhook endpoint of a test: it answers Graph's validation
// handshake (by echoing the token, unless told otherwise) and records every
// notification POST, answering each as notify says (202 by default).
type receiver struct {
	t   *testing.T
	url string

	mu          sync.Mutex
	handshakes  []string // the decoded tokens received
	posts       []post
	onHandshake func(w http.ResponseWriter, r *http.Request, token string)
	notify      func(w http.ResponseWriter, r *http.Request) int
	arrived     chan struct{}
}

// post is one notification POST as it arrived.
type post struct {
	at     time.Time
	status int // what the receiver answered
	query  string
	body   collectionBody
}

type collectionBody struct {
	Value            []map[string]any `json:"value"`
	ValidationTokens []string         `json:"validationTokens"`
}

// webhookEnv is the environment the receivers of these tests need: plain
// http and TLS on loopback, with the test CA.
func webhookEnv(ca *certs.CA, more map[string]string) map[string]string {
	vars := map[string]string{"WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true"}
	if ca != nil {
		vars["WEBHOOK_CA_FILE"] = ca.CertPath()
	}
	for k, v := range more {
		vars[k] = v
	}
	return vars
}

// newCA makes a CA for TLS receivers.
func newCA(t *testing.T) *certs.CA {
	t.Helper()
	ca, err := certs.LoadOrCreateCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// newReceiver serves a receiver on a loopback port, over TLS with a
// certificate of ca when ca is set, else plain http. path is its path.
func newReceiver(t *testing.T, ca *certs.CA, path string) *receiver {
	t.Helper()
	rc := &receiver{t: t, arrived: make(chan struct{}, 1)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(rc.serve), ReadHeaderTimeout: 5 * time.Second}
	scheme := "http"
	if ca != nil {
		certFile, keyFile, err := ca.IssueServer(t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		scheme = "https"
		go func() { _ = srv.ServeTLS(ln, certFile, keyFile) }()
	} else {
		go func() { _ = srv.Serve(ln) }()
	}
	t.Cleanup(func() { _ = srv.Close() })
	rc.url = scheme + "://" + ln.Addr().String() + path
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	if token, ok := r.URL.Query()["validationToken"]; ok {
		rc.mu.Lock()
		rc.handshakes = append(rc.handshakes, token[0])
		h := rc.onHandshake
		rc.mu.Unlock()
		if h != nil {
			h(w, r, token[0])
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, token[0])
		return
	}
	var body collectionBody
	raw, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(raw, &body); err != nil {
		rc.t.Errorf("notification body is not a collection: %v\n%s", err, raw)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		rc.t.Errorf("notification Content-Type %q", ct)
	}
	rc.mu.Lock()
	notify := rc.notify
	rc.mu.Unlock()
	status := http.StatusAccepted
	if notify != nil {
		status = notify(w, r)
	}
	if status != 0 {
		w.WriteHeader(status)
	}
	rc.mu.Lock()
	rc.posts = append(rc.posts, post{at: time.Now(), status: status, query: r.URL.RawQuery, body: body})
	rc.mu.Unlock()
	select {
	case rc.arrived <- struct{}{}:
	default:
	}
}

// setNotify changes how notifications are answered.
func (rc *receiver) setNotify(f func(w http.ResponseWriter, r *http.Request) int) {
	rc.mu.Lock()
	rc.notify = f
	rc.mu.Unlock()
}

// answering returns a notify that answers status.
func answering(status int) func(http.ResponseWriter, *http.Request) int {
	return func(http.ResponseWriter, *http.Request) int { return status }
}

func (rc *receiver) snapshot() []post {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]post(nil), rc.posts...)
}

// accepted are the notifications of the POSTs answered 2xx, in order.
func (rc *receiver) accepted() []map[string]any {
	var out []map[string]any
	for _, p := range rc.snapshot() {
		if p.status >= 200 && p.status < 300 {
			out = append(out, p.body.Value...)
		}
	}
	return out
}

// waitFor waits until ok holds for the POSTs so far, or fails after within.
func (rc *receiver) waitFor(within time.Duration, what string, ok func([]post) bool) []post {
	rc.t.Helper()
	deadline := time.After(within)
	for {
		posts := rc.snapshot()
		if ok(posts) {
			return posts
		}
		select {
		case <-rc.arrived:
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			rc.t.Fatalf("after %s: %s did not happen; %d POSTs: %+v", within, what, len(posts), posts)
		}
	}
}

// waitAccepted waits until n notifications have been accepted.
func (rc *receiver) waitAccepted(n int, within time.Duration) []map[string]any {
	rc.t.Helper()
	rc.waitFor(within, fmt.Sprintf("%d accepted notifications", n), func([]post) bool { return len(rc.accepted()) >= n })
	return rc.accepted()
}

// subscriptionBody is a create body; extra members are added or, with a
// nil value, removed.
func subscriptionBody(resource, url string, extra map[string]any) string {
	b := map[string]any{"changeType": "created,updated,deleted", "notificationUrl": url, "resource": resource,
		"expirationDateTime": time.Now().Add(time.Hour).UTC().Format(time.RFC3339), "clientState": "secret-state"}
	for k, v := range extra {
		if v == nil {
			delete(b, k)
			continue
		}
		b[k] = v
	}
	out, _ := json.Marshal(b)
	return string(out)
}

// subscribe creates a subscription and returns its id.
func (e *env) subscribe(token, resource, url string, extra map[string]any) string {
	e.t.Helper()
	r := e.post("/v1.0/subscriptions", token, subscriptionBody(resource, url, extra))
	if r.status != http.StatusCreated {
		e.t.Fatalf("create subscription on %s: %d %s", resource, r.status, r.body)
	}
	return r.json(e.t)["id"].(string)
}

// verifyTokens checks each validation token against the service's JWKS:
// ES256, a known kid, aud the app, tid the tenant, appid connops's.
func (e *env) verifyTokens(tokens []string, tenant, app string) {
	e.t.Helper()
	if len(tokens) != 1 {
		e.t.Fatalf("validationTokens = %v, want one (one app and tenant per POST)", tokens)
	}
	keys := e.jwks()
	for _, tok := range tokens {
		claims := jwt.MapClaims{}
		_, err := jwt.ParseWithClaims(tok, claims, func(t *jwt.Token) (any, error) {
			kid, _ := t.Header["kid"].(string)
			if k, ok := keys[kid]; ok {
				return k, nil
			}
			return nil, errors.New("unknown kid " + kid)
		}, jwt.WithValidMethods([]string{"ES256"}), jwt.WithAudience(app), jwt.WithIssuer("connops"), jwt.WithExpirationRequired())
		if err != nil {
			e.t.Fatalf("validation token does not verify: %v", err)
		}
		if claims["tid"] != tenant || claims["appid"] != "5c0d7bd3-7a39-4a8e-9a1b-2f3c6e0b9d41" {
			e.t.Errorf("token claims %v, want tid %s and connops's appid", claims, tenant)
		}
	}
}

// jwks reads the service's signing keys by kid.
func (e *env) jwks() map[string]*ecdsa.PublicKey {
	e.t.Helper()
	r := e.get("/.well-known/jwks.json", "")
	if r.status != http.StatusOK {
		e.t.Fatalf("GET /.well-known/jwks.json: %d %s", r.status, r.body)
	}
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(r.body, &set); err != nil || len(set.Keys) == 0 {
		e.t.Fatalf("JWKS %s: %v", r.body, err)
	}
	out := map[string]*ecdsa.PublicKey{}
	for _, k := range set.Keys {
		x, _ := base64.RawURLEncoding.DecodeString(k["x"])
		y, _ := base64.RawURLEncoding.DecodeString(k["y"])
		if k["kty"] != "EC" || k["crv"] != "P-256" || k["alg"] != "ES256" || len(x) != 32 || len(y) != 32 {
			e.t.Fatalf("JWKS key %v is not an ES256 P-256 key", k)
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			e.t.Fatal(err)
		}
		out[k["kid"]] = pub
	}
	return out
}

// hangUntilGone holds a request open until the client gives up on it.
func hangUntilGone(_ http.ResponseWriter, r *http.Request) int {
	<-r.Context().Done()
	return 0
}
