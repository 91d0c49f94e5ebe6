package kubeclient

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/gitopskit/gitopskit/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// recorder notes when each request left and what it said it was.
type recorder struct {
	mu     sync.Mutex
	at     []time.Time
	agents []string
	next   http.RoundTripper
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.at = append(r.at, time.Now())
	r.agents = append(r.agents, req.Header.Get("User-Agent"))
	r.mu.Unlock()
	return r.next.RoundTrip(req)
}

// TestUnsetLimitsAreNotThrottled: a config as a kubeconfig gives it (no
// QPS, no Burst) is not held to client-go's 5 requests a second against a
// server with Priority and Fairness: 60 requests in a row show none of
// the ~200 ms gaps the default limiter makes past its burst of 10. Every
// request carries gitopskit's user agent; a caller's own limits are kept.
func TestUnsetLimitsAreNotThrottled(t *testing.T) {
	env := testenv.Shared(t)
	user := rest.CopyConfig(env.Config)
	user.QPS, user.Burst, user.UserAgent = 0, 0, ""
	cfg := Config(user)
	if cfg.QPS >= 0 {
		t.Errorf("QPS %v: the test control plane runs Priority and Fairness, so there should be no client limit", cfg.QPS)
	}
	rec := &recorder{}
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { rec.next = rt; return rec }
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for range 60 {
		if _, err := cs.CoreV1().Namespaces().Get(context.Background(), "default", metav1.GetOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	spaced := 0
	for i := 11; i < len(rec.at); i++ {
		if rec.at[i].Sub(rec.at[i-1]) > 150*time.Millisecond {
			spaced++
		}
	}
	if spaced > 10 {
		t.Errorf("%d of %d requests waited like a rate limiter's", spaced, len(rec.at)-11)
	}
	for _, a := range rec.agents {
		if !strings.HasPrefix(a, "gitopskit/") {
			t.Fatalf("user agent %q", a)
		}
	}
	own := rest.CopyConfig(env.Config)
	own.QPS, own.Burst = 7, 9
	if c := Config(own); c.QPS != 7 || c.Burst != 9 {
		t.Errorf("the caller's limits were replaced: %v/%v", c.QPS, c.Burst)
	}
}
