// Package atomicfile writes files whole or not at all: through a temporary
// file in the same directory, renamed over the target, so a process
// stopped halfway never leaves half a file behind.
package atomicfile

import (
	"io/fs"
	"os"
	"path/filepath"
)

// WriteFile writes b to name with the permissions perm, atomically.
func WriteFile(name string, b []byte, perm fs.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), ".tmp-"+filepath.Base(name)+"-")
	if err != nil {
		return err
	}
	fail := func(err error) error {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		return fail(err)
	}
	if err := tmp.Chmod(perm); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}
