// Package source fetches a revision of something — a Git repository, a local
// directory (including a dirty working tree), a Helm chart from an HTTP or
// OCI repository — into a read-only Artifact: its URL, a revision in Flux's
// format (main@sha1:<hex>), a digest over its files, and a file tree. It is
// the first stage of gitopskit's flow; render consumes its artifacts.
package source
