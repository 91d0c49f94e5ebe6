package source

import (
	"strings"

	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
)

// IgnoreFile is the name of the per-directory ignore files honoured in every
// source tree, as Flux's source-controller does.
const IgnoreFile = ".sourceignore"

// vcsIgnore is always excluded.
var vcsIgnore = []string{".git/", ".gitignore", ".gitmodules", ".gitattributes"}

// defaultIgnore is excluded unless the caller gives its own rules, matching
// Flux's default exclusions (images and archives, CI configuration).
var defaultIgnore = []string{
	"*.jpg", "*.jpeg", "*.gif", "*.png", "*.wmv", "*.flv", "*.tar.gz", "*.zip",
	".github/", ".circleci/", ".travis.yml", ".gitlab-ci.yml", "appveyor.yml", ".drone.yml",
	"cloudbuild.yaml", "codeship-services.yml", "codeship-steps.yml",
	"**/.goreleaser.yml", "**/.sops.yaml", "**/.flux.yaml",
}

// baseRules returns the rules for a tree: VCS files always, then either the
// caller's rules (gitignore syntax, one per line, as Flux's spec.ignore) or
// the defaults.
func baseRules(ignore string) []gitignore.Pattern {
	lines := append([]string(nil), vcsIgnore...)
	if strings.TrimSpace(ignore) != "" {
		lines = append(lines, strings.Split(ignore, "\n")...)
	} else {
		lines = append(lines, defaultIgnore...)
	}
	return parseRules(lines, nil)
}

// parseRules parses gitignore lines that apply below domain.
func parseRules(lines []string, domain []string) []gitignore.Pattern {
	var out []gitignore.Pattern
	for _, l := range lines {
		l = strings.TrimRight(l, "\r")
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			continue
		}
		out = append(out, gitignore.ParsePattern(l, domain))
	}
	return out
}
