package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"syscall"
)

// nonPublic are the ranges outside the public internet beyond what netip's
// own predicates name (loopback, RFC 1918 and ULA, link-local,
// multicast, unspecified), each with its kind: connops never connects to
// them for a tenant, since a URL there reaches connops's own network, not
// the tenant's.
var nonPublic = []struct {
	prefix netip.Prefix
	kind   string
}{
	{netip.MustParsePrefix("100.64.0.0/10"), "a carrier-grade NAT address"},
	{netip.MustParsePrefix("0.0.0.0/8"), "a reserved address"}, // "this network"
	{netip.MustParsePrefix("192.0.0.0/24"), "a reserved address"},
	{netip.MustParsePrefix("192.0.2.0/24"), "a documentation address"},
	{netip.MustParsePrefix("198.18.0.0/15"), "a benchmarking address"},
	{netip.MustParsePrefix("198.51.100.0/24"), "a documentation address"},
	{netip.MustParsePrefix("203.0.113.0/24"), "a documentation address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "a reserved address"}, // and the broadcast address
	{netip.MustParsePrefix("64:ff9b::/96"), "a NAT64 address"},   // would reach IPv4 behind it
	{netip.MustParsePrefix("64:ff9b:1::/48"), "a NAT64 address"},
	{netip.MustParsePrefix("100::/64"), "a discard address"},
	{netip.MustParsePrefix("2001::/23"), "a reserved address"}, // Teredo, ORCHID...
	{netip.MustParsePrefix("2001:db8::/32"), "a documentation address"},
	{netip.MustParsePrefix("2002::/16"), "a 6to4 address"}, // embeds an IPv4 address
	{netip.MustParsePrefix("fec0::/10"), "a site-local address"},
}

// classify names the kind of a non-public address, or "" for a public one.
// IPv4-mapped IPv6 addresses are judged as the IPv4 address they are.
func classify(a netip.Addr) string {
	a = a.Unmap()
	switch {
	case !a.IsValid():
		return "an invalid address"
	case a.IsUnspecified():
		return "an unspecified address"
	case a.IsLoopback():
		return "a loopback address"
	case a.IsPrivate():
		return "a private address"
	case a.IsLinkLocalUnicast():
		// 169.254.169.254 is the cloud metadata service.
		return "a link-local address"
	case a.IsMulticast() || a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast():
		return "a multicast address"
	}
	for _, r := range nonPublic {
		if r.prefix.Contains(a) {
			return r.kind
		}
	}
	return ""
}

// policy is which addresses and schemes deliveries may use.
type policy struct {
	// allowPrivate lets deliveries reach loopback and private networks, and
	// use plain http there (connops dev, tests).
	allowPrivate bool
}

// refusedError is an address connops will not connect to.
type refusedError struct {
	addr netip.Addr
	kind string
	why  string
}

func (e *refusedError) Error() string {
	return fmt.Sprintf("connops does not connect to %s, %s%s", e.addr.Unmap(), e.kind, e.why)
}

// check refuses an address a connection of the given scheme may not reach:
// https goes to public addresses (anything with allowPrivate, bar what
// cannot be connected to at all); plain http, allowed only with
// allowPrivate, to non-public ones only, so it never crosses the internet.
func (p policy) check(scheme string, a netip.Addr) error {
	kind := classify(a)
	switch {
	case kind == "an invalid address" || kind == "an unspecified address" || kind == "a multicast address":
		return &refusedError{addr: a, kind: kind}
	case scheme == "http" && kind == "":
		return &refusedError{addr: a, kind: "a public address", why: " over plain http; use https"}
	case scheme == "https" && kind != "" && !p.allowPrivate:
		return &refusedError{addr: a, kind: kind, why: " (WEBHOOK_ALLOW_PRIVATE_NETWORKS is off)"}
	}
	return nil
}

// control is a net.Dialer Control for one scheme: it checks the address
// actually being dialed, after every DNS answer, so a host name that
// resolves to a public address when checked and to a private one when used
// (DNS rebinding) is refused all the same.
func (p policy) control(scheme string) func(network, address string, _ syscall.RawConn) error {
	return func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("connops does not connect to %q: not an IP address and port", address)
		}
		return p.check(scheme, ap.Addr())
	}
}

// resolver is how a host name becomes addresses (net.DefaultResolver).
type resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// checkURL refuses a URL whose scheme or addresses deliveries may not use:
// every address the host resolves to must pass, not only the first.
func (p policy) checkURL(ctx context.Context, r resolver, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return errors.New("it is not an absolute URL")
	}
	switch {
	case u.Scheme == "http" && !p.allowPrivate:
		return errors.New("it must use https")
	case u.Scheme != "https" && u.Scheme != "http":
		return errors.New("it must use https")
	}
	host := u.Hostname()
	addrs := []netip.Addr{}
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = append(addrs, a)
	} else if addrs, err = r.LookupNetIP(ctx, "ip", host); err != nil || len(addrs) == 0 {
		return fmt.Errorf("its host %s does not resolve", truncate(host, 64))
	}
	for _, a := range addrs {
		if err := p.check(u.Scheme, a); err != nil {
			return err
		}
	}
	return nil
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "..."
}
