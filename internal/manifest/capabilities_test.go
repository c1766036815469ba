package manifest

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestCapabilitiesKey: a build may reach Debian's mirrors when no bottle
// along extends has a capabilities key; the key's routes replace that
// default and concatenate along extends; `routes: []` allows nothing more;
// a capability route is checked like an egress route and may not carry a
// token.
func TestCapabilitiesKey(t *testing.T) {
	home := writeBottles(t, map[string]string{
		"bottles/plain.md": "---\negress: {routes: [{host: api.github.com}]}\n---\n",
		"bottles/base.md":  "---\ncapabilities: {routes: [{host: proxy.golang.org}]}\n---\n",
		"bottles/child.md": "---\nextends: base\ncapabilities:\n  routes:\n    - host: deb.debian.org\n      ports: [80]\n---\n",
		"bottles/none.md":  "---\ncapabilities: {routes: []}\n---\n",
		"bottles/bad.md":   "---\ncapabilities:\n  routes:\n    - host: https://x.example/\n    - host: pypi.org\n      auth: {token_ref: PYPI_TOKEN}\n---\n",
		"bottles/typo.md":  "---\ncapabilities: {route: []}\n---\n",
		"agents/a.md":      "---\nbottle: plain\n---\n",
		"agents/b.md":      "---\nbottle: child\n---\n",
		"agents/c.md":      "---\nbottle: none\n---\n",
		"agents/d.md":      "---\nbottle: bad\n---\n",
		"agents/e.md":      "---\nbottle: typo\n---\n",
	})
	set := Load(home, home)
	hosts := func(agent string) []string {
		res, err := set.Resolve(agent, nil)
		if err != nil {
			t.Fatal(err)
		}
		specs := []*BottleFile{}
		for _, b := range res.Bottles {
			specs = append(specs, b.Spec)
		}
		out := []string{}
		for _, r := range CapabilityRoutes(MergeBottles(specs...)) {
			out = append(out, r.Host)
		}
		return out
	}
	for agent, want := range map[string][]string{
		"a": {"deb.debian.org", "security.debian.org"},
		"b": {"proxy.golang.org", "deb.debian.org"},
		"c": {},
	} {
		if diff := cmp.Diff(want, hosts(agent)); diff != "" {
			t.Errorf("agent %s: capability routes (-want +got):\n%s", agent, diff)
		}
	}
	for agent, wants := range map[string][]string{
		"d": {"capabilities.routes[0].host", "is a URL", "capabilities.routes[1].auth", "gets no token"},
		"e": {`unknown key "route"`},
	} {
		_, err := set.Resolve(agent, nil)
		for _, w := range wants {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("agent %s: error lacks %q: %v", agent, w, err)
			}
		}
	}
}
