package gitgate

import (
	"strings"
	"testing"
)

// FuzzRoute: the URL path comes from the agent. Only a declared name may
// come out, and only with the .git/ separator.
func FuzzRoute(f *testing.F) {
	for _, s := range []string{"/app.git/info/refs", "/app.git/git-receive-pack", "/../app.git/x", "/app.git", "/a.git/b.git/info/refs", "//app.git/", "/nope.git/info/refs"} {
		f.Add(s)
	}
	s := &Server{repos: map[string]*mirror{"app": {}, "b.git": {}}}
	f.Fuzz(func(t *testing.T, path string) {
		m, name, op := s.route(path)
		if m == nil {
			return
		}
		if name != "app" && name != "b.git" {
			t.Fatalf("route(%q) served undeclared %q", path, name)
		}
		if !strings.HasSuffix(path, name+".git/"+op) {
			t.Fatalf("route(%q) = %q, %q", path, name, op)
		}
	})
}

// FuzzParseUpdates: ref names in pre-receive input are the agent's.
func FuzzParseUpdates(f *testing.F) {
	z := zeroID
	a := strings.Repeat("a", 40)
	for _, s := range []string{z + " " + a + " refs/heads/main\n", a + " " + z + " refs/tags/v1\n", "x y z\n", a + " " + a + "\n", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		us, err := parseUpdates(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, u := range us {
			if !isObjectID(u.old) || !isObjectID(u.new) || !strings.HasPrefix(u.ref, "refs/") || strings.ContainsAny(u.ref, " \t\n") {
				t.Fatalf("parseUpdates(%q) accepted %+v", in, u)
			}
		}
	})
}

// FuzzParsePorcelain: the upstream's answer decides what the agent is told.
func FuzzParsePorcelain(f *testing.F) {
	f.Add("To ssh://h/r\n \tabc:refs/heads/main\t[new branch]\n!\tdef:refs/heads/x\t[remote rejected] (hook declined)\nDone\n")
	f.Add("*\t:refs/heads/a\t\n")
	f.Fuzz(func(t *testing.T, s string) {
		for ref, r := range parsePorcelain(s) {
			if r.ok && !strings.HasPrefix(r.status, "ok ") {
				t.Fatalf("ok result without ok status for %q: %+v", ref, r)
			}
		}
	})
}
