// Package testfs writes file trees for tests.
package testfs

import (
	"os"
	"path/filepath"
	"strconv"
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

// AliasBomb is a ConfigMap named name whose data, through levels of
// fan-fold YAML aliases, expands to fan^levels strings: nine by nine is 387
// million, written in a kilobyte.
func AliasBomb(name string, levels, fan int) string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n  namespace: default\n")
	for i := range levels {
		item := `"lol"`
		if i > 0 {
			item = "*a" + strconv.Itoa(i-1)
		}
		items := make([]string, fan)
		for j := range items {
			items[j] = item
		}
		b.WriteString("a" + strconv.Itoa(i) + ": &a" + strconv.Itoa(i) + " [" + strings.Join(items, ",") + "]\n")
	}
	b.WriteString("data:\n  k: *a" + strconv.Itoa(levels-1) + "\n")
	return b.String()
}
