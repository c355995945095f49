// Package console serves the operator console: static files embedded in the
// binary, which call the API from the browser with the user's own token. It
// serves no data itself, so it adds no unauthenticated data route.
package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed assets
var assets embed.FS

// Prefix is where the console is mounted.
const Prefix = "/console/"

// staticDir is the URL segment under Prefix that holds every file but
// index.html. Its next segment is the build's version, so the files can be
// cached for good: a new build has a new version and so new URLs.
const staticDir = "static/"

// Security headers on every console answer. The policy allows scripts, styles
// and fetches from this origin only: no inline script or style, no framing,
// no <base>, and forms submit here or nowhere.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	"":      "text/plain; charset=utf-8", // LICENSE
}

// Handler serves the console under Prefix.
type Handler struct {
	version string
	index   []byte
	files   map[string]file // by path under assets/
}

type file struct {
	body        []byte
	etag        string
	contentType string
}

// New reads the embedded files and computes the build's version from them.
func New() (*Handler, error) {
	h := &Handler{files: map[string]file{}}
	sum := sha256.New()
	err := fs.WalkDir(assets, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := assets.ReadFile(p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, "assets/")
		ct, ok := contentTypes[path.Ext(name)]
		if !ok {
			return fmt.Errorf("console: no content type for %s", name)
		}
		digest := sha256.Sum256(body)
		h.files[name] = file{body: body, etag: `"` + hex.EncodeToString(digest[:8]) + `"`, contentType: ct}
		fmt.Fprintf(sum, "%s %x\n", name, digest)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("console: read embedded files: %w", err)
	}
	index, ok := h.files["index.html"]
	if !ok {
		return nil, fmt.Errorf("console: index.html is not embedded")
	}
	h.version = hex.EncodeToString(sum.Sum(nil)[:6])
	// index.html names its files as static/x; the served copy names them as
	// static/<version>/x. The rewrite is confined to attribute values that
	// start with static/, which only index.html's own links do.
	h.index = bytes.ReplaceAll(index.body, []byte(`="`+staticDir), []byte(`="`+staticDir+h.version+"/"))
	return h, nil
}

// Version identifies the embedded files: it changes whenever one does.
func (h *Handler) Version() string { return h.version }

// ServeHTTP answers GET and HEAD under Prefix: index.html at Prefix itself,
// the other files under Prefix/static/<version>/.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", contentSecurityPolicy)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("X-Frame-Options", "DENY")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, Prefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if rest == "" {
		// Always revalidated, so a new build's file names are seen at once.
		hdr.Set("Cache-Control", "no-cache")
		h.serve(w, r, "index.html", file{body: h.index, contentType: contentTypes[".html"],
			etag: `"` + h.version + `"`})
		return
	}
	version, name, ok := strings.Cut(strings.TrimPrefix(rest, staticDir), "/")
	f, found := h.files[name]
	if !strings.HasPrefix(rest, staticDir) || !ok || !found || name == "index.html" {
		hdr.Set("Cache-Control", "no-cache")
		http.NotFound(w, r)
		return
	}
	if version == h.version {
		hdr.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		// A page from another build (a replica not yet upgraded, or an old
		// tab) gets today's file, but nobody may keep it under that name.
		hdr.Set("Cache-Control", "no-cache")
	}
	h.serve(w, r, name, f)
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, name string, f file) {
	w.Header().Set("Content-Type", f.contentType)
	w.Header().Set("ETag", f.etag)
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(f.body))
}

// Beside serves the console under Prefix, redirects GET and HEAD of / (and
// of Prefix without its slash) there with 302, and hands every other request
// to next exactly as sent.
func (h *Handler) Beside(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case strings.HasPrefix(p, Prefix):
			h.ServeHTTP(w, r)
		case (p == "/" || p+"/" == Prefix) && (r.Method == http.MethodGet || r.Method == http.MethodHead):
			http.Redirect(w, r, Prefix, http.StatusFound)
		default:
			next.ServeHTTP(w, r)
		}
	})
}
