package sdk_test

import (
	"net/http"
	"testing"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/models/externalconnectors"
)

func TestBatch(t *testing.T) {
	e := newEnv(t)
	e.createConnection("sdkbatch")
	ops := e.operations("sdkbatch")
	batch := msgraphcore.NewBatchRequest(e.client.GetAdapter())
	add := func(info *abstractions.RequestInformation, err error) msgraphcore.BatchItem {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		item, err := batch.AddBatchRequestStep(*info)
		if err != nil {
			t.Fatal(err)
		}
		return item
	}

	create1 := add(ops.ToPostRequestInformation(t.Context(), newOperation("batch1", inprogress), nil))
	create2 := add(ops.ToPostRequestInformation(t.Context(), newOperation("batch2", completed), nil))
	read1 := add(ops.ByConnectionOperationId("batch1").ToGetRequestInformation(t.Context(), nil))
	read1.DependsOnItem(create1)
	missing := add(e.operations("nosuchconn").ByConnectionOperationId("x").ToGetRequestInformation(t.Context(), nil))
	dependent := add(ops.ByConnectionOperationId("batch2").ToGetRequestInformation(t.Context(), nil))
	dependent.DependsOnItem(missing)

	res, err := batch.Send(t.Context(), e.client.GetAdapter())
	if err != nil {
		t.Fatalf("send batch: %s", describe(err))
	}
	e.wire.wantStatus(t, http.StatusOK)

	want := map[msgraphcore.BatchItem]int32{
		create1: http.StatusCreated, create2: http.StatusCreated, read1: http.StatusOK,
		missing: http.StatusNotFound, dependent: http.StatusFailedDependency,
	}
	statuses := res.GetStatusCodes()
	for item, status := range want {
		if got, ok := statuses[*item.GetId()]; !ok || got != status {
			t.Errorf("%s %s: status %d (present %v), want %d", *item.GetMethod(), *item.GetUrl(), got, ok, status)
		}
	}

	op, err := msgraphcore.GetBatchResponseById[externalconnectors.ConnectionOperationable](res, *read1.GetId(),
		externalconnectors.CreateConnectionOperationFromDiscriminatorValue)
	if err != nil {
		t.Fatalf("read batch item: %s", describe(err))
	}
	if deref(op.GetId()) != "batch1" || op.GetStatus() == nil || *op.GetStatus() != inprogress {
		t.Errorf("batched GET = id %v status %v, want batch1 inprogress", deref(op.GetId()), op.GetStatus())
	}
	if body := res.GetResponseById(*missing.GetId()).GetBody(); body == nil || body["error"] == nil {
		t.Errorf("404 item body = %v, want an error envelope", body)
	}
}
