package main

// This file is what a team copies into its GitOps repository to test it in
// CI with go test, using package gitopstest: no cluster, no network
// (charts come from a mirror directory), golden files of every unit's
// output refreshed with
//
//	go test ./examples/citest -update
//
// Point repoDir, rootPath and the mirror at your repository.

import (
	"path/filepath"
	"testing"

	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/source"
)

var update = gitopstest.RegisterUpdateFlag()

const (
	repoDir   = "../../internal/fleet/repo"
	chartsDir = "../../internal/fleet/charts"
	rootPath  = "clusters/dev"
	chartsURL = "https://charts.example.com"
)

func TestFleet(t *testing.T) {
	charts, err := filepath.Abs(chartsDir)
	if err != nil {
		t.Fatal(err)
	}
	repo := gitopstest.Load(t, gitopstest.Options{Dir: repoDir, Path: rootPath,
		Mirrors: source.Mirrors{chartsURL: "file://" + charts}})
	repo.CheckAll(t)
	repo.Golden(t, "testdata/golden", *update)
}
