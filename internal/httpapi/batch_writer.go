package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
)

// itemWriter is the response writer a batch item is served into: it keeps
// the status, headers and body for the batch's answer. Its body is capped;
// an item that writes more gets a Graph 500 in its place, so no item can
// grow the batch's answer beyond the cap.
type itemWriter struct {
	header   http.Header
	status   int
	body     bytes.Buffer
	overflow bool
}

// maxItemBody bounds one item's body: above the largest single resource
// the domain limits allow, well below what twenty of them may use.
const maxItemBody = 2 << 20

func newItemWriter() *itemWriter { return &itemWriter{header: http.Header{}} }

func (w *itemWriter) Header() http.Header { return w.header }

func (w *itemWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *itemWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	if w.body.Len()+len(p) > maxItemBody {
		w.overflow = true
		return len(p), nil
	}
	return w.body.Write(p)
}

// response turns what was written into the item's part of the batch answer:
// headers as single strings (the Graph SDKs require string values), a JSON
// body as JSON, any other body as a JSON string.
func (w *itemWriter) response(id string) batchResponse {
	if w.overflow {
		return batchError(batchRequest{ID: id}, http.StatusInternalServerError, codeGeneral,
			"The answer to this request is too large to carry in a batch; send it on its own.", "")
	}
	status := w.status
	if status == 0 {
		status = http.StatusOK
	}
	res := batchResponse{ID: id, Status: status, Headers: make(map[string]string, len(w.header))}
	for k, v := range w.header {
		res.Headers[k] = strings.Join(v, ", ")
	}
	body := w.body.Bytes()
	switch {
	case len(body) == 0:
	case strings.HasPrefix(w.header.Get("Content-Type"), "application/json") && json.Valid(body):
		res.Body = body
	default:
		res.Body, _ = json.Marshal(string(body))
	}
	return res
}
