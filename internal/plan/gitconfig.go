package plan

import (
	"strings"

	"github.com/bot-bottle/bot-bottle/internal/manifest"
)

// GitConfig is the agent's git configuration: user.name and user.email when
// set, then for each repo one url.<gate>/<name>.git.insteadOf per spelling
// of its upstream (git matches insteadOf on the exact string). gateURL is
// where the agent reaches git-gate, such as DefaultGitGateURL. Repos with an
// unparsable URL are skipped (the loader refuses them).
func GitConfig(gateURL string, user manifest.GitUser, repos []Repo) []GitConfigEntry {
	var out []GitConfigEntry
	if user.Name != "" {
		out = append(out, GitConfigEntry{Key: "user.name", Value: user.Name})
	}
	if user.Email != "" {
		out = append(out, GitConfigEntry{Key: "user.email", Value: user.Email})
	}
	base := strings.TrimSuffix(gateURL, "/")
	for _, r := range repos {
		u, err := manifest.ParseSSHURL(r.URL)
		if err != nil {
			continue
		}
		key := "url." + base + "/" + r.Name + ".git.insteadOf"
		for _, form := range u.Forms() {
			out = append(out, GitConfigEntry{Key: key, Value: form})
		}
	}
	return out
}
