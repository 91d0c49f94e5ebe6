package source

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Limits on what an archive may unpack to, as Helm sets them for charts.
const (
	maxArchiveSize = 100 << 20 // all files together
	maxArchiveFile = 20 << 20  // one file
)

// extractTarGz unpacks a gzipped tar stream into dir, which must exist and
// be empty. Every entry must stay inside dir: absolute paths, "..", links of
// any kind and device files are errors naming the entry. It returns the
// single top-level directory when there is one (charts have one), else "".
func extractTarGz(r io.Reader, dir string) (top string, err error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return "", fmt.Errorf("not a gzip archive: %w", err)
	}
	defer gz.Close()
	tr := tar.NewReader(gz)
	var total int64
	tops := map[string]bool{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", fmt.Errorf("archive truncated or corrupt: %w", err)
		}
		name := strings.TrimPrefix(filepath.ToSlash(h.Name), "./")
		if name == "" || name == "." {
			continue
		}
		if path.IsAbs(name) || filepath.IsAbs(h.Name) || strings.HasPrefix(h.Name, "/") {
			return "", fmt.Errorf("archive entry %q has an absolute path", h.Name)
		}
		clean := path.Clean(name)
		if clean == ".." || strings.HasPrefix(clean, "../") {
			return "", fmt.Errorf("archive entry %q leaves the target directory", h.Name)
		}
		tops[strings.SplitN(clean, "/", 2)[0]] = true
		dest := filepath.Join(dir, filepath.FromSlash(clean))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(dest, 0o755); err != nil {
				return "", err
			}
		case tar.TypeReg:
			if h.Size > maxArchiveFile {
				return "", fmt.Errorf("archive entry %q is larger than %d bytes", h.Name, maxArchiveFile)
			}
			total += h.Size
			if total > maxArchiveSize {
				return "", fmt.Errorf("archive unpacks to more than %d bytes", maxArchiveSize)
			}
			if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
				return "", err
			}
			mode := os.FileMode(0o444)
			if h.FileInfo().Mode().Perm()&0o111 != 0 {
				mode = 0o555
			}
			f, err := os.OpenFile(dest, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode)
			if err != nil {
				return "", fmt.Errorf("archive entry %q: %w", h.Name, err)
			}
			n, err := io.Copy(f, io.LimitReader(tr, h.Size))
			cerr := f.Close()
			if err == nil && n != h.Size {
				err = io.ErrUnexpectedEOF
			}
			if err != nil {
				return "", fmt.Errorf("archive truncated or corrupt at %q: %w", h.Name, err)
			}
			if cerr != nil {
				return "", cerr
			}
		case tar.TypeSymlink, tar.TypeLink:
			return "", fmt.Errorf("archive entry %q is a link (to %q); links are not allowed", h.Name, h.Linkname)
		case tar.TypeXGlobalHeader, tar.TypeXHeader:
			continue
		default:
			return "", fmt.Errorf("archive entry %q has unsupported type %q", h.Name, string(h.Typeflag))
		}
	}
	// The gzip trailer is checked only once the stream is read to the end.
	if _, err := io.Copy(io.Discard, gz); err != nil {
		return "", fmt.Errorf("archive truncated or corrupt: %w", err)
	}
	if len(tops) == 1 {
		for t := range tops {
			if fi, err := os.Stat(filepath.Join(dir, t)); err == nil && fi.IsDir() {
				return t, nil
			}
		}
	}
	return "", nil
}
