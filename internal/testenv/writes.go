package testenv

import (
	"net/http"
	"sync"

	"k8s.io/client-go/rest"
)

// WriteCounter records the requests a client makes that may change
// something (every method but GET), so a test can assert that a no-op
// makes none. Dry runs count too: they are writes the server could refuse.
type WriteCounter struct {
	mu     sync.Mutex
	writes []string
}

// CountWrites returns a copy of cfg whose requests c records.
func CountWrites(cfg *rest.Config) (*rest.Config, *WriteCounter) {
	c := &WriteCounter{}
	out := rest.CopyConfig(cfg)
	out.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if r.Method != http.MethodGet {
				c.mu.Lock()
				c.writes = append(c.writes, r.Method+" "+r.URL.Path)
				c.mu.Unlock()
			}
			return rt.RoundTrip(r)
		})
	}
	return out, c
}

// Take returns the writes recorded since the last call ("PATCH /api/v1/…"),
// and forgets them.
func (c *WriteCounter) Take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.writes
	c.writes = nil
	return w
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
