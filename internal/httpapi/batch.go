package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

// MaxBatchRequests is Graph's limit on requests in one JSON batch.
const MaxBatchRequests = 20

// batchBodyFactor sizes the batch body cap from the single-request cap: a
// batch may carry several bodies, but not twenty full-size ones.
const batchBodyFactor = 4

type batchRequest struct {
	ID        string
	Method    string
	URL       string
	Headers   map[string]string
	Body      []byte
	DependsOn []string
}

// header finds one of the request's headers, whatever its case.
func (r batchRequest) header(name string) string {
	for k, v := range r.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

type batchResponse struct {
	ID      string            `json:"id"`
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    json.RawMessage   `json:"body,omitempty"`
}

// batch serves POST /{version}/$batch: each inner request runs through the
// same router, with the batch's Authorization, as if it came on its own.
// Requests run concurrently, each once its dependencies have answered, so
// independent creates in one batch share the store's grouped commits.
func (s *server) batch(version string) gin.HandlerFunc {
	return func(c *gin.Context) {
		// The root defence against nesting: whatever spelling of $batch
		// got an item here, a batch run as an item of another is refused.
		if c.Request.Context().Value(insideBatchKey{}) != nil {
			respondError(c, http.StatusBadRequest, codeInvalidRequest, "A batch cannot contain another batch.", "url")
			return
		}
		body, ok := s.readJSON(c)
		if !ok {
			return
		}
		reqs, err := decodeBatch(body)
		if err != nil {
			s.writeError(c, err)
			return
		}
		run := &batchRun{s: s, c: c, version: version, budget: s.cfg.BatchMaxBytes / len(reqs)}
		s.respond(c, http.StatusOK, batchBody(run.all(reqs)))
	}
}

// insideBatchKey marks the context of a request run as an item of a batch.
type insideBatchKey struct{}

type batchRun struct {
	s       *server
	c       *gin.Context
	version string
	budget  int // each item's page budget, in bytes
}

// all runs every request in its own goroutine. Results are written before
// each request's done channel closes, so a dependant reads them safely.
func (b *batchRun) all(reqs []batchRequest) []batchResponse {
	index := map[string]int{}
	done := make([]chan struct{}, len(reqs))
	for i, r := range reqs {
		index[strings.ToLower(r.ID)] = i
		done[i] = make(chan struct{})
	}
	results := make([]batchResponse, len(reqs))
	var wg sync.WaitGroup
	for i, r := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done[i])
			failed := ""
			for _, dep := range r.DependsOn {
				j := index[strings.ToLower(dep)]
				<-done[j]
				if results[j].Status >= 400 && failed == "" {
					failed = dep
				}
			}
			if failed != "" {
				results[i] = b.failedDependency(r, failed)
				return
			}
			results[i] = b.serve(r)
		}()
	}
	wg.Wait()
	return results
}

// itemURL is the request URI an item's url is served at.
func itemURL(version, raw string) string {
	if abs, ok := versionedPath(raw); ok {
		return abs
	}
	return "/" + version + "/" + strings.TrimPrefix(raw, "/")
}

