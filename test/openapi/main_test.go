// Package openapi_test holds connops to its OpenAPI document: it drives a real
// connops over HTTP and validates every request it sends and every response
// it gets against internal/httpapi/openapi.json.
package openapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"mime"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/gin-gonic/gin"

	"github.com/connops/connops/internal/app"
	"github.com/connops/connops/internal/auth"
	"github.com/connops/connops/internal/connections"
	"github.com/connops/connops/internal/httpapi"
	"github.com/connops/connops/internal/odata"
	"github.com/connops/connops/internal/pgtest"
	"github.com/connops/connops/internal/postgres"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	// OData's /$count answers a bare integer as text/plain; the document
	// describes it with an integer schema, as Graph's own description does.
	openapi3filter.RegisterBodyDecoder("text/plain", decodePlainInteger)
	// An event stream is text; the document gives its grammar as the
	// pattern of a string schema.
	openapi3filter.RegisterBodyDecoder("text/event-stream", decodeEventStream)
	pgtest.Main(m)
}

// documentPath is the document as the service embeds it.
const documentPath = "../../internal/httpapi/openapi.json"

const testSecret = "openapi-test-secret-0123456789abcdef-0123456789"

var plainInteger = regexp.MustCompile(`^(0|[1-9][0-9]*)$`)

func decodePlainInteger(body io.Reader, _ http.Header, schema *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
	data, err := io.ReadAll(body)
	if err != nil {
		return nil, err
	}
	if schema == nil || schema.Value == nil || !schema.Value.Type.Is("integer") {
		return string(data), nil
	}
	if !plainInteger.Match(data) {
		return nil, fmt.Errorf("text/plain body %q is not a decimal integer", data)
	}
	n, err := strconv.ParseInt(string(data), 10, 64)
	if err != nil {
		return nil, err
	}
	return float64(n), nil
}

// decodeEventStream gives the validator the blocks of an event stream a
// test read, as the string the document describes.
func decodeEventStream(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
	data, err := io.ReadAll(body)
	return string(data), err
}

// loadDocument reads, loads and validates the document.
func loadDocument(t *testing.T) (*openapi3.T, []byte) {
	t.Helper()
	raw, err := os.ReadFile(documentPath)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		t.Fatalf("load document: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("document is not valid OpenAPI 3: %v", err)
	}
	return doc, raw
}

// want says what the document should make of a request.
type want int

const (
	// valid: the request must satisfy the document.
	valid want = iota
	// invalid: the request must break the document (a deliberate error case
	// the document is expected to describe as wrong).
	invalid
	// unchecked: the document cannot tell (e.g. an unsupported query option,
	// which OpenAPI cannot forbid).
	unchecked
)

// env is one connops on its own database, reached over real HTTP, with the
// document's router to check each exchange.
type env struct {
	url    string
	engine *gin.Engine
	doc    *openapi3.T
	router routers.Router
	// app is the connops served, for a test that must reach below HTTP
	// (as retention does).
	app *app.App
}

// exercised records "operationId status" of every validated response, across
// all environments, so a test can tell which documented answers were seen.
var exercised = struct {
	sync.Mutex
	m map[string]bool
}{m: map[string]bool{}}

func markExercised(key string) {
	exercised.Lock()
	exercised.m[key] = true
	exercised.Unlock()
}

type envOptions struct {
	// vars are environment variables on top of the suite's defaults.
	vars map[string]string
	// faulty serves the real router over faultyService, in front of the
	// real service, with a failing readiness check: the answers of a lost
	// database and of a bug, which a healthy server cannot be made to give.
	faulty bool
}

