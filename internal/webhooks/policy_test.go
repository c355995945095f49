package webhooks

import (
	"context"
	"net/netip"
	"strings"
	"testing"
)

func TestClassify(t *testing.T) {
	tests := map[string]string{
		"8.8.8.8":                "",
		"2606:4700::1111":        "",
		"127.0.0.1":              "a loopback address",
		"::1":                    "a loopback address",
		"10.0.0.1":               "a private address",
		"172.16.5.4":             "a private address",
		"192.168.0.10":           "a private address",
		"fd12:3456::1":           "a private address",
		"169.254.169.254":        "a link-local address",
		"fe80::1":                "a link-local address",
		"100.64.0.1":             "a carrier-grade NAT address",
		"100.127.255.254":        "a carrier-grade NAT address",
		"0.0.0.0":                "an unspecified address",
		"::":                     "an unspecified address",
		"224.0.0.1":              "a multicast address",
		"ff02::1":                "a multicast address",
		"255.255.255.255":        "a reserved address",
		"192.0.2.1":              "a documentation address",
		"::ffff:10.0.0.1":        "a private address",
		"::ffff:169.254.169.254": "a link-local address",
		"64:ff9b::a00:1":         "a NAT64 address",
		"2002:a00:1::1":          "a 6to4 address",
	}
	for addr, want := range tests {
		if got := classify(netip.MustParseAddr(addr)); got != want {
			t.Errorf("classify(%s) = %q, want %q", addr, got, want)
		}
	}
}

type fakeResolver map[string][]netip.Addr

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	return f[host], nil
}

func TestCheckURL(t *testing.T) {
	r := fakeResolver{
		"public.example":  {netip.MustParseAddr("93.184.216.34")},
		"private.example": {netip.MustParseAddr("10.0.0.7")},
		// One public and one private answer: refused, whichever a dial
		// would pick.
		"split.example": {netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("127.0.0.1")},
	}
	strict, dev := policy{}, policy{allowPrivate: true}
	tests := []struct {
		p    policy
		url  string
		want string // "" accepts
	}{
		{strict, "https://public.example/hook", ""},
		{strict, "https://93.184.216.34/hook", ""},
		{strict, "http://public.example/hook", "must use https"},
		{strict, "https://private.example/hook", "a private address"},
		{strict, "https://split.example/hook", "a loopback address"},
		{strict, "https://nothing.example/hook", "does not resolve"},
		{strict, "https://169.254.169.254/", "a link-local address"},
		{dev, "https://private.example/hook", ""},
		{dev, "http://private.example/hook", ""},
		{dev, "http://127.0.0.1:8080/hook", ""},
		// Plain http never crosses the internet, even in development.
		{dev, "http://public.example/hook", "over plain http"},
		{dev, "https://0.0.0.0/hook", "unspecified"},
		{dev, "ftp://public.example/", "must use https"},
	}
	for _, tt := range tests {
		err := tt.p.checkURL(context.Background(), r, tt.url)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s (allow private %v): %v, want accepted", tt.url, tt.p.allowPrivate, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s (allow private %v): %v, want an error with %q", tt.url, tt.p.allowPrivate, err, tt.want)
		}
	}
}

// TestControlChecksTheDialedAddress: the dialer's Control judges the
// address actually connected to, whatever DNS said when the URL was
// checked.
func TestControlChecksTheDialedAddress(t *testing.T) {
	strict := policy{}
	if err := strict.control("https")("tcp", "127.0.0.1:443", nil); err == nil {
		t.Error("strict policy let a dial to 127.0.0.1 through")
	}
	if err := strict.control("https")("tcp", "[::ffff:10.1.1.1]:443", nil); err == nil {
		t.Error("strict policy let a dial to a mapped private address through")
	}
	if err := strict.control("https")("tcp", "93.184.216.34:443", nil); err != nil {
		t.Errorf("public dial refused: %v", err)
	}
	dev := policy{allowPrivate: true}
	if err := dev.control("http")("tcp", "93.184.216.34:80", nil); err == nil {
		t.Error("a plain http dial to a public address went through")
	}
	if err := dev.control("http")("tcp", "127.0.0.1:80", nil); err != nil {
		t.Errorf("a plain http dial to loopback with allow private: %v", err)
	}
}
