// Package source fetches a revision of something into a read-only Artifact:
// its URL (never with credentials), a revision in Flux's format
// (main@sha1:<hex>, v1.2.3@sha1:<hex>, a chart version, <tag>@sha256:<hex>
// for OCI), a digest over its files in a canonical order (equal trees give
// equal digests, whatever the source), and the file tree as an fs.FS and a
// directory. It is the first stage of gitopskit's flow; render consumes its
// artifacts.
//
// Every source satisfies Source (Fetch(ctx) (*Artifact, error)):
//
//   - Git (NewGit): a Git repository over a local path, file://, http(s)://
//     or SSH, with go-git; ref by branch, tag, semver range over tags,
//     commit or full ref name; shallow by default; basic, token, CA bundle,
//     SSH key with known_hosts checked unless explicitly skipped. A no-op
//     fetch costs one ref listing.
//   - Dir (NewDir): a local directory as it is on disk, uncommitted changes
//     included, so a working tree can be rendered or reconciled before it is
//     committed. Flux has no equivalent.
//   - HelmChart (NewHelmChart): a chart from an HTTP(S) repository, an OCI
//     registry, or a file:// mirror; version by semver constraint; digest
//     checked; never downloaded twice.
//   - OCI (NewOCI): an OCI artifact of manifests, as a Flux OCIRepository
//     (tag, semver or digest; layer selected by media type).
//   - LocalChart (NewLocalChart): a chart at a path inside another artifact,
//     with its dependencies resolved from charts/, Chart.lock and
//     Chart.yaml as `helm dependency build` does.
//
// Ignore rules follow Flux: VCS files are always left out, a default list
// (images, archives, CI files) unless the caller gives rules of its own, and
// .sourceignore files anywhere in the tree. Mirrors rewrites URLs so CI can
// run offline against local folders or loopback servers.
//
// Caches (under the user cache directory unless set) are shared between
// processes under file locks and only ever hold complete entries: a failed
// or canceled fetch leaves them as they were.
package source