func newEnv(t *testing.T, opts envOptions) *env {
	t.Helper()
	doc, _ := loadDocument(t)
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	vals := map[string]string{"DATABASE_URL": pgtest.DSN(t), "AUTH_HS256_SECRET": testSecret, "RATE_LIMIT_RPS": "0"}
	maps.Copy(vals, opts.vars)
	cfg, err := app.LoadConfig(func(k string) string { return vals[k] }, app.Need{Database: true, Auth: true})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := app.New(t.Context(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	h, api := a.Handler, a.Router
	if opts.faulty {
		codec, err := odata.NewTokenCodec([]byte("openapi-faulty-page-token-key"))
		if err != nil {
			t.Fatal(err)
		}
		svc := connections.NewService(postgres.NewStore(a.Pool(), postgres.StoreOptions{}), log,
			connections.Options{MaxConnectionsPerTenant: cfg.MaxConnections})
		if api, err = httpapi.New(httpapi.Config{PageTokens: codec}, faultyService{svc}, auth.NewHS256([]byte(testSecret)), notReady{}, log); err != nil {
			t.Fatal(err)
		}
		h = api
	}
	engine, ok := api.(*gin.Engine)
	if !ok {
		t.Fatalf("the API router is %T; the route coverage check needs the *gin.Engine", api)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{url: srv.URL, engine: engine, doc: doc, router: router, app: a}
}

// token signs a token for tenant with the given application roles.
func token(t *testing.T, tenant string, roles ...string) string {
	t.Helper()
	tok, err := auth.Issue([]byte(testSecret), auth.DevToken{TenantID: tenant, AppID: "app-" + tenant, Roles: roles, TTL: time.Hour}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func writer(t *testing.T, tenant string) string {
	return token(t, tenant, connections.PermReadWriteAll)
}
func reader(t *testing.T, tenant string) string { return token(t, tenant, connections.PermReadAll) }

// req is one request of a scenario.
type req struct {
	method string
	// target is a path with query relative to the server, or an absolute URL
	// (a nextLink).
	target string
	token  string
	// body is sent as JSON unless it is a []byte or string, sent as is.
	body   any
	header map[string]string
	// status is the status the service must answer.
	status int
	// request is what the document should make of the request.
	request want
	// blocks is how many blocks of an event stream to read (1 when 0).
	blocks int
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) object(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, r.body)
	}
	return m
}

func encodeBody(t *testing.T, body any) []byte {
	t.Helper()
	switch b := body.(type) {
	case nil:
		return nil
	case []byte:
		return b
	case string:
		return []byte(b)
	}
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// do sends r, checks the status, and validates request and response against
// the document.
func (e *env) do(t *testing.T, r req) resp {
	t.Helper()
	target := r.target
	if !strings.HasPrefix(target, "http") {
		target = e.url + target
	}
	body := encodeBody(t, r.body)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	build := func(ctx context.Context) *http.Request {
		hr, err := http.NewRequestWithContext(ctx, r.method, target, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body != nil {
			hr.Header.Set("Content-Type", "application/json")
		}
		if r.token != "" {
			hr.Header.Set("Authorization", "Bearer "+r.token)
		}
		for k, v := range r.header {
			hr.Header.Set(k, v)
		}
		return hr
	}
	res, err := http.DefaultClient.Do(build(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	got := resp{status: res.StatusCode, header: res.Header}
	if isEventStream(res.Header) {
		// An event stream does not end, so it is never read to its end:
		// the first r.blocks blocks (whole ones) are the body, and the
		// stream is closed. They are validated like any body, against the
		// grammar components.schemas.eventStream gives as its pattern,
		// rather than the body being skipped. A stream that sends fewer
		// fails the test rather than hanging it.
		stop := time.AfterFunc(streamReadLimit, cancel)
		got.body, err = readEventBlocks(res.Body, max(r.blocks, 1))
		stop.Stop()
		if err != nil {
			t.Fatalf("%s %s: reading %d event stream blocks: %v\n%s", r.method, r.target, max(r.blocks, 1), err, got.body)
		}
	} else if got.body, err = io.ReadAll(res.Body); err != nil {
		t.Fatal(err)
	}
	if r.status != 0 && got.status != r.status {
		t.Fatalf("%s %s: status %d, want %d\n%s", r.method, r.target, got.status, r.status, got.body)
	}
	e.validate(t, build(t.Context()), r.request, got)
	return got
}

// streamReadLimit bounds the wait for the blocks a test reads from an event
// stream: events already committed come at once, heartbeats every 15 s.
const streamReadLimit = 30 * time.Second

func isEventStream(h http.Header) bool {
	mt, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	return mt == "text/event-stream"
}

// readEventBlocks reads an event stream up to the end of its n-th block
// (the empty line that ends it), or to its end if it ends first.
func readEventBlocks(body io.Reader, n int) ([]byte, error) {
	br := bufio.NewReader(body)
	var out []byte
	for n > 0 {
		line, err := br.ReadString('\n')
		out = append(out, line...)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if line == "\n" {
			n--
		}
	}
	return out, nil
}

// validate checks one exchange against the document. A request to a path or
// method the document does not list must have been answered with the
// document's resourceNotFound or methodNotAllowed response.
func (e *env) validate(t *testing.T, hr *http.Request, expect want, got resp) {
	t.Helper()
	what := hr.Method + " " + hr.URL.RequestURI()
	route, params, err := e.router.FindRoute(hr)
	switch {
	case errors.Is(err, routers.ErrPathNotFound):
		e.validateComponent(t, what, "notFound", http.StatusNotFound, got)
		return
	case errors.Is(err, routers.ErrMethodNotAllowed):
		e.validateComponent(t, what, "methodNotAllowed", http.StatusMethodNotAllowed, got)
		return
	case err != nil:
		t.Fatalf("%s: find route: %v", what, err)
	}
	in := &openapi3filter.RequestValidationInput{
		Request: hr, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: bearerPresent, MultiError: true},
	}
	reqErr := openapi3filter.ValidateRequest(t.Context(), in)
	switch {
	case expect == valid && reqErr != nil:
		t.Errorf("%s: request does not match the document: %v", what, reqErr)
	case expect == invalid && reqErr == nil:
		t.Errorf("%s: request was meant to break the document, but the document accepts it", what)
	}
	if got.status == http.StatusNotModified {
		e.validateNotModified(t, what, route.Operation, got)
	} else {
		out := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: in, Status: got.status, Header: got.header,
			Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
		}
		out.SetBodyBytes(got.body)
		if err := openapi3filter.ValidateResponse(t.Context(), out); err != nil {
			t.Errorf("%s: %d response does not match the document: %v\nheaders: %v\nbody: %s", what, got.status, err, got.header, got.body)
		}
	}
	markExercised(route.Operation.OperationID + " " + strconv.Itoa(got.status))
}

// validateNotModified checks a 304, which openapi3filter.ValidateResponse
// passes without a look: the operation must document it, with the headers
// it declares, and it has no body.
func (e *env) validateNotModified(t *testing.T, what string, op *openapi3.Operation, got resp) {
	t.Helper()
	ref := op.Responses.Status(got.status)
	if ref == nil || ref.Value == nil {
		t.Errorf("%s: status %d is not in the document", what, got.status)
		return
	}
	validateHeaders(t, what, ref.Value, got)
	if len(got.body) != 0 {
		t.Errorf("%s: 304 with a body: %s", what, got.body)
	}
}

// validateHeaders checks an answer's headers against those a response
// declares.
func validateHeaders(t *testing.T, what string, r *openapi3.Response, got resp) {
	t.Helper()
	for name, h := range r.Headers {
		v := got.header.Get(name)
		if v == "" {
			if h.Value.Required {
				t.Errorf("%s: header %s missing", what, name)
			}
			continue
		}
		if err := h.Value.Schema.Value.VisitJSON(v); err != nil {
			t.Errorf("%s: header %s: %v", what, name, err)
		}
	}
}

// validateComponent checks an answer against one of the document's shared
// responses (used where no operation applies: unknown paths and methods,
// and 424 inside a batch).
func (e *env) validateComponent(t *testing.T, what, name string, status int, got resp) {
	t.Helper()
	if got.status != status {
		t.Errorf("%s: status %d, the document says %d here", what, got.status, status)
		return
	}
	ref := e.doc.Components.Responses[name]
	if ref == nil || ref.Value == nil {
		t.Fatalf("document has no components.responses.%s", name)
	}
	validateHeaders(t, what, ref.Value, got)
	mt := ref.Value.Content.Get(got.header.Get("Content-Type"))
	if mt == nil {
		t.Errorf("%s: content type %q is not in components.responses.%s", what, got.header.Get("Content-Type"), name)
		return
	}
	var v any
	if err := json.Unmarshal(got.body, &v); err != nil {
		t.Errorf("%s: body is not JSON: %v", what, err)
		return
	}
	if err := mt.Schema.Value.VisitJSON(v, openapi3.MultiErrors()); err != nil {
		t.Errorf("%s: body does not match components.responses.%s: %v\n%s", what, name, err, got.body)
	}
	markExercised("components.responses." + name)
}

// bearerPresent is the document's security check: a bearer token must be
// sent. Whether it verifies is the service's business (401).
func bearerPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if in.SecurityScheme == nil || in.SecurityScheme.Scheme != "bearer" {
		return fmt.Errorf("unexpected security scheme %v", in.SecurityScheme)
	}
	h := in.RequestValidationInput.Request.Header.Get("Authorization")
	scheme, tok, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return errors.New("no bearer token")
	}
	return nil
}

// operationIDs lists every operation in the document.
func operationIDs(doc *openapi3.T) []string {
	var ids []string
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			ids = append(ids, op.OperationID)
		}
	}
	slices.Sort(ids)
	return ids
}
