package auth

import "time"

// SetUnknownKIDCooldown lets tests shorten the 30 s between fetches caused by
// unknown kids.
func SetUnknownKIDCooldown(v *Verifier, d time.Duration) {
	if v.keys != nil {
		v.keys.setCooldown(d)
	}
}

// The bounds of the verified-token cache.
const (
	CacheBytes   = cacheBytes
	CacheEntries = cacheEntries
)

// CacheUsage reports the verified-token cache's entries, the bytes it has
// counted as entries came and went, and what its entries cost when counted
// afresh; the last two differ only if the bookkeeping is wrong.
func CacheUsage(v *Verifier) (entries, counted, recounted int) {
	c := &v.cache
	c.mu.RLock()
	defer c.mu.RUnlock()
	for token, e := range c.entries {
		recounted += entryCost(token, e)
	}
	return len(c.entries), c.bytes, recounted
}
