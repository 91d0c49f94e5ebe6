package source

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type tarEntry struct {
	name, body, link string
	typ              byte
}

func makeTarGz(t testing.TB, entries []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		h := &tar.Header{Name: e.name, Typeflag: typ, Mode: 0o644, Size: int64(len(e.body)), Linkname: e.link}
		if typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

func TestExtractTarGz(t *testing.T) {
	good := makeTarGz(t, []tarEntry{{name: "app/Chart.yaml", body: "name: app\n"}, {name: "app/templates/", typ: tar.TypeDir}, {name: "app/templates/cm.yaml", body: "x"}})
	tests := map[string]struct {
		data []byte
		top  string
		want string // error substring
	}{
		"a chart":            {data: good, top: "app"},
		"parent escape":      {data: makeTarGz(t, []tarEntry{{name: "app/../../evil", body: "x"}}), want: `"app/../../evil" leaves the target directory`},
		"absolute path":      {data: makeTarGz(t, []tarEntry{{name: "/etc/evil", body: "x"}}), want: `"/etc/evil" has an absolute path`},
		"symlink out":        {data: makeTarGz(t, []tarEntry{{name: "app/link", link: "../../etc/passwd", typ: tar.TypeSymlink}}), want: `"app/link" is a link`},
		"hard link":          {data: makeTarGz(t, []tarEntry{{name: "app/link", link: "/etc/passwd", typ: tar.TypeLink}}), want: `"app/link" is a link`},
		"device file":        {data: makeTarGz(t, []tarEntry{{name: "app/dev", typ: tar.TypeChar}}), want: "unsupported type"},
		"truncated":          {data: good[:len(good)/2], want: "truncated or corrupt"},
		"not gzip":           {data: []byte("hello"), want: "not a gzip archive"},
		"trailer corruption": {data: append(good[:len(good)-4:len(good)-4], 1, 2, 3, 4), want: "truncated or corrupt"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			top, err := extractTarGz(bytes.NewReader(tc.data), dir)
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err = %v, want %q", err, tc.want)
				}
				if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "evil")); err == nil {
					t.Fatal("an entry escaped the target directory")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if top != tc.top {
				t.Errorf("top = %q, want %q", top, tc.top)
			}
		})
	}
}
