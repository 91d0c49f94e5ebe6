// Package kubeclient gives gitopskit's clients the settings that fit its
// work when the caller's rest.Config leaves them unset, as Flux's
// controllers do: no client-side rate limit when the API server protects
// itself with Priority and Fairness (50 requests/s, burst 300, when it does
// not), and a gitopskit user agent.
package kubeclient

import (
	"context"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	"k8s.io/client-go/rest"
)

// Flux's limits for a server without Priority and Fairness.
const (
	QPS   = 50
	Burst = 300
)

// UserAgent is what every request of gitopskit says it is:
// "gitopskit/<module version>" ("devel" in a build from a work tree).
func UserAgent() string {
	version := "devel"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range append([]*debug.Module{&bi.Main}, bi.Deps...) {
			if m.Path == "github.com/gitopskit/gitopskit" && m.Version != "" && m.Version != "(devel)" {
				version = m.Version
			}
		}
	}
	return "gitopskit/" + version
}

// Config returns a copy of cfg with gitopskit's defaults where cfg has
// none: the user agent, and — when QPS, Burst and RateLimiter are all
// unset, as in a config loaded from a kubeconfig — no client-side limit if
// the server runs Priority and Fairness (asked once per host), Flux's 50/300
// otherwise. A caller that sets any of them keeps its own.
func Config(cfg *rest.Config) *rest.Config {
	out := rest.CopyConfig(cfg)
	if out.UserAgent == "" {
		out.UserAgent = UserAgent()
	}
	if out.QPS != 0 || out.Burst != 0 || out.RateLimiter != nil {
		return out
	}
	if flowControl(out) {
		out.QPS, out.Burst = -1, -1 // client-go: a negative QPS means no limiter
	} else {
		out.QPS, out.Burst = QPS, Burst
	}
	return out
}

var (
	apfMu   sync.Mutex
	apfSeen = map[string]bool{}
)

// flowControl reports whether the server answers with Priority and
// Fairness headers, which it sets on every request it classifies.
func flowControl(cfg *rest.Config) bool {
	apfMu.Lock()
	defer apfMu.Unlock()
	if v, ok := apfSeen[cfg.Host]; ok {
		return v
	}
	probe := rest.CopyConfig(cfg)
	probe.QPS, probe.Burst = -1, -1
	hc, err := rest.HTTPClientFor(probe)
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	base, _, err := rest.DefaultServerUrlFor(probe)
	if err != nil {
		return false
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base.JoinPath("/api").String(), nil)
	if err != nil {
		return false
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false // unknown: keep Flux's limits; not remembered
	}
	resp.Body.Close()
	on := resp.Header.Get("X-Kubernetes-PF-FlowSchema-UID") != "" || resp.Header.Get("X-Kubernetes-PF-PriorityLevel-UID") != ""
	apfSeen[cfg.Host] = on
	return on
}
