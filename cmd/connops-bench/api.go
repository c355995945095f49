package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// apiClient talks to the service over one keep-alive connection of its own.
type apiClient struct {
	base  string
	token string
	http  *http.Client
}

// newAPIClients gives every worker its own transport, hence its own
// connection, as separate callers would have.
func newAPIClients(base, token string, n int) []*apiClient {
	out := make([]*apiClient, n)
	for i := range out {
		out[i] = &apiClient{base: base, token: token, http: &http.Client{
			Timeout:   30 * time.Second,
			Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true, IdleConnTimeout: time.Minute},
		}}
	}
	return out
}

func (c *apiClient) close() { c.http.CloseIdleConnections() }

// statusError is an answer other than the one a step expects.
type statusError struct {
	method, path string
	status       int
	body         string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s %s: status %d: %s", e.method, e.path, e.status, e.body)
}

// call sends one request and returns the body when the status is want.
// keepBody false drains the body without keeping it.
func (c *apiClient) call(ctx context.Context, method, path string, body []byte, want int, keepBody bool) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != want {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return nil, &statusError{method: method, path: path, status: res.StatusCode, body: strings.TrimSpace(string(b))}
	}
	if !keepBody {
		_, err = io.Copy(io.Discard, res.Body)
		return nil, err
	}
	return io.ReadAll(res.Body)
}

const (
	apiRoot        = "/v1.0"
	connectionsSet = apiRoot + "/external/connections"
)

// createJSON is the body of every create: the smallest valid operation.
const createJSON = `{"status":"inprogress"}`

// createConnection creates id; an existing connection is fine.
func (c *apiClient) createConnection(ctx context.Context, id string) error {
	body, _ := json.Marshal(map[string]string{"id": id, "name": "benchmark " + id})
	_, err := c.call(ctx, http.MethodPost, connectionsSet, body, http.StatusCreated, false)
	if se := (*statusError)(nil); errors.As(err, &se) && se.status == http.StatusConflict {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create connection %s: %w", id, err)
	}
	return nil
}

func (c *apiClient) createOperation(ctx context.Context, connection string) (int, error) {
	_, err := c.call(ctx, http.MethodPost, connectionsSet+"/"+connection+"/operations", []byte(createJSON), http.StatusCreated, false)
	if err != nil {
		return 0, err
	}
	return 1, nil
}

func (c *apiClient) get(ctx context.Context, path string) (int, error) {
	if _, err := c.call(ctx, http.MethodGet, path, nil, http.StatusOK, false); err != nil {
		return 0, err
	}
	return 1, nil
}

// batchBody is a JSON batch of n operation creates on connection.
func batchBody(connection string, n int) []byte {
	type request struct {
		ID      string            `json:"id"`
		Method  string            `json:"method"`
		URL     string            `json:"url"`
		Headers map[string]string `json:"headers"`
		Body    json.RawMessage   `json:"body"`
	}
	reqs := make([]request, n)
	for i := range reqs {
		reqs[i] = request{
			ID: fmt.Sprint(i + 1), Method: http.MethodPost,
			URL:     "/external/connections/" + connection + "/operations",
			Headers: map[string]string{"Content-Type": "application/json"},
			Body:    json.RawMessage(createJSON),
		}
	}
	b, _ := json.Marshal(map[string]any{"requests": reqs})
	return b
}

// batch posts one batch and counts the inner creates that answered 201.
func (c *apiClient) batch(ctx context.Context, body []byte, size int) (int, error) {
	b, err := c.call(ctx, http.MethodPost, apiRoot+"/$batch", body, http.StatusOK, true)
	if err != nil {
		return 0, err
	}
	var out struct {
		Responses []struct {
			Status int             `json:"status"`
			Body   json.RawMessage `json:"body"`
		} `json:"responses"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return 0, fmt.Errorf("decode batch response: %w", err)
	}
	created := 0
	var failed error
	for _, r := range out.Responses {
		if r.Status == http.StatusCreated {
			created++
		} else if failed == nil {
			failed = fmt.Errorf("batch inner request: status %d: %.300s", r.Status, r.Body)
		}
	}
	if failed == nil && created != size {
		failed = fmt.Errorf("batch: %d responses for %d requests", len(out.Responses), size)
	}
	return created, failed
}
