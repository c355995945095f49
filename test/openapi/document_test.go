package openapi_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gin-gonic/gin"

	"github.com/connops/connops/internal/httpapi"
	"github.com/connops/connops/internal/odata"
)

// documentServed fetches the document from both paths: the same bytes as the
// file, a valid OpenAPI 3 document, revalidated with its ETag. It runs inside
// TestServiceMatchesDocument, so its exchanges count as exercised.
func (e *env) documentServed(t *testing.T) {
	_, raw := loadDocument(t)
	for path, mediaType := range map[string]string{"/openapi.json": "application/json", "/openapi.yaml": "application/yaml"} {
		got := e.do(t, req{method: http.MethodGet, target: path, status: http.StatusOK})
		if ct := got.header.Get("Content-Type"); !strings.HasPrefix(ct, mediaType) {
			t.Errorf("%s: Content-Type %q, want %s", path, ct, mediaType)
		}
		if !bytes.Equal(got.body, raw) {
			t.Errorf("%s: served bytes differ from %s", path, documentPath)
		}
		doc, err := openapi3.NewLoader().LoadFromData(got.body)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if err := doc.Validate(context.Background()); err != nil {
			t.Errorf("%s: served document is not valid: %v", path, err)
		}
		tag := got.header.Get("ETag")
		again := e.do(t, req{method: http.MethodGet, target: path, status: http.StatusNotModified,
			header: map[string]string{"If-None-Match": tag}})
		if len(again.body) != 0 {
			t.Errorf("%s: 304 with a body", path)
		}
		e.do(t, req{method: http.MethodGet, target: path, status: http.StatusOK,
			header: map[string]string{"If-None-Match": `"stale"`}})
	}
}

var ginParam = regexp.MustCompile(`[:*]([A-Za-z0-9_]+)`)

// servedBeside lists what cmd/connops serves on the API port outside the
// engine (see serve.go).
var servedBeside = []string{"GET /metrics"}

// TestEveryRouteIsDocumented compares the routes the engine registers with
// the document's paths and methods, both ways.
func TestEveryRouteIsDocumented(t *testing.T) {
	t.Parallel()
	doc, _ := loadDocument(t)
	codec, err := odata.NewTokenCodec([]byte("openapi-document-page-token-key"))
	if err != nil {
		t.Fatal(err)
	}
	h, err := httpapi.New(httpapi.Config{PageTokens: codec}, nil, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	engine, ok := h.(*gin.Engine)
	if !ok {
		t.Fatalf("httpapi.New returned %T, not *gin.Engine", h)
	}
	registered := map[string]bool{}
	for _, r := range engine.Routes() {
		if r.Method == http.MethodHead {
			// Every GET route answers HEAD too, as HTTP asks; the document
			// describes the GET.
			continue
		}
		path := ginParam.ReplaceAllString(r.Path, "{$1}")
		registered[r.Method+" "+path] = true
		item := doc.Paths.Value(path)
		if item == nil || item.GetOperation(r.Method) == nil {
			t.Errorf("route %s %s is not in the document", r.Method, path)
		}
	}
	for _, r := range servedBeside {
		registered[r] = true
	}
	var documented []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
			if !registered[method+" "+path] {
				t.Errorf("the document lists %s %s, which the service does not serve", method, path)
			}
		}
	}
	if len(documented) != len(registered) {
		t.Errorf("%d routes served, %d documented", len(registered), len(documented))
	}
	ids := operationIDs(doc)
	if i := slices.IndexFunc(ids, func(id string) bool { return id == "" }); i >= 0 {
		t.Error("an operation has no operationId")
	}
}
