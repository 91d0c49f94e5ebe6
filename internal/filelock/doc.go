// Package filelock serialises work on a cache entry across goroutines and
// processes with an exclusive lock on a file (flock where the system has
// it). Waiting honours the context.
package filelock
