package httpapi

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"
)

// limiters keeps one token bucket per tenant and app. Buckets idle for longer
// than it takes to refill are dropped, so the map stays as small as the set
// of recently active callers.
type limiters struct {
	mu      sync.Mutex
	every   rate.Limit
	burst   int
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newLimiters(perSecond float64, burst int) *limiters {
	if perSecond <= 0 {
		return nil
	}
	return &limiters{every: rate.Limit(perSecond), burst: max(burst, 1), buckets: map[string]*bucket{}}
}

// reserve takes a token for key, or says how long to wait for one.
func (l *limiters) reserve(key string, now time.Time) (ok bool, wait time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	idle := time.Duration(float64(l.burst)/float64(l.every)*float64(time.Second)) + time.Minute
	if now.Sub(l.swept) > idle {
		for k, b := range l.buckets {
			if now.Sub(b.seen) > idle {
				delete(l.buckets, k)
			}
		}
		l.swept = now
	}
	b, found := l.buckets[key]
	if !found {
		b = &bucket{lim: rate.NewLimiter(l.every, l.burst)}
		l.buckets[key] = b
	}
	b.seen = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// rateLimit answers 429 with an integer Retry-After once a tenant's app has
// used its share. It runs after authentication, so the key is the verified
// identity, never something a client can vary at will.
func (s *server) rateLimit(c *gin.Context) {
	if s.limits == nil {
		return
	}
	caller := mustCaller(c)
	ok, wait := s.limits.reserve(caller.TenantID+"\x00"+caller.AppID, time.Now())
	if ok {
		return
	}
	s.cfg.Metrics.RateLimited()
	c.Header("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	respondError(c, http.StatusTooManyRequests, codeTooManyRequests,
		"Too many requests from this application in this tenant. Retry after the delay in the Retry-After header.", "")
}
