// Package testfs writes file trees for tests.
package testfs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Write writes files (slash paths relative to dir → content) under dir,
// creating directories as needed. A content of "->target" makes a symlink
// to target instead.
func Write(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(body, "->"); ok {
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
