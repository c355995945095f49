package connopstest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// OperationURL is the URL of an operation, as a Location header gives it.
func (s *Server) OperationURL(connectionID, operationID string) string {
	return s.URL + "/v1.0/external/connections/" + url.PathEscape(connectionID) + "/operations/" + url.PathEscape(operationID)
}

// CompleteOperation completes an operation connops started, such as a
// schema registration, as if provisioning had finished: the schema becomes
// active and a draft connection ready. operation is its URL (the Location of
// the 202, or OperationURL) in tenant. It PATCHes the operation over HTTP
// with a token carrying the Connops.Operations.Control role, as any client
// could; the client under test keeps polling and sees the result.
func (s *Server) CompleteOperation(ctx context.Context, tenant, operation string) error {
	return s.finish(ctx, tenant, operation, map[string]any{"status": "completed"})
}

// FailOperation fails an operation connops started, with a publicError of
// code and message (defaults when empty): the schema it registered fails and
// the connection stays as it was.
func (s *Server) FailOperation(ctx context.Context, tenant, operation, code, message string) error {
	body := map[string]any{"status": "failed"}
	if code != "" || message != "" {
		body["error"] = map[string]string{"code": code, "message": message}
	}
	return s.finish(ctx, tenant, operation, body)
}

func (s *Server) finish(ctx context.Context, tenant, operation string, body map[string]any) error {
	target, err := s.resolve(operation)
	if err != nil {
		return err
	}
	payload, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, target, bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("connopstest: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.AppToken(tenant, "connopstest-control", OperationsControl, ReadAll))
	res, err := s.http.Client().Do(req)
	if err != nil {
		return fmt.Errorf("connopstest: PATCH %s: %w", target, err)
	}
	defer res.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	if res.StatusCode != http.StatusNoContent && res.StatusCode != http.StatusOK {
		return fmt.Errorf("connopstest: PATCH %s to %s: %s %s", target, body["status"], res.Status, answer)
	}
	return nil
}

// resolve accepts the operation's absolute URL on this server or a path
// from its root.
func (s *Server) resolve(operation string) (string, error) {
	if strings.HasPrefix(operation, "/") {
		return s.URL + operation, nil
	}
	u, err := url.Parse(operation)
	if err != nil || u.Scheme+"://"+u.Host != s.URL {
		return "", fmt.Errorf("connopstest: %q is not an operation URL of this server (%s)", operation, s.URL)
	}
	return operation, nil
}
