package auth_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connops/connops/internal/auth"
)

func verifies(t *testing.T, v *auth.Verifier, token string) error {
	t.Helper()
	_, err := v.Verify(context.Background(), token)
	if err != nil && !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("error %v does not match ErrUnauthenticated", err)
	}
	return err
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()
	is := newTestIssuer(t)
	oldKey, newKey := newRSAKey(t, "2024", 2048), newECKey(t, "2025")
	is.publish(oldKey)
	v := newVerifier(t, is, auth.Options{Issuer: testIss, Audience: testAud})
	oldTok := oldKey.sign(t, goodClaims())
	if err := verifies(t, v, oldTok); err != nil {
		t.Fatalf("old key before rotation: %v", err)
	}

	// The issuer starts signing with a new key it publishes beside the old.
	is.publish(oldKey, newKey)
	if err := verifies(t, v, newKey.sign(t, goodClaims())); err != nil {
		t.Fatalf("first token with the new kid: %v", err)
	}
	if n := is.fetchCount(); n != 2 {
		t.Errorf("fetches = %d, want 2: one at New, one for the new kid", n)
	}
	if err := verifies(t, v, oldTok); err != nil {
		t.Fatalf("old key while both are published: %v", err)
	}

	// The old key is retired; once the verifier refreshes, its tokens fail.
	is.publish(newKey)
	auth.SetUnknownKIDCooldown(v, 0)
	if err := verifies(t, v, newRSAKey(t, "trigger", 2048).sign(t, goodClaims())); err == nil {
		t.Fatal("unknown kid accepted")
	}
	if n := is.fetchCount(); n != 3 {
		t.Errorf("fetches = %d, want 3", n)
	}
	if err := verifies(t, v, oldTok); err == nil || !strings.Contains(err.Error(), "not known") {
		t.Fatalf("old key after retirement: %v, want kid not known", err)
	}
	if err := verifies(t, v, newKey.sign(t, goodClaims())); err != nil {
		t.Fatalf("new key after retirement: %v", err)
	}
}

func TestFailedRefreshKeepsLastGoodKeys(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"500", "down", "garbage", "empty"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			is := newTestIssuer(t)
			key := newRSAKey(t, "k1", 2048)
			is.publish(key)
			warnings := &warnCounter{}
			v := newVerifier(t, is, auth.Options{RefreshInterval: 20 * time.Millisecond, Log: slog.New(warnings)})
			tok := key.sign(t, goodClaims())
			if err := verifies(t, v, tok); err != nil {
				t.Fatalf("before the failure: %v", err)
			}
			switch mode {
			case "500":
				is.setFailing(true)
			case "down":
				is.srv.Close()
			case "garbage":
				is.publishRaw(map[string]string{"kty": "RSA", "kid": "k1", "n": "!!", "e": "AQAB"})
			case "empty":
				is.publishRaw()
			}
			waitFor(t, "two failed refreshes", func() bool { return warnings.count("jwks refresh failed") >= 2 })
			if err := verifies(t, v, tok); err != nil {
				t.Fatalf("after failed refreshes: %v", err)
			}
		})
	}
}

func TestScheduledRefresh(t *testing.T) {
	t.Parallel()
	is := newTestIssuer(t)
	key := newECKey(t, "k1")
	is.publish(key)
	v := newVerifier(t, is, auth.Options{RefreshInterval: 20 * time.Millisecond})
	waitFor(t, "three scheduled fetches", func() bool { return is.fetchCount() >= 4 })

	// A key published later is picked up by the schedule, with no unknown
	// kid involved: the cooldown is already spent on a garbage kid.
	_ = verifies(t, v, newRSAKey(t, "garbage", 2048).sign(t, goodClaims()))
	next := newRSAKey(t, "k2", 2048)
	is.publish(key, next)
	at := is.fetchCount()
	waitFor(t, "a scheduled fetch", func() bool { return is.fetchCount() > at+1 })
	if err := verifies(t, v, next.sign(t, goodClaims())); err != nil {
		t.Fatalf("key published before a scheduled refresh: %v", err)
	}
}

func TestCloseStopsRefresh(t *testing.T) {
	t.Parallel()
	is := newTestIssuer(t)
	key := newECKey(t, "k1")
	is.publish(key)
	v := newVerifier(t, is, auth.Options{RefreshInterval: 10 * time.Millisecond})
	waitFor(t, "a scheduled fetch", func() bool { return is.fetchCount() >= 2 })
	_ = v.Close()
	_ = v.Close()
	// A request cancelled by Close may still reach the issuer's handler a
	// moment later; only fetches started after that moment would be a bug.
	time.Sleep(30 * time.Millisecond)
	at := is.fetchCount()
	time.Sleep(60 * time.Millisecond)
	if n := is.fetchCount(); n != at {
		t.Errorf("fetches went from %d to %d after Close", at, n)
	}
	if err := verifies(t, v, key.sign(t, goodClaims())); err != nil {
		t.Errorf("cached key after Close: %v", err)
	}
}