func (b *batchRun) serve(r batchRequest) batchResponse {
	url := itemURL(b.version, r.URL)
	ctx := withPageBudget(context.WithValue(b.c.Request.Context(), insideBatchKey{}, true), b.budget)
	req, err := http.NewRequestWithContext(ctx, r.Method, url, bytes.NewReader(r.Body))
	if err != nil {
		return batchError(r, http.StatusBadRequest, codeInvalidRequest, "The request's url is malformed.", "url")
	}
	req.Host = b.c.Request.Host
	req.TLS = b.c.Request.TLS
	req.RemoteAddr = b.c.Request.RemoteAddr
	for k, v := range r.Headers {
		req.Header.Set(k, v)
	}
	// An item's links are built as the batch's own are: from the batch's
	// forwarded headers, never from ones the item names, which the client
	// wrote past the proxy.
	for _, h := range []string{"X-Forwarded-Proto", "X-Forwarded-Host"} {
		req.Header.Del(h)
		if v := b.c.GetHeader(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	if len(r.Body) > 0 && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", b.c.GetHeader("Authorization"))
	w := newItemWriter()
	b.s.engine.ServeHTTP(w, req)
	return w.response(r.ID)
}

func (b *batchRun) failedDependency(r batchRequest, dep string) batchResponse {
	return batchError(r, http.StatusFailedDependency, "failedDependency",
		fmt.Sprintf("The request was not run because request '%s' it depends on failed.", truncate(dep, 64)), "dependsOn")
}

// batchError answers an inner request that never reached the router with
// the same envelope and ids a routed one would get.
func batchError(r batchRequest, status int, code, message, target string) batchResponse {
	id := ids{request: uuid.NewString(), client: clientRequestID(r.header("client-request-id"))}
	if id.client == "" {
		id.client = id.request
	}
	body, _ := json.Marshal(envelope(id, code, message, target))
	return batchResponse{ID: r.ID, Status: status, Body: body, Headers: map[string]string{
		"Content-Type": plainJSON, "Request-Id": id.request, "Client-Request-Id": id.client,
	}}
}

// batchWire is a batch body. It is decoded in one pass with unknown
// properties refused: a batch is an envelope, and its items' bodies are
// checked again, strictly, by the routes they are sent to.
type batchWire struct {
	Requests *[]batchItemWire `json:"requests"`
}

type batchItemWire struct {
	ID        string            `json:"id"`
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	Headers   map[string]string `json:"headers"`
	Body      json.RawMessage   `json:"body"`
	DependsOn []string          `json:"dependsOn"`
}

func decodeBatch(body []byte) ([]batchRequest, error) {
	if err := checkDepth(body); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var w batchWire
	if err := dec.Decode(&w); err != nil {
		return nil, batchDecodeError(err)
	}
	if dec.More() {
		return nil, badRequest("", "The request body has data after the end of the JSON object.")
	}
	if w.Requests == nil {
		return nil, badRequest("requests", "Property 'requests' is required.")
	}
	items := *w.Requests
	if len(items) == 0 || len(items) > MaxBatchRequests {
		return nil, badRequest("requests", "A batch holds 1 to %d requests; this one has %d.", MaxBatchRequests, len(items))
	}
	reqs := make([]batchRequest, 0, len(items))
	for i, item := range items {
		r, err := item.request(fmt.Sprintf("requests[%d]", i))
		if err != nil {
			return nil, err
		}
		reqs = append(reqs, r)
	}
	return reqs, checkBatchReferences(reqs)
}

// batchDecodeError words a decoding failure, naming the property where the
// decoder says which.
func batchDecodeError(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" {
		return badRequest(typeErr.Field, "Property '%s' has the wrong JSON type.", typeErr.Field)
	}
	if msg := err.Error(); strings.HasPrefix(msg, "json: unknown field ") {
		name := strings.Trim(strings.TrimPrefix(msg, "json: unknown field "), `"`)
		return badRequest(name, "Property '%s' is not a known property of a batch.", truncate(name, 64))
	}
	if errors.As(err, &typeErr) {
		return badRequest("", "The request body must be a JSON object with a 'requests' array.")
	}
	return badRequest("", "The request body is not valid JSON: %s.", jsonProblem(err))
}

func (w batchItemWire) request(path string) (batchRequest, error) {
	r := batchRequest{ID: w.ID, Method: strings.ToUpper(w.Method), URL: w.URL, Headers: w.Headers, DependsOn: w.DependsOn}
	var encoded string
	switch {
	case len(w.Body) == 0 || isNull(w.Body):
	case json.Unmarshal(w.Body, &encoded) == nil:
		b, err := base64.StdEncoding.DecodeString(encoded)
		if err != nil {
			return r, badRequest(path+".body", "Property '%s.body' must be a JSON object or a base64 string.", path)
		}
		r.Body = b
	default:
		r.Body = w.Body
	}
	switch {
	case r.ID == "":
		return r, badRequest(path+".id", "Property '%s.id' is required.", path)
	case !slices.Contains([]string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete}, r.Method):
		return r, badRequest(path+".method", "Property '%s.method' must be GET, POST, PATCH, PUT or DELETE.", path)
	case r.URL == "" || namesBatch(r.URL):
		return r, badRequest(path+".url", "Property '%s.url' must be a path relative to the version root, such as /external/connections, and not a batch.", path)
	case strings.Contains(r.URL, "://"):
		if _, ok := versionedPath(r.URL); !ok {
			return r, badRequest(path+".url", "Property '%s.url' must be relative to the version root, or an absolute URL whose path starts with /v1.0/ or /beta/.", path)
		}
	}
	return r, nil
}

// namesBatch reports whether an item URL leads to $batch in any spelling:
// percent-encoded, with dot segments or doubled slashes. It looks at the
// path as the router will see it: built as serve builds it, decoded and
// cleaned.
func namesBatch(raw string) bool {
	u, err := url.Parse(itemURL("v1.0", raw))
	if err != nil {
		return false // refused later as malformed
	}
	for _, seg := range strings.Split(path.Clean("/"+u.Path), "/") {
		if strings.EqualFold(seg, "$batch") {
			return true
		}
	}
	return false
}

func checkBatchReferences(reqs []batchRequest) error {
	seen := map[string]bool{}
	for _, r := range reqs {
		key := strings.ToLower(r.ID)
		if seen[key] {
			return badRequest("requests", "The batch has more than one request with the id '%s'.", truncate(r.ID, 64))
		}
		seen[key] = true
	}
	for _, r := range reqs {
		for _, dep := range r.DependsOn {
			if !seen[strings.ToLower(dep)] {
				return badRequest("dependsOn", "Request '%s' depends on '%s', which is not in the batch.", truncate(r.ID, 64), truncate(dep, 64))
			}
		}
	}
	return checkCycles(reqs)
}

// checkCycles refuses dependsOn references that loop, which would leave the
// requests on the loop waiting for each other forever.
func checkCycles(reqs []batchRequest) error {
	deps := map[string][]string{}
	for _, r := range reqs {
		for _, d := range r.DependsOn {
			deps[strings.ToLower(r.ID)] = append(deps[strings.ToLower(r.ID)], strings.ToLower(d))
		}
	}
	const (
		unvisited = iota
		visiting
		visited
	)
	state := map[string]int{}
	var visit func(id string) error
	visit = func(id string) error {
		switch state[id] {
		case visiting:
			return badRequest("dependsOn", "The batch's dependsOn references form a cycle through request '%s'.", truncate(id, 64))
		case visited:
			return nil
		}
		state[id] = visiting
		for _, d := range deps[id] {
			if err := visit(d); err != nil {
				return err
			}
		}
		state[id] = visited
		return nil
	}
	for _, r := range reqs {
		if err := visit(strings.ToLower(r.ID)); err != nil {
			return err
		}
	}
	return nil
}

// versionedPath accepts an absolute item URL, as the Graph SDKs build when
// their request builders carry a full base URL: only its path and query are
// used, and the path must start at a version root.
func versionedPath(raw string) (string, bool) {
	if !strings.Contains(raw, "://") {
		return "", false
	}
	u, err := url.Parse(raw)
	if err != nil || !(strings.HasPrefix(u.Path, "/v1.0/") || strings.HasPrefix(u.Path, "/beta/")) {
		return "", false
	}
	return u.RequestURI(), true
}
