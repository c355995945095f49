package sdk_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// wire sits in front of connops and records each exchange as it crossed the
// network, so tests can assert status codes and what the SDK really sent.
type wire struct {
	next http.Handler

	mu        sync.Mutex
	exchanges []exchange
}

type exchange struct {
	method, path, query string
	reqHeader           http.Header
	reqBody             []byte // as sent, possibly gzipped
	status              int
	respHeader          http.Header
}

// body returns the request body, gunzipped when the SDK compressed it.
func (x exchange) body(t *testing.T) string {
	t.Helper()
	if x.reqHeader.Get("Content-Encoding") != "gzip" {
		return string(x.reqBody)
	}
	r, err := gzip.NewReader(bytes.NewReader(x.reqBody))
	if err != nil {
		t.Fatalf("gunzip request body: %v", err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("gunzip request body: %v", err)
	}
	return string(b)
}

func (w *wire) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := &statusWriter{ResponseWriter: rw, status: http.StatusOK}
	w.next.ServeHTTP(rec, r)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.exchanges = append(w.exchanges, exchange{
		method: r.Method, path: r.URL.Path, query: r.URL.RawQuery,
		reqHeader: r.Header.Clone(), reqBody: body,
		status: rec.status, respHeader: rw.Header().Clone(),
	})
}

// last returns the most recent exchange.
func (w *wire) last(t *testing.T) exchange {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.exchanges) == 0 {
		t.Fatal("no request reached the server")
	}
	return w.exchanges[len(w.exchanges)-1]
}

// matching returns the exchanges whose method and path match.
func (w *wire) matching(method, pathSuffix string) []exchange {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []exchange
	for _, x := range w.exchanges {
		if x.method == method && strings.HasSuffix(x.path, pathSuffix) {
			out = append(out, x)
		}
	}
	return out
}

// wantStatus checks the last exchange's status is one of want.
func (w *wire) wantStatus(t *testing.T, want ...int) {
	t.Helper()
	x := w.last(t)
	for _, s := range want {
		if x.status == s {
			return
		}
	}
	t.Errorf("%s %s answered %d, want one of %v", x.method, x.path, x.status, want)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}
