// Package secretshape knows what a credential looks like in text, so that
// every log line (the daemons' own and the log viewer's) is redacted the
// same way.
package secretshape

import (
	"regexp"
	"slices"
	"strings"
)

// secretPattern finds credential-shaped text in any value: an
// Authorization-style scheme and its credential, and token formats whose
// prefixes make them unambiguous.
var secretPattern = regexp.MustCompile(`(?i)\b(?:bearer|basic|digest)\s+[a-z0-9._~+/=-]{8,}` +
	`|\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_-]{20,}` +
	`|sk-ant-[A-Za-z0-9_-]{20,}|sk-(?:proj-)?[A-Za-z0-9_-]{32,}|xox[abprs]-[A-Za-z0-9-]{10,}` +
	`|AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{35}|npm_[A-Za-z0-9]{36}|hf_[A-Za-z0-9]{30,}|pypi-[A-Za-z0-9_-]{50,}` +
	`|[sr]k_(?:live|test)_[A-Za-z0-9]{16,})` +
	`|-----BEGIN [A-Z ]*PRIVATE KEY-----`)

// secretKeywords are what secretPattern cannot match without (lower
// case): a string holding none of them skips the regular expression, which
// is most of the cost of reading a log.
func secretKeywords() []string {
	return []string{"bearer", "basic", "digest", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-", "sk-", "xox", "akia", "aiza", "-----begin", "npm_", "hf_", "pypi-", "k_live_", "k_test_"}
}

// Redact replaces credential-shaped text in s with masked.
func Redact(s, masked string) string {
	if len(s) < 8 {
		return s
	}
	lower := strings.ToLower(s)
	if !slices.ContainsFunc(secretKeywords(), func(k string) bool { return strings.Contains(lower, k) }) {
		return s
	}
	return secretPattern.ReplaceAllStringFunc(s, func(m string) string {
		if strings.HasPrefix(m, "-----") {
			return masked
		}
		if i := strings.IndexAny(m, " \t"); i > 0 {
			// "Basic authentication" is prose: a credential has a digit or
			// a symbol.
			if !strings.ContainsAny(m[i:], "0123456789._~+/=-") {
				return m
			}
			return m[:i] + " " + masked
		}
		return masked
	})
}
