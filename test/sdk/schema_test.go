package sdk_test

import (
	"net/http"
	"path"
	"testing"
	"time"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	nethttplibrary "github.com/microsoft/kiota-http-go"
	"github.com/microsoftgraph/msgraph-sdk-go/external"
	"github.com/microsoftgraph/msgraph-sdk-go/models/externalconnectors"
)

func sdkProperty(name string, typ externalconnectors.PropertyType, searchable, retrievable bool, labels ...externalconnectors.Label) externalconnectors.Propertyable {
	p := externalconnectors.NewProperty()
	p.SetName(&name)
	p.SetTypeEscaped(&typ)
	p.SetIsSearchable(&searchable)
	p.SetIsRetrievable(&retrievable)
	p.SetLabels(labels)
	return p
}

// TestSchemaRegistration is what docs/api.md shows: PATCH the schema with
// the SDK, read the Location through Kiota's headers-inspection option,
// poll the operation to completed, read the schema back.
func TestSchemaRegistration(t *testing.T) {
	e := newEnvWith(t, map[string]string{"PROVISIONING_DELAY": "300ms"})
	e.createConnection("sdkschema")
	schema := externalconnectors.NewSchema()
	base := "microsoft.graph.externalItem"
	schema.SetBaseType(&base)
	schema.SetProperties([]externalconnectors.Propertyable{
		sdkProperty("title", externalconnectors.STRING_PROPERTYTYPE, true, true, externalconnectors.TITLE_LABEL),
		sdkProperty("modified", externalconnectors.DATETIME_PROPERTYTYPE, false, true, externalconnectors.LASTMODIFIEDDATETIME_LABEL),
		sdkProperty("tags", externalconnectors.STRINGCOLLECTION_PROPERTYTYPE, true, true),
	})

	inspect := nethttplibrary.NewHeadersInspectionOptions()
	inspect.InspectResponseHeaders = true
	builder := e.client.External().Connections().ByExternalConnectionId("sdkschema").Schema()
	if _, err := builder.Patch(t.Context(), schema, &external.ConnectionsItemSchemaRequestBuilderPatchRequestConfiguration{
		Options: []abstractions.RequestOption{inspect},
	}); err != nil {
		t.Fatalf("patch schema: %s", describe(err))
	}
	e.wire.wantStatus(t, http.StatusAccepted)
	locations := inspect.GetResponseHeaders().Get("Location")
	if len(locations) != 1 {
		t.Fatalf("Location headers: %v", locations)
	}
	opID := path.Base(locations[0])

	op := e.operations("sdkschema").ByConnectionOperationId(opID)
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := op.Get(t.Context(), nil)
		if err != nil {
			t.Fatalf("get operation: %s", describe(err))
		}
		if s := got.GetStatus(); s != nil && *s == completed {
			break
		} else if s == nil || *s != inprogress {
			t.Fatalf("operation status %v", s)
		}
		if time.Now().After(deadline) {
			t.Fatal("the operation did not complete")
		}
		time.Sleep(100 * time.Millisecond)
	}

	read, err := builder.Get(t.Context(), nil)
	if err != nil {
		t.Fatalf("get schema: %s", describe(err))
	}
	props := read.GetProperties()
	if deref(read.GetBaseType()) != base || len(props) != 3 {
		t.Fatalf("schema read back: %v, %d properties", deref(read.GetBaseType()), len(props))
	}
	if typ := props[1].GetTypeEscaped(); typ == nil || *typ != externalconnectors.DATETIME_PROPERTYTYPE {
		t.Errorf("property type read back: %v", typ)
	}
	if labels := props[0].GetLabels(); len(labels) != 1 || labels[0] != externalconnectors.TITLE_LABEL {
		t.Errorf("labels read back: %v", labels)
	}
	conn, err := e.connections().ByExternalConnectionId("sdkschema").Get(t.Context(), nil)
	if err != nil {
		t.Fatalf("get connection: %s", describe(err))
	}
	if s := conn.GetState(); s == nil || *s != externalconnectors.READY_CONNECTIONSTATE {
		t.Errorf("connection state %v, want ready", s)
	}
}
