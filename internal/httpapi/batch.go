package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
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

type batchResponse struct {
	ID      string            `json:"id"`
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    json.RawMessage   `json:"body,omitempty"`
}

// batch serves POST /{version}/$batch: each inner request runs through the
// same router, with the batch's Authorization, as if it came on its own.
func (s *server) batch(version string) gin.HandlerFunc {
	return func(c *gin.Context) {
		body, ok := s.readJSON(c)
		if !ok {
			return
		}
		reqs, err := decodeBatch(body)
		if err != nil {
			s.writeError(c, err)
			return
		}
		run := &batchRun{s: s, c: c, version: version, reqs: reqs, done: map[string]batchResponse{}, running: map[string]bool{}}
		var out []batchResponse
		for _, r := range reqs {
			res, err := run.execute(r)
			if err != nil {
				s.writeError(c, err)
				return
			}
			out = append(out, res)
		}
		s.respond(c, http.StatusOK, map[string]any{"responses": out})
	}
}

type batchRun struct {
	s       *server
	c       *gin.Context
	version string
	reqs    []batchRequest
	done    map[string]batchResponse
	running map[string]bool
}

// execute runs r after its dependencies; a dependency that failed makes r a
// 424 without running it.
func (b *batchRun) execute(r batchRequest) (batchResponse, error) {
	key := strings.ToLower(r.ID)
	if res, ok := b.done[key]; ok {
		return res, nil
	}
	if b.running[key] {
		return batchResponse{}, badRequest("requests", "The batch's dependsOn references form a cycle through request '%s'.", truncate(r.ID, 64))
	}
	b.running[key] = true
	failed := ""
	for _, dep := range r.DependsOn {
		i := slices.IndexFunc(b.reqs, func(x batchRequest) bool { return strings.EqualFold(x.ID, dep) })
		res, err := b.execute(b.reqs[i])
		if err != nil {
			return batchResponse{}, err
		}
		if res.Status >= 400 && failed == "" {
			failed = dep
		}
	}
	var res batchResponse
	if failed != "" {
		res = b.failedDependency(r, failed)
	} else {
		res = b.serve(r)
	}
	b.done[key] = res
	return res, nil
}

func (b *batchRun) serve(r batchRequest) batchResponse {
	url := "/" + b.version + "/" + strings.TrimPrefix(r.URL, "/")
	req, err := http.NewRequestWithContext(b.c.Request.Context(), r.Method, url, bytes.NewReader(r.Body))
	if err != nil {
		rec := httptest.NewRecorder()
		ctx, _ := gin.CreateTestContext(rec)
		ctx.Request = b.c.Request
		respondError(ctx, http.StatusBadRequest, codeInvalidRequest, "The request's url is malformed.", "url")
		return recorded(r.ID, rec)
	}
	req.Host = b.c.Request.Host
	req.TLS = b.c.Request.TLS
	req.RemoteAddr = b.c.Request.RemoteAddr
	for k, v := range r.Headers {
		req.Header.Set(k, v)
	}
	if len(r.Body) > 0 && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", b.c.GetHeader("Authorization"))
	rec := httptest.NewRecorder()
	b.s.engine.ServeHTTP(rec, req)
	return recorded(r.ID, rec)
}

func (b *batchRun) failedDependency(r batchRequest, dep string) batchResponse {
	rec := httptest.NewRecorder()
	ctx, _ := gin.CreateTestContext(rec)
	ctx.Request = b.c.Request
	ctx.Set(idsKey, requestIDs(b.c))
	respondError(ctx, http.StatusFailedDependency, "failedDependency",
		fmt.Sprintf("The request was not run because request '%s' it depends on failed.", truncate(dep, 64)), "dependsOn")
	return recorded(r.ID, rec)
}

// recorded turns a recorded answer into a batch response: headers as single
// strings (the Graph SDKs require string values) and a JSON body as JSON,
// any other body as a JSON string.
func recorded(id string, rec *httptest.ResponseRecorder) batchResponse {
	res := batchResponse{ID: id, Status: rec.Code, Headers: map[string]string{}}
	for k, v := range rec.Header() {
		res.Headers[k] = strings.Join(v, ", ")
	}
	body := rec.Body.Bytes()
	switch {
	case len(body) == 0:
	case json.Valid(body) && strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json"):
		res.Body = body
	default:
		res.Body, _ = json.Marshal(string(body))
	}
	return res
}

func decodeBatch(body []byte) ([]batchRequest, error) {
	var reqs []batchRequest
	var present bool
	err := decodeObject("", body, fields{
		"requests": func(path string, raw json.RawMessage) error {
			present = true
			var elems []json.RawMessage
			if err := json.Unmarshal(raw, &elems); err != nil {
				return badRequest(path, "Property 'requests' must be an array.")
			}
			if len(elems) == 0 || len(elems) > MaxBatchRequests {
				return badRequest(path, "A batch holds 1 to %d requests; this one has %d.", MaxBatchRequests, len(elems))
			}
			for i, e := range elems {
				r, err := decodeBatchRequest(fmt.Sprintf("requests[%d]", i), e)
				if err != nil {
					return err
				}
				reqs = append(reqs, r)
			}
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	if !present {
		return nil, badRequest("requests", "Property 'requests' is required.")
	}
	return reqs, checkBatchReferences(reqs)
}

func decodeBatchRequest(path string, raw json.RawMessage) (batchRequest, error) {
	var r batchRequest
	err := decodeObject(path, raw, fields{
		"id":        stringField(&r.ID),
		"method":    stringField(&r.Method),
		"url":       stringField(&r.URL),
		"dependsOn": stringArrayField(&r.DependsOn),
		"headers": func(p string, raw json.RawMessage) error {
			if isNull(raw) {
				return nil
			}
			if err := json.Unmarshal(raw, &r.Headers); err != nil {
				return badRequest(p, "Property '%s' must be an object of string values.", p)
			}
			return nil
		},
		"body": func(p string, raw json.RawMessage) error {
			var encoded string
			switch {
			case isNull(raw):
			case json.Unmarshal(raw, &encoded) == nil:
				b, err := base64.StdEncoding.DecodeString(encoded)
				if err != nil {
					return badRequest(p, "Property '%s' must be a JSON object or a base64 string.", p)
				}
				r.Body = b
			default:
				r.Body = raw
			}
			return nil
		},
	})
	if err != nil {
		return r, err
	}
	r.Method = strings.ToUpper(r.Method)
	switch {
	case r.ID == "":
		return r, badRequest(path+".id", "Property '%s.id' is required.", path)
	case !slices.Contains([]string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete}, r.Method):
		return r, badRequest(path+".method", "Property '%s.method' must be GET, POST, PATCH, PUT or DELETE.", path)
	case r.URL == "" || strings.Contains(r.URL, "://") || strings.HasPrefix(strings.TrimPrefix(r.URL, "/"), "$batch"):
		return r, badRequest(path+".url", "Property '%s.url' must be a path relative to the version root, such as /external/connections.", path)
	}
	return r, nil
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
	return nil
}
