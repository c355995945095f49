package webhooks

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

func TestValidateFollowsGraphsHandshake(t *testing.T) {
	var query atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		query.Store(r.URL.RawQuery)
		if r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, r.URL.Query().Get("validationToken")+"\r\n")
	}))
	defer srv.Close()
	c := NewClient(ClientOptions{AllowPrivateNetworks: true})
	if err := c.Validate(context.Background(), srv.URL+"/hook?tenant=a&b=c"); err != nil {
		t.Fatal(err)
	}
	q, _ := query.Load().(string)
	if !strings.HasPrefix(q, "tenant=a&b=c&validationToken=") {
		t.Errorf("query %q, want the URL's own parameters first", q)
	}
}

// TestDialRefusesWhatPolicyRefuses: a request to a loopback host goes
// nowhere under the strict policy, even when no URL check ran before it
// (a name that resolved elsewhere when checked).
func TestDialRefusesWhatPolicyRefuses(t *testing.T) {
	hit := false
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hit = true }))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	c := NewClient(ClientOptions{})
	_, err := c.post(context.Background(), "https://localhost:"+port+"/hook", []byte(`{}`))
	var refused *refusedError
	if !errors.As(err, &refused) {
		t.Errorf("post to localhost: %v, want a refusal", err)
	}
	if _, err := c.post(context.Background(), srv.URL, []byte(`{}`)); err == nil {
		t.Error("plain http went through without WEBHOOK_ALLOW_PRIVATE_NETWORKS")
	}
	if hit {
		t.Error("the loopback server was reached")
	}
}

// TestRedirectsAreNotFollowed: a 3xx is the answer, not a pointer to
// another address.
func TestRedirectsAreNotFollowed(t *testing.T) {
	var followed atomic.Bool
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { followed.Store(true) }))
	defer target.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL, http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	c := NewClient(ClientOptions{AllowPrivateNetworks: true})
	status, err := c.post(context.Background(), srv.URL, []byte(`{}`))
	if err != nil || status != http.StatusTemporaryRedirect || followed.Load() {
		t.Errorf("post: %d %v, followed %v; want the 307 itself", status, err, followed.Load())
	}
}

// TestAnswersAreReadUpToACap: an endless answer costs connops 64 KiB, not
// the whole stream.
func TestAnswersAreReadUpToACap(t *testing.T) {
	var sent atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		chunk := make([]byte, 32<<10)
		for r.Context().Err() == nil {
			n, err := w.Write(chunk)
			sent.Add(int64(n))
			if err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	c := NewClient(ClientOptions{AllowPrivateNetworks: true})
	status, err := c.post(context.Background(), srv.URL, []byte(`{}`))
	if err != nil || status != http.StatusOK {
		t.Fatalf("post: %d %v", status, err)
	}
	if err := c.Validate(context.Background(), srv.URL); err == nil || !strings.Contains(err.Error(), "not the validation token") {
		t.Errorf("validate against an endless answer: %v", err)
	}
	if n := sent.Load(); n > 32<<20 {
		t.Errorf("the server got %d bytes out before connops hung up, want a small multiple of 64 KiB", n)
	}
}
