package console_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/connops/connops/internal/console"
)

const wantCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

func newHandler(t *testing.T) (*console.Handler, http.Handler) {
	t.Helper()
	ui, err := console.New()
	if err != nil {
		t.Fatal(err)
	}
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-From", "api")
		w.WriteHeader(http.StatusTeapot)
	})
	return ui, ui.Beside(api)
}

func do(h http.Handler, method, target string, header ...string) *http.Response {
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSecurityHeaders checks every console answer, found or not, carries
// the policy and the other headers.
func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	ui, h := newHandler(t)
	for _, target := range []string{
		"/console/",
		"/console/static/" + ui.Version() + "/app.js",
		"/console/static/" + ui.Version() + "/no-such-file.js",
		"/console/no-such-page",
		"/console/static/" + ui.Version() + "/index.html",
	} {
		for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodPost} {
			res := do(h, method, target)
			for name, want := range map[string]string{
				"Content-Security-Policy": wantCSP,
				"X-Content-Type-Options":  "nosniff",
				"Referrer-Policy":         "no-referrer",
			} {
				if got := res.Header.Get(name); got != want {
					t.Errorf("%s %s: %s = %q, want %q", method, target, name, got, want)
				}
			}
		}
	}
}

func TestRouting(t *testing.T) {
	t.Parallel()
	ui, h := newHandler(t)
	v := ui.Version()
	tests := []struct {
		name, method, target string
		status               int
		contentType          string
		cacheControl         string
		location             string
	}{
		{"root redirects", "GET", "/", http.StatusFound, "", "", "/console/"},
		{"root HEAD redirects", "HEAD", "/", http.StatusFound, "", "", "/console/"},
		{"no slash redirects", "GET", "/console", http.StatusFound, "", "", "/console/"},
		{"index", "GET", "/console/", http.StatusOK, "text/html; charset=utf-8", "no-cache", ""},
		{"index HEAD", "HEAD", "/console/", http.StatusOK, "text/html; charset=utf-8", "no-cache", ""},
		{"script", "GET", "/console/static/" + v + "/app.js", http.StatusOK, "text/javascript; charset=utf-8", "public, max-age=31536000, immutable", ""},
		{"view module", "GET", "/console/static/" + v + "/views/overview.js", http.StatusOK, "text/javascript; charset=utf-8", "public, max-age=31536000, immutable", ""},
		{"style", "GET", "/console/static/" + v + "/console.css", http.StatusOK, "text/css; charset=utf-8", "public, max-age=31536000, immutable", ""},
		{"vendored uPlot", "GET", "/console/static/" + v + "/vendor/uplot/uPlot.esm.js", http.StatusOK, "text/javascript; charset=utf-8", "public, max-age=31536000, immutable", ""},
		{"licence", "GET", "/console/static/" + v + "/vendor/uplot/LICENSE", http.StatusOK, "text/plain; charset=utf-8", "public, max-age=31536000, immutable", ""},
		{"icon", "GET", "/console/static/" + v + "/favicon.svg", http.StatusOK, "image/svg+xml", "public, max-age=31536000, immutable", ""},
		{"another build's file is not kept", "GET", "/console/static/0123456789ab/app.js", http.StatusOK, "text/javascript; charset=utf-8", "no-cache", ""},
		{"unknown file", "GET", "/console/static/" + v + "/nope.js", http.StatusNotFound, "text/plain; charset=utf-8", "no-cache", ""},
		{"unversioned file", "GET", "/console/static/app.js", http.StatusNotFound, "text/plain; charset=utf-8", "no-cache", ""},
		{"index by name", "GET", "/console/index.html", http.StatusNotFound, "text/plain; charset=utf-8", "no-cache", ""},
		{"index under static", "GET", "/console/static/" + v + "/index.html", http.StatusNotFound, "text/plain; charset=utf-8", "no-cache", ""},
		{"no directory listing", "GET", "/console/static/" + v + "/", http.StatusNotFound, "text/plain; charset=utf-8", "no-cache", ""},
		{"traversal", "GET", "/console/static/" + v + "/../console.go", http.StatusNotFound, "text/plain; charset=utf-8", "no-cache", ""},
		{"POST is refused", "POST", "/console/", http.StatusMethodNotAllowed, "text/plain; charset=utf-8", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := do(h, tt.method, tt.target)
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.status)
			}
			if tt.contentType != "" && res.Header.Get("Content-Type") != tt.contentType {
				t.Errorf("Content-Type %q, want %q", res.Header.Get("Content-Type"), tt.contentType)
			}
			if res.Header.Get("Cache-Control") != tt.cacheControl {
				t.Errorf("Cache-Control %q, want %q", res.Header.Get("Cache-Control"), tt.cacheControl)
			}
			if res.Header.Get("Location") != tt.location {
				t.Errorf("Location %q, want %q", res.Header.Get("Location"), tt.location)
			}
			if tt.method == http.MethodHead && body(t, res) != "" {
				t.Error("HEAD answered with a body")
			}
		})
	}
}

