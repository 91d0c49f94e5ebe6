package statuspage_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gitopskit/gitopskit"
	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/dag"
	"github.com/gitopskit/gitopskit/statuspage"
)

// fake is a Reconciler of two units whose changes the test sends.
type fake struct {
	status  gitopskit.Status
	changes chan gitopskit.UnitStatus
	health  bool
}

func (f *fake) Status() gitopskit.Status { return f.status }

func (f *fake) Watch(ctx context.Context) <-chan gitopskit.UnitStatus { return f.changes }

func (f *fake) Graph() (*dag.UnitGraph, error) {
	return dag.Build([]dag.Unit{{ID: "Kustomization/flux-system/infra"},
		{ID: "Kustomization/flux-system/apps", Links: dag.Links{DependsOn: []string{"Kustomization/flux-system/infra"}}}}, dag.Options{})
}

type healthy struct{ *fake }

func (healthy) Health(ctx context.Context, unit string) (*apply.Health, error) {
	return &apply.Health{Unit: unit, Revision: "main@sha1:abc", Objects: 1,
		Each: []apply.ObjectHealth{{Object: dag.ObjectRef{Kind: "ConfigMap", Namespace: "web", Name: "cfg"}, Status: "Current", Message: "Resource is current"}}}, nil
}

func newFake() *fake {
	return &fake{changes: make(chan gitopskit.UnitStatus, 1), status: gitopskit.Status{
		{ID: "Kustomization/flux-system/apps", Ready: gitopskit.ReadyFalse, Message: "dependency 'Kustomization/flux-system/infra' is not ready"},
		{ID: "Kustomization/flux-system/infra", Ready: gitopskit.ReadyTrue, Message: "Applied revision: main@sha1:abc", Revision: "main@sha1:abc"},
	}}
}

func get(t *testing.T, srv *httptest.Server, path string) (int, string) {
	t.Helper()
	res, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(b)
}

// TestPages: the page holds the graph (states as classes) and a row per
// unit; status.json is the status; a unit's page lists its objects, or
// says why it cannot; an unknown unit is 404.
func TestPages(t *testing.T) {
	f := newFake()
	srv := httptest.NewServer(statuspage.Handler(healthy{f}, statuspage.Options{Title: "prod"}))
	defer srv.Close()

	code, page := get(t, srv, "/")
	for _, want := range []string{"<title>prod</title>", `<tr data-unit="Kustomization/flux-system/apps" class="state-blocked">`,
		`<tr data-unit="Kustomization/flux-system/infra" class="state-ready">`, "state&#45;blocked", `href="unit?id=Kustomization%2Fflux-system%2Finfra"`,
		`new EventSource("events")`} {
		if code != 200 || !strings.Contains(page, want) {
			t.Errorf("the page (%d) lacks %q", code, want)
		}
	}
	if strings.Contains(page, "http://") && !strings.Contains(page, "http://www.w3.org") {
		t.Error("the page names an external asset")
	}

	_, js := get(t, srv, "/status.json")
	var st gitopskit.Status
	if err := json.Unmarshal([]byte(js), &st); err != nil || len(st) != 2 {
		t.Errorf("status.json: %v %s", err, js)
	}

	code, unit := get(t, srv, "/unit?id=Kustomization/flux-system/infra")
	if code != 200 || !strings.Contains(unit, `<tr data-object="ConfigMap/web/cfg"><td>ConfigMap/web/cfg</td><td class="status">Current</td>`) {
		t.Errorf("unit page (%d):\n%s", code, unit)
	}
	if code, _ := get(t, srv, "/unit?id=Kustomization/flux-system/nope"); code != http.StatusNotFound {
		t.Errorf("an unknown unit: %d", code)
	}

	plain := httptest.NewServer(statuspage.Handler(f, statuspage.Options{}))
	defer plain.Close()
	if _, unit := get(t, plain, "/unit?id=Kustomization/flux-system/infra"); !strings.Contains(unit, "does not report the health of objects") {
		t.Errorf("a reconciler without Health:\n%s", unit)
	}
	if code, svg := get(t, plain, "/graph.svg"); code != 200 || !strings.Contains(svg, "<svg") {
		t.Errorf("graph.svg (%d): %.200s", code, svg)
	}
}

// TestEvents: the stream starts with every unit's status and then sends
// each change, with the state the page colours it by.
func TestEvents(t *testing.T) {
	f := newFake()
	srv := httptest.NewServer(statuspage.Handler(f, statuspage.Options{}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/events", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type %q", ct)
	}
	lines := bufio.NewScanner(res.Body)
	next := func() map[string]any {
		t.Helper()
		for lines.Scan() {
			if data, ok := strings.CutPrefix(lines.Text(), "data: "); ok {
				var m map[string]any
				if err := json.Unmarshal([]byte(data), &m); err != nil {
					t.Fatal(err)
				}
				return m
			}
		}
		t.Fatalf("the stream ended: %v", lines.Err())
		return nil
	}
	if m := next(); m["ID"] != "Kustomization/flux-system/apps" || m["State"] != "blocked" {
		t.Errorf("first event: %v", m)
	}
	if m := next(); m["ID"] != "Kustomization/flux-system/infra" || m["State"] != "ready" {
		t.Errorf("second event: %v", m)
	}
	f.changes <- gitopskit.UnitStatus{ID: "Kustomization/flux-system/apps", Ready: gitopskit.ReadyFalse, Message: "boom"}
	if m := next(); m["ID"] != "Kustomization/flux-system/apps" || m["State"] != "failed" || m["Message"] != "boom" {
		t.Errorf("the change: %v", m)
	}
}
