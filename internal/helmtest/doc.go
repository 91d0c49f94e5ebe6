// Package helmtest makes Helm charts and serves them for tests from real
// servers: an HTTP chart repository (index.yaml and archives, built with
// the Helm SDK) and an OCI registry (the distribution registry, in memory,
// in-process), each optionally behind basic auth.
package helmtest
