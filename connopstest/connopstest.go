package connopstest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connops/connops/internal/app"
	"github.com/connops/connops/internal/auth"
	"github.com/connops/connops/internal/connections"
	"github.com/connops/connops/internal/pgtest"
)

// The permissions a token can carry, as Microsoft Graph names them, and
// connops's own role that may finish the operations connops starts.
const (
	ReadAll           = connections.PermReadAll
	ReadWriteAll      = connections.PermReadWriteAll
	ReadWriteOwnedBy  = connections.PermReadWriteOwnedBy
	OperationsControl = connections.PermOperationsControl
)

// Server is one connops serving HTTP on a loopback port.
type Server struct {
	// URL is the base URL, http://127.0.0.1:port, without a trailing slash
	// and without an API version: Graph clients take URL+"/v1.0" (or
	// "/beta") as their base URL.
	URL string

	secret    []byte
	http      *httptest.Server
	app       *app.App
	drop      func(context.Context) error
	closeOnce sync.Once
	closeErr  error
}

// mainRunning records that Main runs the tests, which is what stops the
// PostgreSQL server; package state is allowed in test infrastructure only.
var mainRunning atomic.Bool

// errNoMain is what Start and New say when TestMain does not call Main.
var errNoMain = errors.New("connopstest: call connopstest.Main(m) from TestMain: it stops the PostgreSQL server the tests start")

// Main runs the tests, then stops the PostgreSQL server connopstest started
// for them (if it started one), then exits with the tests' status. Use it as
// the package's TestMain:
//
//	func TestMain(m *testing.M) { connopstest.Main(m) }
//
// A TestMain with set-up of its own calls it last, as it does not return.
func Main(m *testing.M) {
	mainRunning.Store(true)
	pgtest.Main(m)
}

// secret signs the tokens of every Server; each Server has its own
// database, so sharing the secret shares nothing else.
const secret = "connopstest-hs256-secret-0123456789abcdef"

// Start starts a Server for the test and closes it, then drops its
// database, when the test ends. It skips the test when no PostgreSQL is
// possible on this machine (fails it when CI=true) and fails the test when
// connops does not start.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	if !mainRunning.Load() {
		t.Fatal(errNoMain)
	}
	dsn := pgtest.DSN(t) // dropped in a cleanup that runs after Close's
	s, err := start(t.Context(), dsn, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// New is Start for code without a testing.TB, such as an Example or a
// TestMain that shares one Server between tests. The caller must Close it.
func New(ctx context.Context, opts ...Option) (*Server, error) {
	if !mainRunning.Load() {
		return nil, errNoMain
	}
	dsn, drop, err := pgtest.NewDatabase(ctx)
	if err != nil {
		return nil, fmt.Errorf("connopstest: %w", err)
	}
	s, err := start(ctx, dsn, drop, opts)
	if err != nil {
		return nil, errors.Join(err, dropWithin(drop))
	}
	return s, nil
}

func start(ctx context.Context, dsn string, drop func(context.Context) error, opts []Option) (*Server, error) {
	// A test's client is one app at full speed: rate limits would only
	// make it flaky.
	o := options{env: map[string]string{"RATE_LIMIT_RPS": "0"}, log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	o.env["DATABASE_URL"], o.env["AUTH_HS256_SECRET"] = dsn, secret
	cfg, err := app.LoadConfig(func(k string) string { return o.env[k] }, app.Need{Database: true, Auth: true})
	if err != nil {
		return nil, fmt.Errorf("connopstest: %w", err)
	}
	a, err := app.New(ctx, cfg, o.log)
	if err != nil {
		return nil, fmt.Errorf("connopstest: start connops: %w", err)
	}
	h := httptest.NewServer(a.Handler)
	return &Server{URL: h.URL, secret: []byte(secret), http: h, app: a, drop: drop}, nil
}

// Close stops the server, waits for requests in flight and background work,
// and drops the database New made (Start's is dropped by the test's
// cleanup). Calling it again does nothing.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.http.Close()
		s.app.Close()
		if s.drop != nil {
			s.closeErr = dropWithin(s.drop)
		}
	})
	return s.closeErr
}

func dropWithin(drop func(context.Context) error) error {
	if drop == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return drop(ctx)
}

// Token signs a token for tenant (its tid claim) with roles as application
// permissions, ExternalConnection.ReadWrite.All when none are given. The app
// (appid claim) is "connopstest"; AppToken names another. Tokens are valid
// for an hour.
func (s *Server) Token(tenant string, roles ...string) string {
	return s.AppToken(tenant, "connopstest", roles...)
}

// AppToken is Token for the app appID, for tests of
// ExternalConnection.ReadWrite.OwnedBy, which confines an app to the
// connections it created.
func (s *Server) AppToken(tenant, appID string, roles ...string) string {
	if len(roles) == 0 {
		roles = []string{ReadWriteAll}
	}
	tok, err := auth.Issue(s.secret, auth.DevToken{TenantID: tenant, AppID: appID, Roles: roles, TTL: time.Hour}, time.Now())
	if err != nil {
		// Issue fails only without a secret, and s always has one.
		panic(fmt.Sprintf("connopstest: sign token: %v", err))
	}
	return tok
}
