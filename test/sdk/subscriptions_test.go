package sdk_test

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	azauth "github.com/microsoft/kiota-authentication-azure-go"
	jsonserialization "github.com/microsoft/kiota-serialization-json-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/externalconnectors"

	"github.com/connops/connops/internal/app"
	"github.com/connops/connops/internal/auth"
	"github.com/connops/connops/internal/connections"
	"github.com/connops/connops/internal/pgtest"
)

// sdkTenant is a GUID, as Entra tenant ids are: Graph's changeNotification
// types tenantId as a Guid, and the SDK parses it so.
const sdkTenant = "8ee44408-0679-472c-bc2a-692812af3437"

// hookReceiver is a local webhook endpoint: it answers the validation
// handshake and keeps every notification body.
type hookReceiver struct {
	url        string
	mu         sync.Mutex
	handshakes int
	bodies     [][]byte
}

func newHookReceiver(t *testing.T) *hookReceiver {
	t.Helper()
	rc := &hookReceiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token := r.URL.Query().Get("validationToken"); token != "" {
			rc.mu.Lock()
			rc.handshakes++
			rc.mu.Unlock()
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, token)
			return
		}
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.bodies = append(rc.bodies, body)
		rc.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	rc.url = srv.URL + "/notify"
	return rc
}

// newHookEnv is a connops that may deliver to loopback receivers, and an
// SDK client of a tenant with a GUID id.
func newHookEnv(t *testing.T) *env {
	t.Helper()
	t.Parallel()
	vals := map[string]string{"DATABASE_URL": pgtest.DSN(t), "AUTH_HS256_SECRET": testSecret, "RATE_LIMIT_RPS": "0",
		"WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true"}
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
	tok, err := auth.Issue([]byte(testSecret), auth.DevToken{TenantID: sdkTenant, AppID: "app-sdk",
		Roles: []string{connections.PermReadWriteAll}, TTL: time.Hour}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	host, _, _ := net.SplitHostPort(srv.Listener.Addr().String())
	authProvider, err := azauth.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(
		staticToken(tok), []string{"https://graph.microsoft.com/.default"}, []string{host})
	if err != nil {
		t.Fatal(err)
	}
	adapter, err := msgraphsdk.NewGraphRequestAdapter(authProvider)
	if err != nil {
		t.Fatal(err)
	}
	adapter.SetBaseUrl(srv.URL + "/v1.0")
	return &env{t: t, client: msgraphsdk.NewGraphServiceClient(adapter), wire: w}
}

// TestSubscriptionCreateRenewDelete drives Graph's subscription API with
// the SDK's typed builders, and parses a delivered notification with the
// SDK's own changeNotification model.
func TestSubscriptionCreateRenewDelete(t *testing.T) {
	e := newHookEnv(t)
	rc := newHookReceiver(t)
	e.createConnection("sdkhooks")

	body := models.NewSubscription()
	body.SetChangeType(ptr("created,updated"))
	body.SetNotificationUrl(ptr(rc.url))
	body.SetResource(ptr("external/connections/sdkhooks/operations"))
	expires := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	body.SetExpirationDateTime(&expires)
	body.SetClientState(ptr("sdk-state"))
	sub, err := e.client.Subscriptions().Post(t.Context(), body, nil)
	if err != nil {
		t.Fatalf("create: %s", describe(err))
	}
	e.wire.wantStatus(t, http.StatusCreated)
	id := deref(sub.GetId()).(string)
	if deref(sub.GetResource()) != "external/connections/sdkhooks/operations" || deref(sub.GetChangeType()) != "created,updated" ||
		deref(sub.GetApplicationId()) != "app-sdk" || deref(sub.GetLatestSupportedTlsVersion()) != "v1_2" ||
		sub.GetExpirationDateTime() == nil || !sub.GetExpirationDateTime().Equal(expires) {
		t.Errorf("created subscription: id %v resource %v changeType %v app %v tls %v expires %v", id, deref(sub.GetResource()),
			deref(sub.GetChangeType()), deref(sub.GetApplicationId()), deref(sub.GetLatestSupportedTlsVersion()), sub.GetExpirationDateTime())
	}
	rc.mu.Lock()
	if rc.handshakes != 1 {
		t.Errorf("%d handshakes, want 1", rc.handshakes)
	}
	rc.mu.Unlock()

	// A notification, parsed as the SDK parses Graph's.
	op := externalconnectors.NewConnectionOperation()
	op.SetId(ptr("sdkop"))
	status := externalconnectors.INPROGRESS_CONNECTIONOPERATIONSTATUS
	op.SetStatus(&status)
	if _, err := e.operations("sdkhooks").Post(t.Context(), op, nil); err != nil {
		t.Fatalf("create operation: %s", describe(err))
	}
	n := waitNotification(t, rc)
	if n.GetChangeType() == nil || *n.GetChangeType() != models.CREATED_CHANGETYPE || deref(n.GetResource()) != "external/connections/sdkhooks/operations/sdkop" ||
		n.GetSubscriptionId() == nil || n.GetSubscriptionId().String() != id || n.GetTenantId() == nil || n.GetTenantId().String() != sdkTenant ||
		deref(n.GetClientState()) != "sdk-state" || n.GetSubscriptionExpirationDateTime() == nil || deref(n.GetId()) == "<nil>" {
		t.Errorf("notification: changeType %v resource %v subscription %v tenant %v clientState %v", n.GetChangeType(), deref(n.GetResource()),
			n.GetSubscriptionId(), n.GetTenantId(), deref(n.GetClientState()))
	}
	if rd := n.GetResourceData(); rd == nil || deref(rd.GetOdataType()) != "#microsoft.graph.externalConnectors.connectionOperation" ||
		rd.GetAdditionalData()["status"] == nil {
		t.Errorf("resourceData %+v", rd)
	}

	// Renew.
	renewed := time.Now().Add(2 * time.Hour).UTC().Truncate(time.Second)
	patch := models.NewSubscription()
	patch.SetExpirationDateTime(&renewed)
	got, err := e.client.Subscriptions().BySubscriptionId(id).Patch(t.Context(), patch, nil)
	if err != nil {
		t.Fatalf("renew: %s", describe(err))
	}
	e.wire.wantStatus(t, http.StatusOK)
	if got.GetExpirationDateTime() == nil || !got.GetExpirationDateTime().Equal(renewed) {
		t.Errorf("renewed expiry %v, want %v", got.GetExpirationDateTime(), renewed)
	}
	if err := e.client.Subscriptions().BySubscriptionId(id).Reauthorize().Post(t.Context(), nil); err != nil {
		t.Fatalf("reauthorize: %s", describe(err))
	}
	e.wire.wantStatus(t, http.StatusNoContent)
	list, err := e.client.Subscriptions().Get(t.Context(), nil)
	if err != nil || len(list.GetValue()) != 1 || deref(list.GetValue()[0].GetId()) != id {
		t.Fatalf("list: %v %v", err, list)
	}

	// Delete.
	if err := e.client.Subscriptions().BySubscriptionId(id).Delete(t.Context(), nil); err != nil {
		t.Fatalf("delete: %s", describe(err))
	}
	e.wire.wantStatus(t, http.StatusNoContent)
	_, err = e.client.Subscriptions().BySubscriptionId(id).Get(t.Context(), nil)
	wantODataError(t, err, http.StatusNotFound, "itemNotFound")
}

// waitNotification waits for the first notification and parses it with
// the SDK's model of Graph's notification collection.
func waitNotification(t *testing.T, rc *hookReceiver) models.ChangeNotificationable {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		rc.mu.Lock()
		var body []byte
		if len(rc.bodies) > 0 {
			body = rc.bodies[0]
		}
		rc.mu.Unlock()
		if body != nil {
			node, err := jsonserialization.NewJsonParseNode(body)
			if err != nil {
				t.Fatal(err)
			}
			v, err := node.GetObjectValue(models.CreateChangeNotificationCollectionResponseFromDiscriminatorValue)
			if err != nil {
				t.Fatalf("the SDK cannot parse the notification: %v\n%s", err, body)
			}
			coll := v.(models.ChangeNotificationCollectionResponseable)
			if len(coll.GetValue()) == 0 {
				t.Fatalf("no notification in %s", body)
			}
			return coll.GetValue()[0]
		}
		if time.Now().After(deadline) {
			t.Fatal("no notification within 15 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
