package main

import (
	"html/template"
	"net/http"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/types"

	"github.com/gitopskit/gitopskit/statuspage"
)

var fleetList = template.Must(template.New("fleets").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Fleets</title>
<style>body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; } li { margin: .3rem 0; }</style></head>
<body><h1>Fleets</h1>
{{if .}}<ul>{{range .}}<li><a href="{{.}}/">{{.}}</a></li>{{end}}</ul>{{else}}<p>No Fleet reconciled yet.</p>{{end}}
</body></html>
`))

// ServeHTTP serves a status page per Fleet (package statuspage) at
// /<namespace>/<name>/, and the list of Fleets at /.
func (f *FleetReconciler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	path := strings.TrimPrefix(req.URL.Path, "/")
	if path == "" {
		f.mu.Lock()
		var names []string
		for key := range f.fleets {
			names = append(names, key.String())
		}
		f.mu.Unlock()
		slices.Sort(names)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = fleetList.Execute(w, names)
		return
	}
	parts := strings.SplitN(path, "/", 3)
	if len(parts) < 2 {
		http.NotFound(w, req)
		return
	}
	if len(parts) == 2 { // /<namespace>/<name>: the page's links are relative to /<namespace>/<name>/
		http.Redirect(w, req, req.URL.Path+"/", http.StatusFound)
		return
	}
	f.mu.Lock()
	e, ok := f.fleets[types.NamespacedName{Namespace: parts[0], Name: parts[1]}]
	f.mu.Unlock()
	if !ok {
		http.NotFound(w, req)
		return
	}
	prefix := "/" + parts[0] + "/" + parts[1]
	http.StripPrefix(prefix, statuspage.Handler(e.r, statuspage.Options{Title: "Fleet " + parts[0] + "/" + parts[1]})).ServeHTTP(w, req)
}
