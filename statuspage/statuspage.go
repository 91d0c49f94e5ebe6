// Package statuspage is a live status page of a Reconciler, as an
// http.Handler that a controller or a tool mounts where it likes:
//
//	http.Handle("/gitops/", http.StripPrefix("/gitops", statuspage.Handler(r, statuspage.Options{})))
//
// The page shows the unit graph (package dag/dagsvg) coloured by each
// unit's state, and a table of every unit's state, message, revision and
// last apply; both change as the Reconciler's Watch reports, through
// server-sent events, with no reload. A page per unit lists the objects it
// last applied and what kstatus says of each. Everything is in the page —
// no JavaScript framework, no external asset — so it works offline, and
// every link is relative, so it works under any prefix.
//
// Paths: "/" the page, "/events" the server-sent events (each a
// gitopskit.UnitStatus as JSON), "/unit?id=<ID>" a unit's page,
// "/status.json" every unit's status, "/graph.svg" the graph alone.
package statuspage

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gitopskit/gitopskit"
	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/dag"
	"github.com/gitopskit/gitopskit/dag/dagsvg"
	"github.com/gitopskit/gitopskit/inventory"
)

// Reconciler is what the page shows: a *gitopskit.Reconciler is one.
type Reconciler interface {
	Status() gitopskit.Status
	Watch(ctx context.Context) <-chan gitopskit.UnitStatus
	Graph() (*dag.UnitGraph, error)
}

// HealthReader is a Reconciler that can also say how each object of a unit
// is (*gitopskit.Reconciler can): the unit pages list them.
type HealthReader interface {
	Health(ctx context.Context, unit string) (*apply.Health, error)
}

// Options set the page up; the zero value works.
type Options struct {
	// Title heads the page ("gitopskit" when empty).
	Title string
	// Logger receives failures to serve; nil is silent.
	Logger *slog.Logger
	// KeepAlive is how often an idle event stream gets a comment, so
	// proxies do not close it (15 seconds when zero).
	KeepAlive time.Duration
}

// Handler serves the status page of r.
func Handler(r Reconciler, opts Options) http.Handler {
	if opts.Title == "" {
		opts.Title = "gitopskit"
	}
	if opts.KeepAlive <= 0 {
		opts.KeepAlive = 15 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	h := &handler{r: r, opts: opts}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", h.index)
	mux.HandleFunc("GET /events", h.events)
	mux.HandleFunc("GET /unit", h.unit)
	mux.HandleFunc("GET /status.json", h.statusJSON)
	mux.HandleFunc("GET /graph.svg", h.graphSVG)
	return mux
}

type handler struct {
	r    Reconciler
	opts Options
}

// States colours each unit by its status: suspended, ready, blocked by a
// dependency, failed, or unknown (not reconciled yet).
func States(st gitopskit.Status) map[string]dagsvg.State {
	out := map[string]dagsvg.State{}
	for _, s := range st {
		out[s.ID] = stateOf(s)
	}
	return out
}

func stateOf(s gitopskit.UnitStatus) dagsvg.State {
	switch {
	case s.Suspended:
		return dagsvg.StateSuspended
	case s.Ready == gitopskit.ReadyTrue:
		return dagsvg.StateReady
	case s.Ready == gitopskit.ReadyFalse && strings.HasPrefix(s.Message, "dependency "):
		return dagsvg.StateBlocked
	case s.Ready == gitopskit.ReadyFalse:
		return dagsvg.StateFailed
	}
	return dagsvg.StateUnknown
}

// graph draws the last graph with st's colours; nil before the first
// reconcile.
func (h *handler) graph(ctx context.Context, st gitopskit.Status) ([]byte, error) {
	g, err := h.r.Graph()
	if err != nil || g == nil {
		return nil, err
	}
	var b bytes.Buffer
	err = dagsvg.Write(ctx, &b, g, dagsvg.Options{States: States(st), Link: func(id string) string { return "unit?id=" + url.QueryEscape(id) }})
	return b.Bytes(), err
}

//go:embed page.html
var pageHTML string

var pages = template.Must(template.New("page").Funcs(template.FuncMap{
	"state": func(s gitopskit.UnitStatus) string {
		if st := stateOf(s); st != dagsvg.StateUnknown {
			return string(st)
		}
		return "unknown"
	},
	"when": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	},
	"unitURL": func(id string) string { return "unit?id=" + url.QueryEscape(id) },
}).Parse(pageHTML))

type pageData struct {
	Title  string
	Units  gitopskit.Status
	Graph  template.HTML
	Unit   *gitopskit.UnitStatus
	Health *apply.Health
	Note   string
}

func (h *handler) index(w http.ResponseWriter, req *http.Request) {
	st := h.r.Status()
	svg, err := h.graph(req.Context(), st)
	if err != nil {
		h.opts.Logger.Warn("status page: drawing the graph", "err", err)
	}
	// The SVG is Graphviz's, drawn from unit IDs it escapes itself.
	h.render(w, "index", pageData{Title: h.opts.Title, Units: st, Graph: template.HTML(svg)})
}

func (h *handler) unit(w http.ResponseWriter, req *http.Request) {
	id := req.URL.Query().Get("id")
	s, ok := h.r.Status().Unit(id)
	if !ok {
		http.Error(w, fmt.Sprintf("no unit %q", id), http.StatusNotFound)
		return
	}
	d := pageData{Title: h.opts.Title, Unit: &s}
	hr, ok := h.r.(HealthReader)
	switch {
	case !ok:
		d.Note = "This reconciler does not report the health of objects."
	default:
		health, err := hr.Health(req.Context(), id)
		switch {
		case errors.Is(err, inventory.ErrNotFound):
			d.Note = "Nothing applied yet."
		case err != nil:
			d.Note = "Reading the objects: " + err.Error()
		default:
			d.Health = health
		}
	}
	h.render(w, "unit", d)
}

func (h *handler) render(w http.ResponseWriter, name string, d pageData) {
	var b bytes.Buffer
	if err := pages.ExecuteTemplate(&b, name, d); err != nil {
		h.opts.Logger.Error("status page", "err", err)
		http.Error(w, "the page could not be made", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b.Bytes())
}

func (h *handler) statusJSON(w http.ResponseWriter, req *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(h.r.Status())
}

func (h *handler) graphSVG(w http.ResponseWriter, req *http.Request) {
	svg, err := h.graph(req.Context(), h.r.Status())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if svg == nil {
		http.Error(w, "not reconciled yet", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(svg)
}

// events streams every unit's status, then each change Watch reports, as
// server-sent events until the client goes.
func (h *handler) events(w http.ResponseWriter, req *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming is not supported here", http.StatusInternalServerError)
		return
	}
	ctx := req.Context()
	changes := h.r.Watch(ctx) // before the snapshot: no change falls between
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	send := func(s gitopskit.UnitStatus) error {
		b, err := json.Marshal(event{UnitStatus: s, State: string(stateOf(s))})
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "data: %s\n\n", b)
		return err
	}
	for _, s := range h.r.Status() {
		if err := send(s); err != nil {
			return
		}
	}
	flusher.Flush()
	tick := time.NewTicker(h.opts.KeepAlive)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case s, ok := <-changes:
			if !ok {
				return
			}
			if err := send(s); err != nil {
				return
			}
		case <-tick.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
		}
		flusher.Flush()
	}
}

// event is what each server-sent event carries: the status and the state
// the page colours it by.
type event struct {
	gitopskit.UnitStatus
	State string
}
