package app

import (
	"container/list"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// RateLimit is a token bucket: Rate tokens a second, up to Burst at once.
// A zero Rate disables the limit.
type RateLimit struct {
	Rate  float64
	Burst int
}

// buckets keeps one token bucket per key (a caller, an IP), at most max
// keys: the least recently used key is dropped when a new one arrives, so
// memory stays bounded whatever the number of callers. The buckets are per
// process; the limit shared by every instance is the risk engine's velocity
// policy, held in the database.
type buckets struct {
	limit RateLimit
	max   int

	mu  sync.Mutex
	ll  *list.List // front: most recently used
	idx map[string]*list.Element
}

type bucketEntry struct {
	key string
	lim *rate.Limiter
}

func newBuckets(limit RateLimit, max int) *buckets {
	if max <= 0 {
		max = 10_000
	}
	return &buckets{limit: limit, max: max, ll: list.New(), idx: make(map[string]*list.Element)}
}

// allow takes one token from key's bucket and reports whether there was one.
func (b *buckets) allow(key string, now time.Time) bool {
	if b == nil || b.limit.Rate <= 0 {
		return true
	}
	b.mu.Lock()
	el, ok := b.idx[key]
	if ok {
		b.ll.MoveToFront(el)
	} else {
		el = b.ll.PushFront(&bucketEntry{key: key, lim: rate.NewLimiter(rate.Limit(b.limit.Rate), max(b.limit.Burst, 1))})
		b.idx[key] = el
		for b.ll.Len() > b.max {
			old := b.ll.Back()
			b.ll.Remove(old)
			delete(b.idx, old.Value.(*bucketEntry).key)
		}
	}
	lim := el.Value.(*bucketEntry).lim
	b.mu.Unlock()
	return lim.AllowN(now, 1)
}

func (b *buckets) size() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ll.Len()
}

// clientIP is the peer's address, or the first X-Forwarded-For hop when the
// server sits behind a proxy it trusts.
func (a *App) clientIP(r *http.Request) string {
	if a.cfg.TrustForwardedFor {
		if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
			first, _, _ := strings.Cut(xff, ",")
			if ip := net.ParseIP(strings.TrimSpace(first)); ip != nil {
				return ip.String()
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// limited wraps a claim or redeem route with the per-caller and per-IP
// buckets; it answers 429 when either is empty.
func (a *App) limited(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := callerFrom(r.Context())
		now := time.Now()
		if !a.callerBuckets.allow(c.key(), now) {
			a.metrics.rateLimited.WithLabelValues("caller").Inc()
			a.writeError(w, r, errRateLimited)
			return
		}
		if !a.ipBuckets.allow(a.clientIP(r), now) {
			a.metrics.rateLimited.WithLabelValues("ip").Inc()
			a.writeError(w, r, errRateLimited)
			return
		}
		next.ServeHTTP(w, r)
	})
}
