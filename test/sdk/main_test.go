// Package sdk_test drives connops with the official Microsoft Graph Go SDK,
// changing nothing but the base URL, to prove the SDK works against it.
package sdk_test

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/gin-gonic/gin"
	azauth "github.com/microsoft/kiota-authentication-azure-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"

	"github.com/connops/connops/internal/app"
	"github.com/connops/connops/internal/auth"
	"github.com/connops/connops/internal/connections"
	"github.com/connops/connops/internal/pgtest"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	pgtest.Main(m)
}

const testSecret = "sdk-test-secret-0123456789abcdef-0123456789"

// env is one connops on its own database and an SDK client pointed at it.
type env struct {
	t      *testing.T
	client *msgraphsdk.GraphServiceClient
	wire   *wire
}

func newEnv(t *testing.T) *env { return newEnvWith(t, nil) }

// newEnvWith is newEnv with these environment variables set on top of the
// suite's defaults.
func newEnvWith(t *testing.T, vars map[string]string) *env {
	t.Helper()
	t.Parallel()
	vals := map[string]string{"DATABASE_URL": pgtest.DSN(t), "AUTH_HS256_SECRET": testSecret, "RATE_LIMIT_RPS": "0"}
	maps.Copy(vals, vars)
	cfg, err := app.LoadConfig(func(k string) string { return vals[k] }, app.Need{Database: true, Auth: true})
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(t.Context(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	w := &wire{next: a.Handler}
	srv := httptest.NewServer(w)
	t.Cleanup(srv.Close)
	return &env{t: t, client: newClient(t, srv.URL+"/v1.0"), wire: w}
}

// newClient builds a Graph client the way Microsoft documents for national
// clouds: Azure Identity auth provider, Graph request adapter with its default
// middleware, base URL set on the adapter before the client is built. The
// only other departure from defaults is the auth provider's allowed hosts,
// without which it silently sends no token to a non-Microsoft host; it allows
// plain http for 127.0.0.1 by itself.
//
// The base URL must be set before NewGraphServiceClient: the client copies it
// into its request builders, and batch steps built from them would otherwise
// carry https://graph.microsoft.com/v1.0 as an absolute url.
func newClient(t *testing.T, baseURL string) *msgraphsdk.GraphServiceClient {
	t.Helper()
	tok, err := auth.Issue([]byte(testSecret), auth.DevToken{
		TenantID: "tenant-sdk", AppID: "app-sdk",
		Roles: []string{connections.PermReadWriteAll}, TTL: time.Hour,
	}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	authProvider, err := azauth.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(
		staticToken(tok), []string{"https://graph.microsoft.com/.default"}, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	adapter, err := msgraphsdk.NewGraphRequestAdapter(authProvider)
	if err != nil {
		t.Fatal(err)
	}
	adapter.SetBaseUrl(baseURL)
	return msgraphsdk.NewGraphServiceClient(adapter)
}

// staticToken is an azcore.TokenCredential handing out one dev token.
type staticToken string

func (s staticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(s), ExpiresOn: time.Now().Add(time.Hour)}, nil
}