func TestContextCancelStopsRefresh(t *testing.T) {
	t.Parallel()
	is := newTestIssuer(t)
	is.publish(newECKey(t, "k1"))
	ctx, cancel := context.WithCancel(context.Background())
	v, err := auth.New(ctx, auth.Options{JWKSURL: is.url(), RefreshInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	waitFor(t, "a scheduled fetch", func() bool { return is.fetchCount() >= 2 })
	cancel()
	time.Sleep(20 * time.Millisecond)
	at := is.fetchCount()
	time.Sleep(60 * time.Millisecond)
	if n := is.fetchCount(); n != at {
		t.Errorf("fetches went from %d to %d after cancel", at, n)
	}
}

func TestUnknownKIDRefreshIsRateLimited(t *testing.T) {
	t.Parallel()
	is := newTestIssuer(t)
	key := newRSAKey(t, "k1", 2048)
	is.publish(key)
	v := newVerifier(t, is, auth.Options{})
	stranger := newRSAKey(t, "x", 2048)

	tokens := make([]string, 200)
	for i := range tokens {
		s := *stranger
		s.kid = fmt.Sprintf("garbage-%d", i)
		tokens[i] = s.sign(t, goodClaims())
	}
	errs := make(chan error, len(tokens))
	var wg sync.WaitGroup
	for _, tok := range tokens {
		wg.Go(func() {
			_, err := v.Verify(context.Background(), tok)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err == nil || !strings.Contains(err.Error(), "not known") {
			t.Fatalf("unknown kid: %v, want kid not known", err)
		}
	}
	// One fetch at New, at most one for all the unknown kids together.
	if n := is.fetchCount(); n > 2 {
		t.Errorf("fetches = %d after 200 unknown kids, want at most 2", n)
	}
	if err := verifies(t, v, key.sign(t, goodClaims())); err != nil {
		t.Errorf("known key during the flood: %v", err)
	}
}

func TestConcurrentUnknownKIDShareOneFetch(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var mu sync.Mutex
	fetches := 0
	key := newRSAKey(t, "k1", 2048)
	late := newRSAKey(t, "k2", 2048)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		fetches++
		n := fetches
		mu.Unlock()
		if n == 1 {
			fmt.Fprintf(w, `{"keys":[%s]}`, jsonOf(key.jwk()))
			return
		}
		<-release // hold the refresh until every caller waits on it
		fmt.Fprintf(w, `{"keys":[%s,%s]}`, jsonOf(key.jwk()), jsonOf(late.jwk()))
	}))
	t.Cleanup(srv.Close)
	v, err := auth.New(context.Background(), auth.Options{JWKSURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = v.Close() })
	auth.SetUnknownKIDCooldown(v, 0)

	tok := late.sign(t, goodClaims())
	errs := make(chan error, 20)
	for range 20 {
		go func() { _, err := v.Verify(context.Background(), tok); errs <- err }()
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	for range 20 {
		if err := <-errs; err != nil {
			t.Errorf("Verify: %v", err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if fetches != 2 {
		t.Errorf("fetches = %d, want 2: one at New, one shared", fetches)
	}
}

func TestStartWithoutKeys(t *testing.T) {
	t.Parallel()
	is := newTestIssuer(t)
	key := newECKey(t, "k1")
	is.publish(key)
	is.setFailing(true)
	v := newVerifier(t, is, auth.Options{HS256Secret: testSecret, RefreshInterval: 20 * time.Millisecond})

	tok := key.sign(t, goodClaims())
	err := verifies(t, v, tok)
	if err == nil || err.Error() != "signing keys are unavailable" {
		t.Fatalf("Verify while the issuer is down = %v, want signing keys are unavailable", err)
	}
	if err := verifies(t, v, hs256(t, testSecret, goodClaims())); err != nil {
		t.Fatalf("HS256 while the issuer is down: %v", err)
	}
	is.setFailing(false)
	waitFor(t, "keys after the issuer recovers", func() bool { return verifies(t, v, tok) == nil })
}

func TestOversizedJWKSIsRefused(t *testing.T) {
	t.Parallel()
	key := newRSAKey(t, "k1", 2048)
	padding := strings.Repeat(" ", 1<<20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, `{"keys":[%s]}%s`, jsonOf(key.jwk()), padding)
	}))
	t.Cleanup(srv.Close)
	v, err := auth.New(context.Background(), auth.Options{JWKSURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = v.Close() })
	err = verifies(t, v, key.sign(t, goodClaims()))
	if err == nil || err.Error() != "signing keys are unavailable" {
		t.Fatalf("Verify = %v, want signing keys are unavailable", err)
	}
}

func jsonOf(m map[string]string) string {
	parts := make([]string, 0, len(m))
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%q:%q", k, v))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// warnCounter is a slog.Handler that counts warnings by message.
type warnCounter struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnCounter) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (w *warnCounter) Handle(_ context.Context, r slog.Record) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, r.Message)
	return nil
}

func (w *warnCounter) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *warnCounter) WithGroup(string) slog.Handler      { return w }

func (w *warnCounter) count(prefix string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, m := range w.msgs {
		if strings.HasPrefix(m, prefix) {
			n++
		}
	}
	return n
}
