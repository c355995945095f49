package connections

import "time"

// IdempotencyKey is a client's Idempotency-Key on a create, with a
// fingerprint of the request it came with (method, path and body). A retry
// with the same key and fingerprint gets the original result; the same key
// with another fingerprint is refused.
type IdempotencyKey struct {
	Key         string
	Fingerprint string
}

// Idempotency is what a store needs to record a key: the key scoped to the
// calling app, and how long it is remembered.
type Idempotency struct {
	AppID       string
	Key         string
	Fingerprint string
	TTL         time.Duration
}

// MaxIdempotencyKeyLen follows Stripe's limit.
const MaxIdempotencyKeyLen = 255

// ValidateIdempotencyKey checks a key's form: printable ASCII, bounded.
func ValidateIdempotencyKey(k string) error {
	if k == "" || len(k) > MaxIdempotencyKeyLen {
		return invalid("Idempotency-Key", "The Idempotency-Key header must be 1 to %d characters.", MaxIdempotencyKeyLen)
	}
	for _, r := range k {
		if r < 0x21 || r > 0x7e {
			return invalid("Idempotency-Key", "The Idempotency-Key header must be printable ASCII without spaces.")
		}
	}
	return nil
}

func (s *Service) idempotency(caller Caller, k *IdempotencyKey) (*Idempotency, error) {
	if k == nil {
		return nil, nil
	}
	if err := ValidateIdempotencyKey(k.Key); err != nil {
		return nil, err
	}
	return &Idempotency{AppID: caller.AppID, Key: k.Key, Fingerprint: k.Fingerprint, TTL: s.opts.IdempotencyTTL}, nil
}

func idempotencyMismatch(cause error) error {
	return &Error{Kind: ErrUnprocessable, Target: "Idempotency-Key", Err: cause,
		Message: "The Idempotency-Key was already used with a different request; use a new key for a new request."}
}
