package auth

import (
	"sync"
	"time"

	"github.com/connops/connops/internal/connections"
)

// verified remembers tokens that passed verification, so a client sending the
// same token with every request pays for the signature check and the claims
// decoding once a minute rather than every time. An entry never outlives its
// token, nor cacheFor: a key withdrawn from the JWKS stops being honoured
// within that bound.
type verified struct {
	mu      sync.RWMutex
	entries map[string]verifiedEntry
}

type verifiedEntry struct {
	caller connections.Caller
	until  time.Time
	// kid and key name the JWKS key that verified the token (empty for
	// HS256); the entry holds only while that exact key is still published.
	kid string
	key publicKey
}

const (
	cacheFor     = time.Minute
	cacheEntries = 10_000
)

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
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.entries == nil {
		v.entries = map[string]verifiedEntry{}
	}
	if len(v.entries) >= cacheEntries {
		// Full: drop expired entries, or failing that an arbitrary tenth.
		dropped := 0
		for k, e := range v.entries {
			if !now.Before(e.until) || dropped < cacheEntries/10 {
				delete(v.entries, k)
				dropped++
			}
		}
	}
	e.until = until
	v.entries[token] = e
}
