package render

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
)

// ReleaseHistory tells what a cluster records of a Helm release, so that
// its chart renders as Helm would render it there: .Release.IsInstall,
// .Release.IsUpgrade and .Release.Revision. Without one (offline), every
// release renders as a first install.
type ReleaseHistory interface {
	Revisions(ctx context.Context, storageNamespace, name string) (ReleaseRevisions, error)
}

// ReleaseRevisions is what the records of one release say.
type ReleaseRevisions struct {
	// Latest is the newest revision (0: no record); Deployed the deployed
	// one (0: none).
	Latest, Deployed int
	// DeployedConfig is the deployed revision's ConfigDigestLabel, when
	// gitopskit wrote it.
	DeployedConfig string
}

// ConfigDigestLabel is the label on each Helm release record gitopskit
// writes that digests what the revision was rendered from (the chart's
// digest and the values): a release whose chart and values are those of
// its deployed revision renders as that revision again, anything else as
// the next one.
const ConfigDigestLabel = "gitopskit.dev/config-digest"

// configDigest is the ConfigDigestLabel value for a chart and values (40
// hex digits: a label value holds at most 63 characters).
func configDigest(chartDigest string, values map[string]any) string {
	h := sha256.New()
	enc := json.NewEncoder(h)
	if err := enc.Encode(chartDigest); err != nil {
		return ""
	}
	if err := enc.Encode(values); err != nil {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))[:40]
}

// revisionFor is the revision a release renders as, and whether as an
// upgrade: its deployed revision again when the chart and values are the
// same, otherwise the revision after the latest — an upgrade when one is
// deployed.
func revisionFor(r ReleaseRevisions, config string) (revision int, upgrade bool) {
	switch {
	case r.Deployed > 0 && config != "" && r.DeployedConfig == config:
		return r.Deployed, r.Deployed > 1
	case r.Deployed > 0:
		return r.Latest + 1, true
	default:
		return r.Latest + 1, false
	}
}
