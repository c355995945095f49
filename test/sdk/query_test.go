package sdk_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/external"
	"github.com/microsoftgraph/msgraph-sdk-go/models/externalconnectors"
)

// seedOperations creates n operations op01..opNN on connectionID; every
// third one (op03, op06, ...) is completed, the rest inprogress.
func (e *env) seedOperations(connectionID string, n int) (completedIDs []string) {
	e.t.Helper()
	for i := 1; i <= n; i++ {
		id, status := fmt.Sprintf("op%02d", i), inprogress
		if i%3 == 0 {
			status = completed
			completedIDs = append(completedIDs, id)
		}
		e.createOperation(connectionID, id, status)
	}
	return completedIDs
}

func opIDs(ops []externalconnectors.ConnectionOperationable) []string {
	ids := make([]string, 0, len(ops))
	for _, op := range ops {
		ids = append(ids, fmt.Sprint(deref(op.GetId())))
	}
	return ids
}

func listOps(t *testing.T, e *env, connectionID string, q external.ConnectionsItemOperationsRequestBuilderGetQueryParameters) externalconnectors.ConnectionOperationCollectionResponseable {
	t.Helper()
	res, err := e.operations(connectionID).Get(t.Context(), &external.ConnectionsItemOperationsRequestBuilderGetRequestConfiguration{QueryParameters: &q})
	if err != nil {
		t.Fatalf("list ?%s: %s", e.wire.last(t).query, describe(err))
	}
	return res
}

func TestListOperationsQueryOptions(t *testing.T) {
	e := newEnv(t)
	e.createConnection("sdkquery")
	wantCompleted := e.seedOperations("sdkquery", 10)

	t.Run("top", func(t *testing.T) {
		res := listOps(t, e, "sdkquery", external.ConnectionsItemOperationsRequestBuilderGetQueryParameters{Top: ptr[int32](3)})
		if n := len(res.GetValue()); n != 3 {
			t.Errorf("$top=3 gave %d operations", n)
		}
		if res.GetOdataNextLink() == nil {
			t.Errorf("$top=3 of 10 gave no @odata.nextLink")
		}
	})
	t.Run("filter", func(t *testing.T) {
		res := listOps(t, e, "sdkquery", external.ConnectionsItemOperationsRequestBuilderGetQueryParameters{Filter: ptr("status eq 'completed'")})
		got := opIDs(res.GetValue())
		slices.Sort(got)
		if !slices.Equal(got, wantCompleted) {
			t.Errorf("$filter completed = %v, want %v", got, wantCompleted)
		}
	})
	t.Run("orderby", func(t *testing.T) {
		res := listOps(t, e, "sdkquery", external.ConnectionsItemOperationsRequestBuilderGetQueryParameters{Orderby: []string{"id desc"}})
		got := opIDs(res.GetValue())
		if len(got) != 10 || !slices.IsSortedFunc(got, func(a, b string) int { return strings.Compare(b, a) }) {
			t.Errorf("$orderby=id desc = %v", got)
		}
	})
	t.Run("select", func(t *testing.T) {
		res := listOps(t, e, "sdkquery", external.ConnectionsItemOperationsRequestBuilderGetQueryParameters{Select: []string{"id"}})
		for _, op := range res.GetValue() {
			if op.GetId() == nil || op.GetStatus() != nil {
				t.Errorf("$select=id gave id %v status %v", deref(op.GetId()), op.GetStatus())
			}
		}
	})
	t.Run("count", func(t *testing.T) {
		res := listOps(t, e, "sdkquery", external.ConnectionsItemOperationsRequestBuilderGetQueryParameters{Count: ptr(true), Top: ptr[int32](2)})
		if c := res.GetOdataCount(); c == nil || *c != 10 {
			t.Errorf("@odata.count = %v, want 10", deref(c))
		}
	})
}

func TestPageIteratorSeesEveryOperationOnce(t *testing.T) {
	e := newEnv(t)
	e.createConnection("sdkpages")
	const total = 25
	e.seedOperations("sdkpages", total)

	first := listOps(t, e, "sdkpages", external.ConnectionsItemOperationsRequestBuilderGetQueryParameters{Top: ptr[int32](7)})
	it, err := msgraphcore.NewPageIterator[externalconnectors.ConnectionOperationable](first, e.client.GetAdapter(),
		externalconnectors.CreateConnectionOperationCollectionResponseFromDiscriminatorValue)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	err = it.Iterate(t.Context(), func(op externalconnectors.ConnectionOperationable) bool {
		seen[fmt.Sprint(deref(op.GetId()))]++
		return true
	})
	if err != nil {
		t.Fatalf("iterate: %s (last request %s?%s)", describe(err), e.wire.last(t).path, e.wire.last(t).query)
	}
	for i := 1; i <= total; i++ {
		if id := fmt.Sprintf("op%02d", i); seen[id] != 1 {
			t.Errorf("%s seen %d times", id, seen[id])
		}
	}
	if len(seen) != total {
		t.Errorf("saw %d distinct operations, want %d", len(seen), total)
	}
	if pages := len(e.wire.matching(http.MethodGet, "/sdkpages/operations")); pages != 4 {
		t.Errorf("fetched %d pages, want 4 (7+7+7+4)", pages)
	}
}

func TestCountOperations(t *testing.T) {
	e := newEnv(t)
	e.createConnection("sdkcount")
	wantCompleted := e.seedOperations("sdkcount", 7)
	count := e.operations("sdkcount").Count()

	n, err := count.Get(t.Context(), nil)
	if err != nil {
		t.Fatalf("$count: %s", describe(err))
	}
	if n == nil || *n != 7 {
		t.Errorf("$count = %v, want 7", deref(n))
	}
	if ct := e.wire.last(t).respHeader.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("$count Content-Type = %q, want text/plain", ct)
	}

	n, err = count.Get(t.Context(), &external.ConnectionsItemOperationsCountRequestBuilderGetRequestConfiguration{
		QueryParameters: &external.ConnectionsItemOperationsCountRequestBuilderGetQueryParameters{Filter: ptr("status eq 'completed'")},
	})
	if err != nil {
		t.Fatalf("$count with $filter: %s", describe(err))
	}
	if n == nil || int(*n) != len(wantCompleted) {
		t.Errorf("$count with $filter = %v, want %d", deref(n), len(wantCompleted))
	}
}
