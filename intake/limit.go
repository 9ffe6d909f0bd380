package intake

import (
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxLimiters bounds the clients (or projects) whose rate an intake
// tracks at once: some 100 bytes each.
const maxLimiters = 100_000

// limiters holds a token bucket per key (a client's address, a project).
type limiters struct {
	rate  rate.Limit
	burst int
	// idle is how long an unused bucket takes to fill up: one unused for
	// longer is the same as a new one and is dropped when room is needed.
	idle time.Duration

	mu sync.Mutex
	m  map[string]*limiter
}

type limiter struct {
	*rate.Limiter
	last time.Time
}

func newLimiters(perSecond float64, burst int) *limiters {
	l := &limiters{rate: rate.Limit(perSecond), burst: max(burst, 1), m: make(map[string]*limiter)}
	if perSecond <= 0 {
		l.rate = rate.Inf
	} else {
		l.idle = time.Duration(float64(l.burst) / perSecond * float64(time.Second))
	}
	return l
}

// allow reports whether key may make a request at now, and takes a token
// if so. When maxLimiters keys are tracked, it first forgets those idle
// long enough to be full; if none is, the request is refused (the intake
// is under a flood).
func (l *limiters) allow(key string, now time.Time) bool {
	if l.rate == rate.Inf {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.m[key]
	if e == nil {
		if len(l.m) >= maxLimiters {
			for k, e := range l.m {
				if now.Sub(e.last) > l.idle {
					delete(l.m, k)
				}
			}
			if len(l.m) >= maxLimiters {
				return false
			}
		}
		e = &limiter{Limiter: rate.NewLimiter(l.rate, l.burst)}
		l.m[key] = e
	}
	e.last = now
	return e.AllowN(now, 1)
}

// clientAddress returns the address a request's rate is counted for: the
// peer's IP, or, behind proxyHops proxies, the address the outermost of
// them appended to X-Forwarded-For (those before it are the client's to
// write). An IPv6 client is counted by its /64, which one host commonly
// holds whole.
func clientAddress(r *http.Request, proxyHops int) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if proxyHops > 0 {
		var hops []string
		for _, v := range r.Header.Values("X-Forwarded-For") {
			for _, h := range strings.Split(v, ",") {
				hops = append(hops, strings.TrimSpace(h))
			}
		}
		if len(hops) >= proxyHops {
			host = hops[len(hops)-proxyHops]
		} else {
			// A request that did not come through the proxies: its own
			// address.
			host = "direct " + host
		}
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return host
	}
	if ip.To4() == nil {
		return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return ip.String()
}
