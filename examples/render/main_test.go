package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/internal/testfs"
	"github.com/gitopskit/gitopskit/source"
)

func TestRenderExample(t *testing.T) {
	dir := t.TempDir()
	testfs.Write(t, dir, map[string]string{
		"clusters/dev/apps.yaml": "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: apps, namespace: flux-system}\nspec:\n  interval: 1m\n  path: ./apps\n  prune: true\n  sourceRef: {kind: GitRepository, name: flux-system}\n",
		"apps/secret.yaml":       "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: default}\nstringData: {password: hunter2}\n",
		"apps/cm.yaml":           "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: default}\n",
	})
	var out bytes.Buffer
	if err := run(context.Background(), config{dir: dir, path: "clusters/dev", output: "yaml", mirrors: source.Mirrors{}}, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# unit Kustomization/flux-system/apps", "# source: apps/cm.yaml", "<masked:hmac-sha256:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("yaml output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "hunter2") {
		t.Error("a Secret value was printed")
	}
	out.Reset()
	if err := run(context.Background(), config{dir: dir, path: "clusters/dev", output: "graph", mirrors: source.Mirrors{}}, &out); err != nil {
		t.Fatal(err)
	}
	var g struct {
		Units []struct{ ID string }
		Order []string
	}
	if err := json.Unmarshal(out.Bytes(), &g); err != nil {
		t.Fatalf("%v:\n%s", err, out.String())
	}
	if len(g.Units) != 2 || len(g.Order) != 2 {
		t.Errorf("graph: %+v", g)
	}
	if err := run(context.Background(), config{dir: dir, path: "clusters/dev", unit: "Kustomization/x/y", output: "yaml"}, &out); err == nil {
		t.Error("an unknown unit was accepted")
	}
}
