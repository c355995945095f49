package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
)

// links is what one round of requests answered with: the Location of a
// create, the @odata.context of its body, and the @odata.nextLink of a list.
type links struct{ location, context, nextLink string }

// linksFor creates a connection and two operations with header on every
// request, then lists the operations one per page.
func linksFor(t *testing.T, e *env, header map[string]string) links {
	t.Helper()
	tok := writer(t, "contoso")
	r := e.send(request{method: http.MethodPost, path: "/v1.0/external/connections", token: tok, header: header,
		body: `{"id":"fwd","name":"Forwarded"}`})
	if r.status != http.StatusCreated {
		t.Fatalf("create connection: %d %s", r.status, r.body)
	}
	var l links
	l.location = r.header.Get("Location")
	l.context, _ = r.json(t)["@odata.context"].(string)
	for range 2 {
		if r := e.send(request{method: http.MethodPost, path: "/v1.0/external/connections/fwd/operations", token: tok,
			header: header, body: `{}`}); r.status != http.StatusCreated {
			t.Fatalf("create operation: %d %s", r.status, r.body)
		}
	}
	r = e.send(request{method: http.MethodGet, path: "/v1.0/external/connections/fwd/operations?$top=1", token: tok, header: header})
	if r.status != http.StatusOK {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	l.nextLink, _ = r.json(t)["@odata.nextLink"].(string)
	return l
}

// wantBase checks that every link starts with base followed by a path.
func (l links) wantBase(t *testing.T, base string) {
	t.Helper()
	for name, link := range map[string]string{"Location": l.location, "@odata.context": l.context, "@odata.nextLink": l.nextLink} {
		if !strings.HasPrefix(link, base+"/v1.0/") {
			t.Errorf("%s = %q, want it to start with %s/v1.0/", name, link, base)
		}
	}
}

func TestForwardedHeadersOnlyFromTrustedProxies(t *testing.T) {
	forwarded := map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "connops.example.com"}
	tests := []struct {
		name string
		env  map[string]string
		// want is the base every link starts with; "" means the server's
		// own http://127.0.0.1:port.
		want string
	}{
		{"no proxy trusted", nil, ""},
		{"another proxy trusted", map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8"}, ""},
		{"the peer trusted", map[string]string{"TRUSTED_PROXIES": "127.0.0.1"}, "https://connops.example.com"},
		{"the peer's range trusted", map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8,127.0.0.0/8"}, "https://connops.example.com"},
		{"PUBLIC_BASE_URL wins", map[string]string{"TRUSTED_PROXIES": "127.0.0.1", "PUBLIC_BASE_URL": "https://api.example.org"}, "https://api.example.org"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newAppEnv(t, tt.env, nil)
			want := tt.want
			if want == "" {
				want = e.url
			}
			linksFor(t, e, forwarded).wantBase(t, want)
		})
	}
}

// A trusted proxy's headers are still checked: a scheme other than http or
// https, or a host with a path or credentials in it, is ignored rather than
// copied into links. A header listing several hops counts its first.
func TestForwardedHeadersAreValidated(t *testing.T) {
	tests := []struct {
		name   string
		header map[string]string
		want   string // "" means the server's own base
	}{
		{"proto alone", map[string]string{"X-Forwarded-Proto": "https"}, "https://127.0.0.1"},
		{"host alone", map[string]string{"X-Forwarded-Host": "connops.example.com:8443"}, "http://connops.example.com:8443"},
		{"first hop counts", map[string]string{"X-Forwarded-Proto": "https, http", "X-Forwarded-Host": "edge.example.com, lb.internal"}, "https://edge.example.com"},
		{"bad proto", map[string]string{"X-Forwarded-Proto": "javascript"}, ""},
		{"host with a path", map[string]string{"X-Forwarded-Host": "evil.example.com/phish"}, ""},
		{"host with credentials", map[string]string{"X-Forwarded-Host": "user@evil.example.com"}, ""},
		{"host with a space", map[string]string{"X-Forwarded-Host": "evil.example.com x"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newAppEnv(t, map[string]string{"TRUSTED_PROXIES": "127.0.0.1"}, nil)
			want := tt.want
			switch {
			case want == "":
				want = e.url
			case strings.HasSuffix(want, "127.0.0.1"):
				want += strings.TrimPrefix(e.url, "http://127.0.0.1")
			}
			linksFor(t, e, tt.header).wantBase(t, want)
		})
	}
}

// Items of a $batch build their links from the batch's forwarded headers;
// headers an item names itself are ignored, as the client wrote them past
// the proxy.
func TestForwardedHeadersInBatch(t *testing.T) {
	e := newAppEnv(t, map[string]string{"TRUSTED_PROXIES": "127.0.0.1"}, nil)
	tok := writer(t, "contoso")
	e.createConnection(tok, "fwd")
	r := e.send(request{method: http.MethodPost, path: "/v1.0/$batch", token: tok,
		header: map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "connops.example.com"},
		body: `{"requests":[{"id":"1","method":"POST","url":"/external/connections/fwd/operations",
			"headers":{"Content-Type":"application/json","X-Forwarded-Host":"evil.example.com","X-Forwarded-Proto":"http"},"body":{}}]}`})
	if r.status != http.StatusOK {
		t.Fatalf("batch: %d %s", r.status, r.body)
	}
	if body := string(r.body); !strings.Contains(body, `https://connops.example.com/v1.0/`) || strings.Contains(body, "evil.example.com") {
		t.Errorf("batch answer does not build links from the batch's forwarded headers:\n%s", body)
	}
}
