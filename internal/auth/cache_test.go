package auth_test

import (
	"context"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/connops/connops/internal/auth"
)

// bigClaims pads a token out to the size of an Entra token carrying a large
// groups claim.
type bigClaims struct {
	auth.Claims
	Pad string `json:"pad"`
}

// TestCacheStaysWithinByteBudget verifies thousands of distinct 54 KB tokens
// and checks that the cache never accounts for more than its byte budget and
// that the live heap afterwards reflects that bound. It is not parallel:
// other tests allocating at the same time would blur the heap measurement.
func TestCacheStaysWithinByteBudget(t *testing.T) {
	v := auth.NewHS256(testSecret)
	pad := strings.Repeat("x", 39<<10) // 54 KB once base64url-encoded with the rest
	const n = 3000                     // 160 MB of tokens, ten times the budget

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range n {
		c := bigClaims{Claims: goodClaims(), Pad: pad}
		c.ID = strconv.Itoa(i)
		tok := hs256(t, testSecret, c)
		if i == 0 && (len(tok) < 53_000 || len(tok) > 55_000) {
			t.Fatalf("token is %d bytes, want about 54 KB", len(tok))
		}
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Fatalf("Verify: %v", err)
		}
		entries, counted, recounted := auth.CacheUsage(v)
		if counted != recounted {
			t.Fatalf("after %d tokens the cache counts %d bytes but its entries add up to %d", i+1, counted, recounted)
		}
		if counted > auth.CacheBytes || entries > auth.CacheEntries {
			t.Fatalf("after %d tokens the cache holds %d entries, %d bytes; the bounds are %d entries, %d bytes",
				i+1, entries, counted, auth.CacheEntries, auth.CacheBytes)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	// Generous: the budget itself, plus as much again for what the
	// accounting estimates (map slots, allocation rounding), plus slack.
	grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	if limit := int64(3 * auth.CacheBytes); grew > limit {
		t.Errorf("live heap grew by %d MiB caching %d large tokens, want at most %d MiB",
			grew>>20, n, limit>>20)
	}
	if entries, _, _ := auth.CacheUsage(v); entries == 0 {
		t.Error("the cache holds nothing: large tokens should still be cached")
	}
	runtime.KeepAlive(v)
}

// TestCacheStaysWithinEntryBound checks that small tokens, which never reach
// the byte budget, are still bounded in number.
func TestCacheStaysWithinEntryBound(t *testing.T) {
	t.Parallel()
	v := auth.NewHS256(testSecret)
	for i := range auth.CacheEntries + auth.CacheEntries/5 {
		c := goodClaims()
		c.ID = strconv.Itoa(i)
		if _, err := v.Verify(context.Background(), hs256(t, testSecret, c)); err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if entries, counted, _ := auth.CacheUsage(v); entries > auth.CacheEntries || counted > auth.CacheBytes {
			t.Fatalf("after %d tokens the cache holds %d entries, %d bytes", i+1, entries, counted)
		}
	}
}
