package auth

import "time"

// SetUnknownKIDCooldown lets tests shorten the 30 s between fetches caused by
// unknown kids.
func SetUnknownKIDCooldown(v *Verifier, d time.Duration) {
	if v.keys != nil {
		v.keys.setCooldown(d)
	}
}
