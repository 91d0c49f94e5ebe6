// Package gittest runs real Git servers for tests: repositories made with
// the system git, served over smart HTTP(S) by git http-backend and over SSH
// by an in-process server that runs git upload-pack. Nothing is mocked; the
// servers count the requests they answer so tests can assert what a client
// did.
package gittest
