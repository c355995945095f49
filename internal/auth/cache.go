package auth

import (
	"strings"
	"sync"
	"time"

	"github.com/connops/connops/internal/connections"
)

// verified remembers tokens that passed verification, so a client sending the
// same token with every request pays for the signature check and the claims
// decoding once a minute rather than every time. An entry never outlives its
// token, nor cacheFor: a key withdrawn from the JWKS stops being honoured
// within that bound.
//
// The cache is bounded both in entries and in bytes: tokens may be as large
// as maxTokenLen, so a bound in entries alone lets large tokens hold hundreds
// of megabytes.
type verified struct {
	mu      sync.RWMutex
	entries map[string]verifiedEntry
	bytes   int // the sum of the entries' cost
}

type verifiedEntry struct {
	caller connections.Caller
	until  time.Time
	// kid and key name the JWKS key that verified the token (empty for
	// HS256); the entry holds only while that exact key is still published.
	kid string
	key publicKey
	// cost is what the entry counts against cacheBytes, kept so that
	// removing it subtracts exactly what adding it added.
	cost int
}

const (
	cacheFor     = time.Minute
	cacheEntries = 10_000
	// cacheBytes bounds the memory the cache accounts for. 16 MiB holds
	// several thousand ordinary Entra tokens (1-3 KB each), more distinct
	// tokens than one instance sees within cacheFor, yet only about 300 of
	// the largest: without it 12,000 distinct 54 KB tokens took the
	// process to 1.6 GB. A token pushed out costs only a fresh signature
	// check.
	cacheBytes = 16 << 20
	// entryOverhead is a generous estimate of what an entry costs beyond
	// the strings entryCost counts: its map slot, the entry itself and the
	// rounding of the small allocations behind the caller.
	entryOverhead = 512
	// sliceElem is the size of one string header in Permissions.
	sliceElem = 16
)

// entryCost is what caching e under token counts against cacheBytes.
func entryCost(token string, e verifiedEntry) int {
	n := len(token) + entryOverhead + len(e.kid) + len(e.caller.TenantID) + len(e.caller.AppID)
	for _, p := range e.caller.Permissions {
		n += sliceElem + len(p)
	}
	return n
}

func (v *verified) get(token string, now time.Time, keys *keySet) (connections.Caller, bool) {
	v.mu.RLock()
	e, ok := v.entries[token]
	v.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return connections.Caller{}, false
	}
	if e.kid != "" {
		if k, known, _ := keys.lookup(e.kid); !known || k != e.key {
			return connections.Caller{}, false
		}
	}
	return e.caller, true
}

func (v *verified) put(token string, e verifiedEntry, expires, now time.Time) {
	until := now.Add(cacheFor)
	if expires.Before(until) {
		until = expires
	}
	if !now.Before(until) {
		return
	}
	e.until = until
	e.cost = entryCost(token, e)
	if e.cost > cacheBytes/10 {
		return // never with tokens below maxTokenLen; evict relies on it
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.entries == nil {
		v.entries = map[string]verifiedEntry{}
	}
	if old, ok := v.entries[token]; ok {
		// Two requests verified the same token at once.
		v.drop(token, old)
	}
	if len(v.entries) >= cacheEntries || v.bytes+e.cost > cacheBytes {
		// Evict to a tenth below both bounds, so that a full cache
		// sweeps once every many puts rather than on each one.
		v.evict(now, cacheEntries*9/10, cacheBytes*9/10)
	}
	// The key is cloned so the cache holds exactly the bytes it counts,
	// not a larger buffer the caller's token string may be part of.
	v.entries[strings.Clone(token)] = e
	v.bytes += e.cost
}

// evict drops expired entries, then arbitrary ones (in map order) until at
// most n remain holding at most b bytes.
func (v *verified) evict(now time.Time, n, b int) {
	for k, e := range v.entries {
		if !now.Before(e.until) {
			v.drop(k, e)
		}
	}
	for k, e := range v.entries {
		if len(v.entries) <= n && v.bytes <= b {
			return
		}
		v.drop(k, e)
	}
}

func (v *verified) drop(token string, e verifiedEntry) {
	delete(v.entries, token)
	v.bytes -= e.cost
}
