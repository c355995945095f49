package httpapi

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
)

// proxies is TRUSTED_PROXIES parsed once. The same list decides whose
// X-Forwarded-For gin believes for the client IP and whose
// X-Forwarded-Proto and X-Forwarded-Host the absolute links believe, so
// there is one rule for both: the socket peer is in the list.
type proxies []netip.Prefix

// parseProxies reads IP addresses and CIDR ranges as gin does: a bare
// address is a range of one.
func parseProxies(list []string) (proxies, error) {
	var out proxies
	for _, s := range list {
		s = strings.TrimSpace(s)
		if strings.Contains(s, "/") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return nil, fmt.Errorf("%q is not a CIDR range: %w", s, err)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not an IP address: %w", s, err)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// strings is the list in the form gin's SetTrustedProxies takes; nil for
// none, which gin reads as "trust no proxy".
func (p proxies) strings() []string {
	var out []string
	for _, prefix := range p {
		out = append(out, prefix.String())
	}
	return out
}

// trusts reports whether the request came straight from a trusted proxy.
// Only that peer's forwarded headers mean anything: any client can send
// them, and a proxy that is not ours would pass a client's on unchecked.
func (p proxies) trusts(c *gin.Context) bool {
	if len(p) == 0 {
		return false
	}
	peer, err := netip.ParseAddr(c.RemoteIP())
	if err != nil {
		return false
	}
	peer = peer.Unmap()
	for _, prefix := range p {
		if prefix.Contains(peer) {
			return true
		}
	}
	return false
}

// forwardedOrigin is the scheme and host the client used in front of a
// trusted proxy, as X-Forwarded-Proto and X-Forwarded-Host tell them. Either
// header may be missing or unusable; then the connection's own value stays.
// A proxy chain lists one value per hop, and the first is the one the client
// used (the outermost proxy's view), as Django and Express read it.
func forwardedOrigin(c *gin.Context, scheme, host string) (string, string) {
	if v := firstValue(c.GetHeader("X-Forwarded-Proto")); v != "" {
		switch v = strings.ToLower(v); v {
		case "http", "https":
			scheme = v
		}
	}
	if v := firstValue(c.GetHeader("X-Forwarded-Host")); v != "" && validHost(v) {
		host = v
	}
	return scheme, host
}

func firstValue(header string) string {
	first, _, _ := strings.Cut(header, ",")
	return strings.TrimSpace(first)
}

// validHost accepts a host and optional port and nothing else, so a header
// can never put a path, credentials or a second URL into a link.
func validHost(h string) bool {
	if strings.ContainsAny(h, "/\\@?#%\"'<> \t") {
		return false
	}
	u, err := url.Parse("http://" + h)
	return err == nil && u.Host == h && u.Hostname() != ""
}
