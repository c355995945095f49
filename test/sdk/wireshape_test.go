package sdk_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestSDKWireShape pins down what the SDK puts on the wire with its default
// middleware, so a change in the SDK shows up here rather than as a puzzling
// failure elsewhere, and checks connops answers it as Graph would.
func TestSDKWireShape(t *testing.T) {
	e := newEnv(t)
	e.createConnection("sdkwire")
	x := e.wire.last(t)

	// The default CompressionHandler gzips every request body and only falls
	// back to plain JSON when the server answers 415.
	if got := x.reqHeader.Get("Content-Encoding"); got != "gzip" {
		t.Logf("SDK no longer gzips request bodies (Content-Encoding %q)", got)
	}
	if x.status != http.StatusCreated {
		t.Errorf("gzipped create answered %d, want 201", x.status)
	}
	if !strings.HasPrefix(x.reqHeader.Get("Content-Type"), "application/json") {
		t.Errorf("Content-Type = %q", x.reqHeader.Get("Content-Type"))
	}
	if !strings.HasPrefix(x.reqHeader.Get("Authorization"), "Bearer ") {
		t.Errorf("Authorization = %q, want a bearer token", x.reqHeader.Get("Authorization"))
	}
	sent := x.reqHeader.Get("client-request-id")
	if sent == "" {
		t.Errorf("SDK sent no client-request-id")
	}
	if got := x.respHeader.Get("client-request-id"); got != sent {
		t.Errorf("client-request-id echoed as %q, sent %q", got, sent)
	}
	if x.respHeader.Get("request-id") == "" {
		t.Errorf("no request-id response header")
	}

	if _, err := e.operations("sdkwire").Count().Get(t.Context(), nil); err != nil {
		t.Fatalf("$count: %s", describe(err))
	}
	if got := e.wire.last(t).reqHeader.Get("Accept"); got != "text/plain;q=0.9" {
		t.Logf("SDK's Accept for $count is now %q", got)
	}
}