// TestOtherPathsReachTheAPI: only / and the console's own paths are taken;
// everything else, POST / included, goes to the API untouched.
func TestOtherPathsReachTheAPI(t *testing.T) {
	t.Parallel()
	_, h := newHandler(t)
	for _, c := range []struct{ method, target string }{
		{"GET", "/v1.0/external/connections"},
		{"GET", "/healthz"},
		{"GET", "/consoles"},
		{"GET", "/console.css"},
		{"POST", "/"},
		{"DELETE", "/console"},
		{"GET", "/metrics"},
	} {
		res := do(h, c.method, c.target)
		if res.StatusCode != http.StatusTeapot || res.Header.Get("X-From") != "api" {
			t.Errorf("%s %s: status %d, not handed to the API", c.method, c.target, res.StatusCode)
		}
		if res.Header.Get("Content-Security-Policy") != "" {
			t.Errorf("%s %s: the console's policy leaked onto an API answer", c.method, c.target)
		}
	}
}

func TestConditionalRequests(t *testing.T) {
	t.Parallel()
	ui, h := newHandler(t)
	for _, target := range []string{"/console/", "/console/static/" + ui.Version() + "/app.js"} {
		res := do(h, "GET", target)
		etag := res.Header.Get("ETag")
		if etag == "" {
			t.Fatalf("%s: no ETag", target)
		}
		if res := do(h, "GET", target, "If-None-Match", etag); res.StatusCode != http.StatusNotModified {
			t.Errorf("%s with If-None-Match: status %d, want 304", target, res.StatusCode)
		}
	}
}

// TestIndexHasNoInlineScript parses the served index.html: every script has
// a src on this origin and no body, no element has an event-handler
// attribute or a style attribute, there is no <style>, and every file it
// names is served under this build's version.
func TestIndexHasNoInlineScript(t *testing.T) {
	t.Parallel()
	ui, h := newHandler(t)
	page := body(t, do(h, "GET", "/console/"))
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	var scripts int
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		attrs := map[string]string{}
		for _, a := range n.Attr {
			attrs[a.Key] = a.Val
			if strings.HasPrefix(a.Key, "on") {
				t.Errorf("<%s> has an inline handler %s=%q", n.Data, a.Key, a.Val)
			}
			if a.Key == "style" {
				t.Errorf("<%s> has an inline style", n.Data)
			}
			if (a.Key == "href" || a.Key == "src") && strings.HasPrefix(strings.ToLower(strings.TrimSpace(a.Val)), "javascript:") {
				t.Errorf("<%s> has a javascript: URL", n.Data)
			}
		}
		switch n.Data {
		case "script":
			scripts++
			src, ok := attrs["src"]
			if !ok || src == "" {
				t.Error("a <script> has no src")
			}
			if n.FirstChild != nil && strings.TrimSpace(n.FirstChild.Data) != "" {
				t.Errorf("<script src=%q> has an inline body", src)
			}
			if strings.Contains(src, "//") {
				t.Errorf("<script src=%q> is not on this origin", src)
			}
		case "style":
			t.Error("index.html has a <style> element")
		}
		for _, key := range []string{"src", "href"} {
			if v, ok := attrs[key]; ok && strings.HasPrefix(v, "static/") {
				if !strings.HasPrefix(v, "static/"+ui.Version()+"/") {
					t.Errorf("%s=%q is not versioned", key, v)
				} else if res := do(h, "GET", "/console/"+v); res.StatusCode != http.StatusOK {
					t.Errorf("%s=%q: status %d", key, v, res.StatusCode)
				}
			}
		}
	}
	if scripts == 0 {
		t.Error("index.html has no script")
	}
}
