package connopstest_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/connops/connops/connopstest"
)

// A test of a connector that registers a schema and waits for it: connops
// runs in-process on its own database, provisioning is manual, and the
// test completes the registration when it wants to. In a test, Start(t)
// does what New and Close do here.
func Example() {
	ctx := context.Background()
	srv, err := connopstest.New(ctx, connopstest.WithManualProvisioning())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	token := srv.Token("contoso")

	send := func(method, path, body string) *http.Response {
		req, _ := http.NewRequestWithContext(ctx, method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		res.Body.Close()
		return res
	}
	res := send(http.MethodPost, "/v1.0/external/connections", `{"id":"contosohr","name":"Contoso HR"}`)
	fmt.Println("create connection:", res.Status)
	res = send(http.MethodPatch, "/v1.0/external/connections/contosohr/schema",
		`{"baseType":"microsoft.graph.externalItem","properties":[{"name":"title","type":"String","isSearchable":true}]}`)
	fmt.Println("register schema:", res.Status)

	// The connector under test polls res.Header.Get("Location"); the test
	// decides when provisioning is done.
	if err := srv.CompleteOperation(ctx, "contoso", res.Header.Get("Location")); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("registration completed")
	// Output:
	// create connection: 201 Created
	// register schema: 202 Accepted
	// registration completed
}
