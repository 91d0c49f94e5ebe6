package source

import (
	"encoding/json"
	"os"
	"path/filepath"
)

// metaFile is the file, in every cache entry, that says what the entry
// holds (its digest above all). It is written last, into the entry's
// temporary directory, before that is renamed into place: an entry with a
// readable metaFile is complete.
const metaFile = "artifact.json"

// writeMeta writes v as dir's metaFile.
func writeMeta(dir string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, metaFile), b, 0o644)
}

// readMeta decodes dir's metaFile into v; false if the entry is missing or
// its metaFile does not decode.
func readMeta(dir string, v any) bool {
	b, err := os.ReadFile(filepath.Join(dir, metaFile))
	return err == nil && json.Unmarshal(b, v) == nil
}
