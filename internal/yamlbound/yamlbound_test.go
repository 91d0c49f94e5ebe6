package yamlbound

import (
	"errors"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/internal/testfs"
)

func TestCheck(t *testing.T) {
	big := "items:\n" + strings.Repeat("- {a: 1, b: [x, y, z]}\n", 300000)
	for _, tc := range []struct {
		name string
		doc  string
		ok   bool
	}{
		{"plain", "a: 1\nb: [x, y]\n", true},
		{"few anchors", "base: &env {A: '1', B: '2'}\nx: *env\ny: *env\nz: {<<: *env, C: '3'}\n", true},
		{"large without aliases", big, true},
		{"large with one alias each", "x: &x [" + strings.Repeat("a,", 1000) + "a]\n" + strings.Repeat("- *x\n", 0) + "y: [" + strings.Repeat("*x,", 50) + "*x]\n", true},
		{"nine by nine", testfs.AliasBomb("laughs", 9, 9), false},
		{"bomb in the second document", "a: 1\n---\n" + testfs.AliasBomb("laughs", 9, 9), false},
		{"recursive alias", "a: &a [*a]\n", false},
		{"does not parse", "a: &a [\n", true},
		{"star in text", "a: '*not an alias' # & neither\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Check([]byte(tc.doc))
			if tc.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tc.ok && !errors.Is(err, ErrExpansion) {
				t.Fatalf("got %v, want ErrExpansion", err)
			}
		})
	}
}

func FuzzCheck(f *testing.F) {
	f.Add([]byte("a: &a [x, y]\nb: [*a, *a]\n"))
	f.Add([]byte(testfs.AliasBomb("laughs", 4, 4)))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("- &x {k: *x}\n---\n&y [*y, *y]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = Check(data) // must neither panic nor run away
	})
}
