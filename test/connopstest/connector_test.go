// Package graphconnector_test is a connector team's test suite: its Graph
// client (msgraph-sdk-go) against connops started in-process by
// connopstest, exactly as a module outside connops would write it.
package graphconnector_test

import (
	"context"
	"path"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	abstractions "github.com/microsoft/kiota-abstractions-go"
	azauth "github.com/microsoft/kiota-authentication-azure-go"
	nethttplibrary "github.com/microsoft/kiota-http-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	"github.com/microsoftgraph/msgraph-sdk-go/external"
	"github.com/microsoftgraph/msgraph-sdk-go/models/externalconnectors"

	"github.com/connops/connops/connopstest"
)

func TestMain(m *testing.M) { connopstest.Main(m) }

// staticToken hands the SDK one connopstest token.
type staticToken string

func (s staticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(s), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// newClient is the SDK client as the connector builds it for national
// clouds, with the base URL set on the adapter before the client is built.
// The allowed host is needed because the auth provider sends tokens only to
// hosts it knows.
func newClient(t *testing.T, srv *connopstest.Server, token string) *msgraphsdk.GraphServiceClient {
	t.Helper()
	authProvider, err := azauth.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(
		staticToken(token), []string{"https://graph.microsoft.com/.default"}, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	adapter, err := msgraphsdk.NewGraphRequestAdapter(authProvider)
	if err != nil {
		t.Fatal(err)
	}
	adapter.SetBaseUrl(srv.URL + "/v1.0")
	return msgraphsdk.NewGraphServiceClient(adapter)
}

func ptr[T any](v T) *T { return &v }

// registerSchema creates a connection and PATCHes its schema through the
// SDK, returning the Location of the registration's operation.
func registerSchema(t *testing.T, client *msgraphsdk.GraphServiceClient, id string) string {
	t.Helper()
	conn := externalconnectors.NewExternalConnection()
	conn.SetId(ptr(id))
	conn.SetName(ptr("Contoso HR"))
	if _, err := client.External().Connections().Post(t.Context(), conn, nil); err != nil {
		t.Fatalf("create connection: %v", err)
	}
	title := externalconnectors.NewProperty()
	title.SetName(ptr("title"))
	title.SetTypeEscaped(ptr(externalconnectors.STRING_PROPERTYTYPE))
	title.SetIsSearchable(ptr(true))
	title.SetIsRetrievable(ptr(true))
	title.SetLabels([]externalconnectors.Label{externalconnectors.TITLE_LABEL})
	schema := externalconnectors.NewSchema()
	schema.SetBaseType(ptr("microsoft.graph.externalItem"))
	schema.SetProperties([]externalconnectors.Propertyable{title})

	inspect := nethttplibrary.NewHeadersInspectionOptions()
	inspect.InspectResponseHeaders = true
	_, err := client.External().Connections().ByExternalConnectionId(id).Schema().Patch(t.Context(), schema,
		&external.ConnectionsItemSchemaRequestBuilderPatchRequestConfiguration{Options: []abstractions.RequestOption{inspect}})
	if err != nil {
		t.Fatalf("register schema: %v", err)
	}
	location := inspect.GetResponseHeaders().Get("Location")
	if len(location) != 1 {
		t.Fatalf("the 202 has Location %v", location)
	}
	return location[0]
}

// waitFor polls the operation through the SDK, as a connector does, until
// it is no longer in progress.
func waitFor(t *testing.T, client *msgraphsdk.GraphServiceClient, connectionID, location string) externalconnectors.ConnectionOperationable {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		op, err := client.External().Connections().ByExternalConnectionId(connectionID).Operations().
			ByConnectionOperationId(path.Base(location)).Get(t.Context(), nil)
		if err != nil {
			t.Fatalf("poll operation: %v", err)
		}
		if s := op.GetStatus(); s != nil && *s != externalconnectors.INPROGRESS_CONNECTIONOPERATIONSTATUS {
			return op
		}
		if time.Now().After(deadline) {
			t.Fatal("operation still in progress after 15s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestSchemaRegistrationCompletes: with no provisioning delay the SDK sees
// its registration complete and the connection turn ready.
func TestSchemaRegistrationCompletes(t *testing.T) {
	t.Parallel()
	srv := connopstest.Start(t, connopstest.WithProvisioningDelay(0))
	client := newClient(t, srv, srv.Token("contoso"))
	op := waitFor(t, client, "contosohr", registerSchema(t, client, "contosohr"))
	if *op.GetStatus() != externalconnectors.COMPLETED_CONNECTIONOPERATIONSTATUS {
		t.Fatalf("registration ended %s", op.GetStatus().String())
	}
	conn, err := client.External().Connections().ByExternalConnectionId("contosohr").Get(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if conn.GetState() == nil || *conn.GetState() != externalconnectors.READY_CONNECTIONSTATE {
		t.Errorf("connection state %v, want ready", conn.GetState())
	}
}

// TestConnectorHandlesAFailedRegistration: the test decides the outcome
// (manual provisioning) and the SDK sees the failure with its error.
func TestConnectorHandlesAFailedRegistration(t *testing.T) {
	t.Parallel()
	srv := connopstest.Start(t, connopstest.WithManualProvisioning())
	client := newClient(t, srv, srv.Token("contoso"))
	location := registerSchema(t, client, "contosohr")
	if err := srv.FailOperation(t.Context(), "contoso", location, "InvalidSchema", "Rejected by the test."); err != nil {
		t.Fatal(err)
	}
	op := waitFor(t, client, "contosohr", location)
	if *op.GetStatus() != externalconnectors.FAILED_CONNECTIONOPERATIONSTATUS {
		t.Fatalf("registration ended %s, want failed", op.GetStatus().String())
	}
	if op.GetError() == nil || op.GetError().GetCode() == nil || *op.GetError().GetCode() != "InvalidSchema" {
		t.Errorf("operation error %v, want code InvalidSchema", op.GetError())
	}
	conn, err := client.External().Connections().ByExternalConnectionId("contosohr").Get(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if conn.GetState() == nil || *conn.GetState() != externalconnectors.DRAFT_CONNECTIONSTATE {
		t.Errorf("connection state %v after a failed first schema, want draft", conn.GetState())
	}
}
