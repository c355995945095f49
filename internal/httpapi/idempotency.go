package httpapi

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/gin-gonic/gin"

	"github.com/connops/connops/internal/connections"
)

// idempotencyKey reads the Idempotency-Key of a create. The fingerprint ties
// the key to what was asked (the kind, the parent and the exact body), so a
// key reused for a different request is refused instead of replayed. Two
// keys on one request are refused: which one would count is anyone's guess.
// Routes other than creates ignore the header (docs/api.md).
func idempotencyKey(c *gin.Context, kind, parent string, body []byte) (*connections.IdempotencyKey, error) {
	values := c.Request.Header.Values("Idempotency-Key")
	switch len(values) {
	case 0:
		return nil, nil
	case 1:
	default:
		return nil, badRequest("Idempotency-Key", "The Idempotency-Key header is given %d times; send it once.", len(values))
	}
	key := values[0]
	sum := sha256.New()
	for _, part := range [][]byte{[]byte(kind), []byte(parent), body} {
		sum.Write(part)
		sum.Write([]byte{0})
	}
	return &connections.IdempotencyKey{Key: key, Fingerprint: hex.EncodeToString(sum.Sum(nil))}, nil
}

// markReplay tells the client, and the metrics, that this answer is the one
// recorded for an earlier request with the same key.
func (s *server) markReplay(c *gin.Context, replayed bool) {
	if replayed {
		s.cfg.Metrics.IdempotentReplay()
		c.Header("Idempotent-Replayed", "true")
	}
}
