package source

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Mirrors rewrites source URLs so that a Git repository or a Helm
// repository can be served from somewhere else — a local folder
// (file:///...), a loopback server, an internal proxy — and CI can run with
// no network. Each key is a URL prefix and its value the replacement; the
// longest matching key wins, and a key matches only at a path boundary
// ("https://charts.example.com" does not match
// "https://charts.example.com.evil"). Helm repository aliases such as
// "@bitnami" in a Chart.yaml may be keys too.
type Mirrors map[string]string

// Rewrite returns url with its longest matching prefix replaced, or url
// unchanged.
func (m Mirrors) Rewrite(url string) string {
	best := ""
	for from := range m {
		if len(from) <= len(best) || !strings.HasPrefix(url, from) {
			continue
		}
		rest := url[len(from):]
		if rest == "" || strings.HasSuffix(from, "/") || strings.HasPrefix(rest, "/") || strings.HasPrefix(rest, "?") || strings.HasPrefix(rest, "#") {
			best = from
		}
	}
	if best == "" {
		return url
	}
	return m[best] + url[len(best):]
}

// Set adds one mirror given as FROM=TO, so Mirrors (made with make or a
// literal) can be a repeatable command-line flag: fs.Var(m, "mirror", …).
func (m Mirrors) Set(v string) error {
	from, to, ok := strings.Cut(v, "=")
	if !ok || from == "" || to == "" {
		return errors.New("want FROM=TO")
	}
	m[from] = to
	return nil
}

// String lists the mirrors as FROM=TO, sorted, comma-separated.
func (m Mirrors) String() string {
	var out []string
	for from, to := range m {
		out = append(out, fmt.Sprintf("%s=%s", from, to))
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}
