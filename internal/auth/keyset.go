package auth

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

const (
	defaultRefreshInterval = time.Hour
	// unknownKIDCooldown is the least time between two fetches caused by an
	// unknown kid, so a flood of made-up kids cannot hammer the issuer.
	unknownKIDCooldown = 30 * time.Second
	// retryMin is the first wait after a failed fetch; it doubles up to the
	// refresh interval, so a start without keys recovers quickly.
	retryMin = 5 * time.Second
	// fetchTimeout bounds one JWKS fetch whatever the HTTP client allows.
	fetchTimeout = 10 * time.Second
)

// keySet caches the public keys of a JWKS. It refreshes them on a schedule and
// when a token names an unknown kid; a failed refresh keeps the last good keys.
type keySet struct {
	url      string
	client   *http.Client
	log      *slog.Logger
	interval time.Duration
	// life bounds the background loop and every fetch; it ends with the
	// ctx given to New or with close.
	life context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup

	mu          sync.Mutex
	keys        map[string]publicKey // nil until a fetch succeeds
	cooldown    time.Duration
	lastKIDPull time.Time
	inflight    *flight
	closed      bool
}

// flight is one JWKS fetch that every concurrent caller waits on.
type flight struct {
	done chan struct{}
	err  error
}

func newKeySet(ctx context.Context, opts Options) (*keySet, error) {
	if err := checkJWKSURL(opts.JWKSURL); err != nil {
		return nil, err
	}
	s := &keySet{
		url:      opts.JWKSURL,
		client:   opts.HTTPClient,
		log:      opts.Log,
		interval: opts.RefreshInterval,
		cooldown: unknownKIDCooldown,
	}
	if s.client == nil {
		s.client = &http.Client{Timeout: fetchTimeout}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.interval <= 0 {
		s.interval = defaultRefreshInterval
	}
	s.life, s.stop = context.WithCancel(ctx)
	failures := 0
	if err := s.refresh(ctx); err != nil {
		failures = 1 // logged by fetch; the loop retries soon
	}
	s.wg.Add(1)
	go s.run(failures)
	return s, nil
}

// checkJWKSURL insists on https so keys cannot be swapped in transit; plain
// http is allowed to loopback hosts for tests and local issuers.
func checkJWKSURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return errors.New("the JWKS URL is not an absolute URL")
	}
	if u.Scheme == "https" {
		return nil
	}
	host := u.Hostname()
	ip := net.ParseIP(host)
	if u.Scheme == "http" && (host == "localhost" || (ip != nil && ip.IsLoopback())) {
		return nil
	}
	return errors.New("the JWKS URL must use https")
}

// run refreshes on schedule, sooner after failures, until life ends.
func (s *keySet) run(failures int) {
	defer s.wg.Done()
	for {
		timer := time.NewTimer(s.nextWait(failures))
		select {
		case <-s.life.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		if err := s.refresh(s.life); err != nil {
			failures++
		} else {
			failures = 0
		}
	}
}

func (s *keySet) nextWait(failures int) time.Duration {
	if failures == 0 {
		return s.interval
	}
	wait := retryMin << min(failures-1, 16)
	return min(wait, s.interval)
}

// key returns the verification key for kid, fetching the JWKS again if kid is
// unknown and no such fetch happened within the cooldown.
func (s *keySet) key(ctx context.Context, kid, alg string) (any, error) {
	k, known, loaded := s.lookup(kid)
	if !known && s.mayPullForKID() {
		// A failed fetch is logged by fetch; the lookup below says what
		// the caller needs to know.
		_ = s.refresh(ctx)
		k, known, loaded = s.lookup(kid)
	}
	switch {
	case !loaded:
		return nil, rejection("signing keys are unavailable")
	case !known:
		return nil, rejection("the token's signing key (kid) is not known")
	}
	return k.verifyKey(alg)
}

func (s *keySet) lookup(kid string) (k publicKey, known, loaded bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, known = s.keys[kid]
	return k, known, s.keys != nil
}

// mayPullForKID reports whether an unknown kid may cause a fetch. Joining a
// fetch already under way is always allowed: it costs the issuer nothing.
func (s *keySet) mayPullForKID() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inflight != nil {
		return true
	}
	now := time.Now()
	if !s.lastKIDPull.IsZero() && now.Sub(s.lastKIDPull) < s.cooldown {
		return false
	}
	s.lastKIDPull = now
	return true
}

// refresh fetches the JWKS, sharing one fetch among concurrent callers. The
// fetch runs under life, not ctx, so one caller giving up does not fail the
// others; ctx only bounds how long this caller waits.
func (s *keySet) refresh(ctx context.Context) error {
	s.mu.Lock()
	if s.closed || s.life.Err() != nil {
		s.mu.Unlock()
		return errors.New("the key set is closed")
	}
	f := s.inflight
	if f == nil {
		f = &flight{done: make(chan struct{})}
		s.inflight = f
		s.wg.Add(1)
		go s.fetch(f)
	}
	s.mu.Unlock()
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *keySet) fetch(f *flight) {
	defer s.wg.Done()
	keys, err := fetchJWKS(s.life, s.client, s.url, s.log)
	if err == nil && len(keys) == 0 {
		err = errors.New("the JWKS holds no usable signing keys")
	}
	s.mu.Lock()
	if err == nil {
		s.keys = keys
	}
	f.err = err
	s.inflight = nil
	have := len(s.keys)
	s.mu.Unlock()
	close(f.done)

	if err != nil {
		s.log.WarnContext(s.life, "jwks refresh failed, keeping the last good keys",
			"url", s.url, "err", err, "cached_keys", have)
		return
	}
	s.log.DebugContext(s.life, "jwks refreshed", "url", s.url, "keys", len(keys))
}

// close stops the loop and any fetch, then waits for them to return.
func (s *keySet) close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.stop()
	s.wg.Wait()
}

// setCooldown changes the unknown-kid cooldown; tests use it.
func (s *keySet) setCooldown(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cooldown = d
}
