package manifest

import (
	"strings"
	"testing"
)

// TestResourcesKey: resources are validated at load, every bad key named
// at once; per key, the child wins over its parent.
func TestResourcesKey(t *testing.T) {
	home := writeBottles(t, map[string]string{
		"bottles/base.md":  "---\nresources: {memory: 2g, pids: 256}\n---\n",
		"bottles/child.md": "---\nextends: base\nresources: {cpus: 1.5}\n---\n",
		"bottles/bad.md":   "---\nresources: {memory: lots, cpus: -1, pids: 3}\n---\n",
		"bottles/tiny.md":  "---\nresources: {memory: 1m}\n---\n",
		"bottles/typo.md":  "---\nresources: {mem: 1g}\n---\n",
		"agents/a.md":      "---\nbottle: child\n---\n",
		"agents/b.md":      "---\nbottle: bad\n---\n",
		"agents/c.md":      "---\nbottle: tiny\n---\n",
		"agents/d.md":      "---\nbottle: typo\n---\n",
	})
	set := Load(home, home)
	res, err := set.Resolve("a", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := MergeBottles(res.Bottles[0].Spec).Resources; got == nil || *got != (Resources{Memory: "2g", CPUs: 1.5, Pids: 256}) {
		t.Errorf("merged resources %+v, want memory 2g from the parent, cpus 1.5 from the child, pids 256", got)
	}
	for agent, wants := range map[string][]string{
		"b": {"resources.memory", `"lots" is not a memory size`, "resources.cpus", "resources.pids", "3 is not between 16"},
		"c": {"resources.memory", "below 64m"},
		"d": {`unknown key "mem"`},
	} {
		_, err := set.Resolve(agent, nil)
		for _, w := range wants {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("agent %s: error lacks %q: %v", agent, w, err)
			}
		}
	}
}

func TestParseMemory(t *testing.T) {
	for in, want := range map[string]int64{"1073741824": 1 << 30, "512m": 512 << 20, "8G": 8 << 30, "4GiB": 4 << 30, "64mb": 64 << 20, "100k": 100 << 10} {
		if got, err := ParseMemory(in); err != nil || got != want {
			t.Errorf("ParseMemory(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "g", "-1g", "1.5g", "1t", "99999999999999999999", "9223372036854775807g"} {
		if _, err := ParseMemory(in); err == nil {
			t.Errorf("ParseMemory(%q) accepted", in)
		}
	}
}

func FuzzParseMemory(f *testing.F) {
	for _, s := range []string{"512m", "4GiB", "1", "9223372036854775807g", "kb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if v, err := ParseMemory(s); err == nil && v <= 0 {
			t.Errorf("ParseMemory(%q) = %d, accepted a size that is not positive", s, v)
		}
	})
}
