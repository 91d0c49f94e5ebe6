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
//     committed; each fetch is a snapshot of exactly the files the ignore
//     rules keep. Flux has no equivalent.
//   - HelmChart (NewHelmChart): a chart from an HTTP(S) repository, an OCI
//     registry, or a file:// mirror; version by semver constraint; digest
//     checked; never downloaded twice.
//   - OCI (NewOCI): an OCI artifact of manifests, as a Flux OCIRepository
//     (digest, then semver, then tag; layer selected by media type), from a
//     registry or an OCI image layout directory.
//   - Generated (NewGenerated): an artifact composed of other artifacts'
//     files by copy operations, as Flux 2.7's source-watcher builds the
//     ExternalArtifacts of an ArtifactGenerator (globs, excludes, the
//     Overwrite, Merge and Extract strategies); revision latest@<digest>.
//   - LocalChart (NewLocalChart): a chart at a path inside another artifact,
//     with its dependencies resolved from charts/, Chart.lock and
//     Chart.yaml as `helm dependency build` does.
//
// Ignore rules follow Flux: VCS files are always left out, a default list
// (images, archives, CI files) unless the caller gives rules of its own, and
// .sourceignore files anywhere in the tree. An artifact's FS, the files
// under its Path and its digest always agree: renderers read only what the
// rules keep (sourcetest checks any Source for it).
//
// Mirrors rewrites URL prefixes so CI runs hermetically:
//
//   - a Git repository → a local path or file:// URL;
//   - an HTTP(S) Helm repository → a file:// folder with an index.yaml (or
//     with unpacked charts), or a loopback server;
//   - an oci:// Helm repository, and an OCIRepository a HelmRelease's
//     chartRef names → the same kinds of folder, keyed by the repository URL
//     without the chart name (oci://quay.io/jetstack/charts, serving
//     cert-manager), or an in-process registry; a chart pinned by digest
//     needs a registry;
//   - an OCIRepository used as a Kustomization source → file:// of an OCI
//     image layout directory (`oras copy --to-oci-layout`), or a registry.
//
// Caches (under the user cache directory unless set) are shared between
// processes under file locks and only ever hold complete entries: a failed
// or canceled fetch leaves them as they were.
package source
