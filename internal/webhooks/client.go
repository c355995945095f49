package webhooks

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Graph's timings: the receiver has 10 s to answer the validation request
// and 3 s to answer a notification.
const (
	HandshakeTimeout = 10 * time.Second
	DeliveryTimeout  = 3 * time.Second
	// maxResponseBytes is what connops reads of a receiver's answer: the
	// validation token is short, and a notification's answer is ignored.
	maxResponseBytes = 64 << 10
	userAgent        = "connops-webhooks"
)

// ClientOptions tune a Client.
type ClientOptions struct {
	// AllowPrivateNetworks lets deliveries reach loopback and private
	// addresses, with plain http there too.
	AllowPrivateNetworks bool
	// RootCAs are the CAs deliveries trust; nil: the system's.
	RootCAs *x509.CertPool
	// PerEndpoint is how many connections to one endpoint stay open
	// between requests.
	PerEndpoint int
}

// Client makes connops's requests to webhook endpoints: the validation
// handshake and the notification POSTs. Its connections refuse the
// addresses policy refuses at every dial, follow no redirect, use no proxy
// from the environment, and read at most maxResponseBytes of an answer.
type Client struct {
	policy   policy
	resolver resolver
	byScheme map[string]*http.Client
}

// NewClient builds the client.
func NewClient(opts ClientOptions) *Client {
	p := policy{allowPrivate: opts.AllowPrivateNetworks}
	c := &Client{policy: p, resolver: net.DefaultResolver, byScheme: map[string]*http.Client{}}
	for _, scheme := range []string{"https", "http"} {
		dialer := &net.Dialer{Timeout: HandshakeTimeout, KeepAlive: 30 * time.Second, Control: p.control(scheme)}
		tr := &http.Transport{
			Proxy:       nil,
			DialContext: dialer.DialContext,
			// latestSupportedTlsVersion is kept and echoed, but connops
			// negotiates TLS 1.2 or 1.3 whatever it says.
			TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: opts.RootCAs},
			TLSHandshakeTimeout:    HandshakeTimeout,
			MaxIdleConnsPerHost:    max(opts.PerEndpoint, 2),
			IdleConnTimeout:        90 * time.Second,
			MaxResponseHeaderBytes: 16 << 10,
			DisableCompression:     true,
		}
		c.byScheme[scheme] = &http.Client{Transport: tr,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	return c
}

// Validate checks a URL and runs Graph's validation handshake: POST
// {url}?validationToken=<token> (the URL's own query kept), which must be
// answered within 10 s with 200, text/plain, and the decoded token as body.
func (c *Client) Validate(ctx context.Context, raw string) error {
	ctx, cancel := context.WithTimeout(ctx, HandshakeTimeout)
	defer cancel()
	if err := c.policy.checkURL(ctx, c.resolver, raw); err != nil {
		return err
	}
	token := newValidationToken()
	u, _ := url.Parse(raw)
	q := "validationToken=" + url.QueryEscape(token)
	if u.RawQuery != "" {
		q = u.RawQuery + "&" + q
	}
	u.RawQuery = q
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), http.NoBody)
	if err != nil {
		return errors.New("it is not a URL connops can request")
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	req.Header.Set("User-Agent", userAgent)
	res, err := c.byScheme[u.Scheme].Do(req)
	if err != nil {
		return describeFailure(ctx, err, "the validation request", HandshakeTimeout)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxResponseBytes))
	if err != nil {
		return describeFailure(ctx, err, "the validation request", HandshakeTimeout)
	}
	mediaType, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
	got := strings.TrimSpace(string(body))
	switch {
	case res.StatusCode != http.StatusOK:
		return fmt.Errorf("the endpoint answered the validation request with %d, not 200", res.StatusCode)
	case mediaType != "text/plain":
		return fmt.Errorf("the endpoint answered the validation request with Content-Type %q, not text/plain", truncate(res.Header.Get("Content-Type"), 64))
	case got == url.QueryEscape(token):
		return errors.New("the endpoint echoed the validation token still URL-encoded; decode it first")
	case got != token:
		return errors.New("the endpoint's answer to the validation request is not the validation token it was sent")
	}
	return nil
}

// newValidationToken is an opaque random token. It holds characters a
// query string must encode (space, +, /, =), so a receiver that does not
// decode it fails the handshake, as with Graph.
func newValidationToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return "Validation: connops " + base64.StdEncoding.EncodeToString(b)
}

// describeFailure words a request that got no answer.
func describeFailure(ctx context.Context, err error, what string, limit time.Duration) error {
	var refused *refusedError
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &refused):
		return refused
	case errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil:
		return fmt.Errorf("the endpoint did not answer %s within %s", what, limit)
	case errors.As(err, &dnsErr):
		return fmt.Errorf("its host %s does not resolve", truncate(dnsErr.Name, 64))
	}
	var tlsErr *tls.CertificateVerificationError
	if errors.As(err, &tlsErr) {
		return errors.New("the endpoint's TLS certificate is not trusted (see WEBHOOK_CA_FILE)")
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return fmt.Errorf("connops could not connect to the endpoint: %s", truncate(opErr.Err.Error(), 128))
	}
	return fmt.Errorf("%s failed: %s", what, truncate(err.Error(), 160))
}

// post sends one notification collection and reports the status, or why
// there was none. Up to maxResponseBytes of the answer are read, so the
// connection can be reused; the rest is dropped with it.
func (c *Client) post(ctx context.Context, raw string, body []byte) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, DeliveryTimeout)
	defer cancel()
	u, err := url.Parse(raw)
	if err != nil || c.byScheme[u.Scheme] == nil {
		return 0, errors.New("not an http(s) URL")
	}
	if u.Scheme == "http" && !c.policy.allowPrivate {
		return 0, errors.New("plain http is refused without WEBHOOK_ALLOW_PRIVATE_NETWORKS")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, raw, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", userAgent)
	res, err := c.byScheme[u.Scheme].Do(req)
	if err != nil {
		return 0, describeFailure(ctx, err, "the notification", DeliveryTimeout)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, maxResponseBytes))
	res.Body.Close()
	return res.StatusCode, nil
}
