package source

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/go-git/go-git/v5/plumbing"
)

// GitRef says which revision of a Git repository to fetch, as a Flux
// GitRepository's spec.ref does. Set at most one of Branch, Tag, SemVer and
// Name; Commit alone, or Commit with Branch (the branch is fetched and the
// commit checked out). The zero value follows the remote's HEAD.
type GitRef struct {
	Branch string
	Tag    string
	// SemVer is a constraint over tags ("1.2.x", ">=1.0.0 <2.0.0"): the
	// highest matching tag is fetched.
	SemVer string
	// Name is a full reference name, such as refs/pull/1/head.
	Name   string
	Commit string
}

func (r GitRef) validate() error {
	n := 0
	for _, s := range []string{r.Branch, r.Tag, r.SemVer, r.Name} {
		if s != "" {
			n++
		}
	}
	if n > 1 || (r.Commit != "" && (r.Tag != "" || r.SemVer != "" || r.Name != "")) {
		return errors.New("ref: set one of branch, tag, semver or name (commit may go with branch)")
	}
	if r.Commit != "" && !plumbing.IsHash(r.Commit) {
		return fmt.Errorf("ref: commit %q is not a full 40-character SHA-1", r.Commit)
	}
	if r.SemVer != "" {
		if _, err := semver.NewConstraint(r.SemVer); err != nil {
			return fmt.Errorf("ref: semver %q: %w", r.SemVer, err)
		}
	}
	return nil
}

// resolved is a ref resolved against a remote's ref listing.
type resolved struct {
	// refName is what to fetch (empty for a bare commit).
	refName plumbing.ReferenceName
	// label is the revision's prefix: branch or tag name, or "".
	label string
	// hash is what the ref points at: a commit, or an annotated tag object.
	hash plumbing.Hash
	// commit is the commit, when the listing gives it (peeled tags).
	commit plumbing.Hash
}

// resolveRef picks the reference r names out of a remote's listing.
func resolveRef(r GitRef, refs []*plumbing.Reference) (resolved, error) {
	byName := make(map[plumbing.ReferenceName]*plumbing.Reference, len(refs))
	for _, ref := range refs {
		byName[ref.Name()] = ref
	}
	find := func(name plumbing.ReferenceName, label string) (resolved, bool) {
		ref, ok := byName[name]
		if !ok || ref.Type() != plumbing.HashReference {
			return resolved{}, false
		}
		res := resolved{refName: name, label: label, hash: ref.Hash(), commit: ref.Hash()}
		if peeled, ok := byName[name+"^{}"]; ok {
			res.commit = peeled.Hash()
		}
		return res, true
	}
	switch {
	case r.Branch != "":
		if res, ok := find(plumbing.NewBranchReferenceName(r.Branch), r.Branch); ok {
			return res, nil
		}
		return resolved{}, fmt.Errorf("branch %q not found", r.Branch)
	case r.Tag != "":
		if res, ok := find(plumbing.NewTagReferenceName(r.Tag), r.Tag); ok {
			return res, nil
		}
		return resolved{}, fmt.Errorf("tag %q not found", r.Tag)
	case r.Name != "":
		if res, ok := find(plumbing.ReferenceName(r.Name), r.Name); ok {
			return res, nil
		}
		return resolved{}, fmt.Errorf("reference %q not found", r.Name)
	case r.SemVer != "":
		c, _ := semver.NewConstraint(r.SemVer)
		var best *semver.Version
		var bestTag string
		for _, ref := range refs {
			name := ref.Name().String()
			if !ref.Name().IsTag() || strings.HasSuffix(name, "^{}") {
				continue
			}
			tag := ref.Name().Short()
			v, err := semver.NewVersion(tag)
			if err != nil || !c.Check(v) {
				continue
			}
			if best == nil || v.GreaterThan(best) || (v.Equal(best) && tag < bestTag) {
				best, bestTag = v, tag
			}
		}
		if best == nil {
			return resolved{}, fmt.Errorf("no tag matches semver %q", r.SemVer)
		}
		res, _ := find(plumbing.NewTagReferenceName(bestTag), bestTag)
		return res, nil
	}
	// No ref: the remote's HEAD, by the branch it names.
	head, ok := byName[plumbing.HEAD]
	if !ok {
		return resolved{}, errors.New("the remote advertises no HEAD; name a branch")
	}
	if head.Type() == plumbing.SymbolicReference {
		if res, ok := find(head.Target(), head.Target().Short()); ok {
			return res, nil
		}
	}
	var branches []*plumbing.Reference
	for _, ref := range refs {
		if ref.Name().IsBranch() && ref.Hash() == head.Hash() {
			branches = append(branches, ref)
		}
	}
	slices.SortFunc(branches, func(a, b *plumbing.Reference) int { return strings.Compare(a.Name().String(), b.Name().String()) })
	for _, pref := range []string{"main", "master"} {
		for _, b := range branches {
			if b.Name().Short() == pref {
				return resolved{refName: b.Name(), label: pref, hash: b.Hash(), commit: b.Hash()}, nil
			}
		}
	}
	if len(branches) > 0 {
		b := branches[0]
		return resolved{refName: b.Name(), label: b.Name().Short(), hash: b.Hash(), commit: b.Hash()}, nil
	}
	return resolved{}, errors.New("the remote's HEAD names no branch; name a branch")
}
