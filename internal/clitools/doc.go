// Package clitools is a module of its own that builds the helm and
// kustomize command-line programs at the versions gitopskit's libraries
// use, so benchmarks can compare in-process rendering with the CLI pipeline
// a user would script. Build them with:
//
//	go build -o DIR tool
package clitools
