package manifest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestValidateRoute(t *testing.T) {
	ok := []Route{
		{Host: "api.github.com"},
		{Host: "10.0.0.1", UnsafeAllowPrivate: true},
		{Host: "::1"},
		{Host: "api.github.com", Auth: &Auth{Scheme: "token", TokenRef: "GH_TOKEN"}},
		{Host: "x.org", Matches: []Match{{Headers: []HeaderMatch{{Name: "Accept", Value: "a.*", Type: "regex"}}}}},
		{Host: "x.org", DLP: &DLP{OutboundDetectors: &Detectors{Off: true}, InboundDetectors: &Detectors{Names: []string{"naive_injection_detection"}}, OutboundOnMatch: "redact"}},
	}
	for _, r := range ok {
		if err := ValidateRoute(r); err != nil {
			t.Errorf("ValidateRoute(%+v) = %v, want nil", r, err)
		}
	}
	bad := []struct {
		name  string
		route Route
		want  string
	}{
		{"role", Route{Host: "a.com", Role: "admin"}, `role: "role" is reserved and takes no value: delete it; a route's access is set by matches and auth`},
		{"no host", Route{}, "host: missing: give the host name, such as api.github.com"},
		{"scheme", Route{Host: "a.com", Auth: &Auth{Scheme: "Basic", TokenRef: "X"}}, `auth.scheme: "Basic" is not a scheme; for HTTP Basic write basic_user: USER instead of scheme`},
		{"token value", Route{Host: "a.com", Auth: &Auth{Scheme: "Bearer", TokenRef: "ghp_secretvalue"}}, "auth.token_ref: not an env var name (upper case letters, digits and _); give the name of the variable that holds the token, such as GITHUB_TOKEN, never the token itself"},
		{"regex", Route{Host: "a.com", Matches: []Match{{Paths: []PathMatch{{Type: "regex", Value: "("}}}}}, "matches[0].paths[0].value: invalid regular expression: error parsing regexp: missing closing ): `(`"},
		{"header regex", Route{Host: "a.com", Matches: []Match{{Headers: []HeaderMatch{{Name: "A", Value: "[", Type: "regex"}}}}}, "matches[0].headers[0].value: invalid regular expression: error parsing regexp: missing closing ]: `[`"},
		{"detector", Route{Host: "a.com", DLP: &DLP{InboundDetectors: &Detectors{Names: []string{"entropy"}}}}, `dlp.inbound_detectors[0]: unknown detector "entropy"; use naive_injection_detection`},
		{"two", Route{Host: "A.com", DLP: &DLP{OutboundOnMatch: "log"}}, "host: \"A.com\": write host names in lower case\ndlp.outbound_on_match: \"log\" is not an action; use supervise, redact or block"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateRoute(tt.route)
			if err == nil || err.Error() != tt.want {
				t.Errorf("err = %v\nwant  %s", err, tt.want)
			}
		})
	}
	// The secret never appears in the message.
	err := ValidateRoute(Route{Host: "a.com", Auth: &Auth{Scheme: "Bearer", TokenRef: "ghp_secretvalue"}})
	if strings.Contains(err.Error(), "ghp_secretvalue") {
		t.Errorf("message echoes the token: %v", err)
	}
}

func TestParseRoutes(t *testing.T) {
	list := "- host: api.github.com\n  matches:\n    - methods: [GET]\n"
	mapping := "routes:\n  - host: api.github.com\n    matches:\n      - methods: [GET]\n"
	want := []Route{{Host: "api.github.com", Matches: []Match{{Methods: []string{"GET"}}}}}
	for _, in := range []string{list, mapping} {
		got, err := ParseRoutes("proposal", []byte(in))
		if err != nil {
			t.Fatalf("ParseRoutes(%q): %v", in, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	}
	bad := []struct{ in, want string }{
		{"- host: a.com\n  role: writer\n", `proposal:2: [0].role: "role" is reserved and takes no value: delete it; a route's access is set by matches and auth`},
		{"routes:\n  - host: a.com\n    rolle: x\n", `proposal:3: routes[0]: unknown key "rolle" in egress route; allowed keys: auth, dlp, git, grant, host, matches, ports, unsafe_allow_private, websocket, websocket_max_message`},
		{"", "proposal: no routes given"},
		{"- host: a.com\n---\n- host: b.com\n", "proposal:2: more than one YAML document; keep one"},
		{"log: 2\nroutes:\n  - host: a.com\n", `proposal:1: unknown key "log": a route proposal holds only routes`},
		{"routes: []\n", "proposal: no routes given"},
		{"- host: [a]\n", "proposal:1: [0].host: expected a string, got a list"},
		{"- host: a.com\n  auth: {scheme: Bearer, token_ref: T}\n  bogus: 1\n", `proposal:3: [0]: unknown key "bogus" in egress route; allowed keys: auth, dlp, git, grant, host, matches, ports, unsafe_allow_private, websocket, websocket_max_message`},
	}
	for _, tt := range bad {
		_, err := ParseRoutes("proposal", []byte(tt.in))
		if err == nil || err.Error() != tt.want {
			t.Errorf("ParseRoutes(%q)\n err = %v\nwant   %s", tt.in, err, tt.want)
		}
	}
}

func TestSSHURLForms(t *testing.T) {
	tests := []struct {
		in    string
		forms []string
		known string
	}{
		{"git@github.com:org/app.git", []string{"git@github.com:org/app.git", "ssh://git@github.com/org/app.git", "git@github.com:org/app", "ssh://git@github.com/org/app"}, "github.com"},
		{"ssh://git@github.com/org/app", []string{"git@github.com:org/app.git", "ssh://git@github.com/org/app.git", "git@github.com:org/app", "ssh://git@github.com/org/app"}, "github.com"},
		{"ssh://git@github.com:22/org/app.git", []string{"git@github.com:org/app.git", "ssh://git@github.com/org/app.git", "git@github.com:org/app", "ssh://git@github.com/org/app"}, "github.com"},
		{"ssh://git@host.example:2222/team/tools", []string{"ssh://git@host.example:2222/team/tools.git", "ssh://git@host.example:2222/team/tools"}, "[host.example]:2222"},
		{"ssh://git@[::1]:2222/r.git", []string{"ssh://git@[::1]:2222/r.git", "ssh://git@[::1]:2222/r"}, "[::1]:2222"},
		{"host:org/a@b", []string{"host:org/a@b.git", "ssh://host/org/a@b.git", "host:org/a@b", "ssh://host/org/a@b"}, "host"},
		{"host:repo", []string{"host:repo.git", "ssh://host/repo.git", "host:repo", "ssh://host/repo"}, "host"},
		{"root@h:/repos/x.git", []string{"root@h:/repos/x.git", "ssh://root@h/repos/x.git", "root@h:/repos/x", "ssh://root@h/repos/x"}, "h"},
		{"h:/srv/git/app", []string{"h:/srv/git/app.git", "ssh://h/srv/git/app.git", "h:/srv/git/app", "ssh://h/srv/git/app"}, "h"},
		{"git@10.0.0.5:/r.git", []string{"git@10.0.0.5:/r.git", "ssh://git@10.0.0.5/r.git", "git@10.0.0.5:/r", "ssh://git@10.0.0.5/r"}, "10.0.0.5"},
	}
	for _, tt := range tests {
		u, err := ParseSSHURL(tt.in)
		if err != nil {
			t.Fatalf("ParseSSHURL(%q): %v", tt.in, err)
		}
		if diff := cmp.Diff(tt.forms, u.Forms()); diff != "" {
			t.Errorf("Forms(%q) (-want +got):\n%s", tt.in, diff)
		}
		if got := u.KnownHostsName(); got != tt.known {
			t.Errorf("KnownHostsName(%q) = %q, want %q", tt.in, got, tt.known)
		}
	}
	for _, bad := range []string{"https://github.com/org/app", "github.com", "ssh://host", "ssh://host:99999/x", "git@:x", "a b:c", "ssh://[::1/x", "host:.git", "/:0", "ssh://@h/x", "@h:x", "a/b:c", "ssh://h_x/r", "h:/", "h:/.git"} {
		if _, err := ParseSSHURL(bad); err == nil {
			t.Errorf("ParseSSHURL(%q) accepted", bad)
		}
	}
}

func TestMergeBottles(t *testing.T) {
	one, two := 1, 2
	a := &BottleFile{
		Env:           map[string]string{"A": "1", "B": "1"},
		AgentProvider: &AgentProvider{Template: "claude", AuthToken: "K1", Settings: map[string]any{"x": 1, "y": 1}},
		GitGate:       &GitGate{User: &GitUser{Name: "A", Email: "a@x"}, Repos: map[string]Repo{"r": {URL: "a:r"}, "s": {URL: "a:s"}}},
		Egress:        &Egress{Routes: []Route{{Host: "a.com"}}, Log: &one},
	}
	b := &BottleFile{
		Extends:       StringList{"ignored"},
		Env:           map[string]string{"B": "2"},
		AgentProvider: &AgentProvider{AuthToken: "K2", Settings: map[string]any{"y": 2}},
		GitGate:       &GitGate{User: &GitUser{Email: "b@x"}, Repos: map[string]Repo{"s": {URL: "b:s"}}},
		Egress:        &Egress{Routes: []Route{{Host: "b.com"}}, Log: &two},
	}
	got := MergeBottles(a, b)
	want := &BottleFile{
		Env:           map[string]string{"A": "1", "B": "2"},
		AgentProvider: &AgentProvider{Template: "claude", AuthToken: "K2", Settings: map[string]any{"x": 1, "y": 2}},
		GitGate:       &GitGate{User: &GitUser{Name: "A", Email: "b@x"}, Repos: map[string]Repo{"r": {URL: "a:r"}, "s": {URL: "b:s"}}},
		Egress:        &Egress{Routes: []Route{{Host: "a.com"}, {Host: "b.com"}}, Log: &two},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if a.Env["B"] != "1" || len(a.Egress.Routes) != 1 || *a.Egress.Log != 1 {
		t.Error("MergeBottles modified its input")
	}
}

func TestLoadEgressFile(t *testing.T) {
	dir := t.TempDir()
	log := 2
	e := &Egress{Log: &log, Routes: []Route{
		{Host: "api.github.com", Auth: &Auth{Scheme: "Bearer", TokenRef: "GH"}, DLP: &DLP{OutboundDetectors: &Detectors{Off: true}}},
		{Host: "x.org", Matches: []Match{{Paths: []PathMatch{{Type: "exact", Value: "/a"}}}}},
	}}
	data, err := MarshalPolicy(e)
	if err != nil {
		t.Fatal(err)
	}
	policy := filepath.Join(dir, "policy.yaml")
	write(t, policy, string(data))
	got, err := LoadEgressFile(policy)
	if err != nil {
		t.Fatalf("reading back the policy the host writes: %v\n%s", err, data)
	}
	if diff := cmp.Diff(e, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}

	// A bottle manifest, with extends followed among its neighbours.
	write(t, filepath.Join(dir, "base.md"), "---\negress:\n  routes:\n    - host: base.org\n---\n")
	write(t, filepath.Join(dir, "child.md"), "---\nextends: base\negress:\n  routes:\n    - host: child.org\n---\nbody\n")
	got, err = LoadEgressFile(filepath.Join(dir, "child.md"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Routes) != 2 || got.Routes[0].Host != "base.org" || got.Routes[1].Host != "child.org" {
		t.Errorf("routes = %+v, want base.org then child.org", got.Routes)
	}

	bad := filepath.Join(dir, "bad.yaml")
	write(t, bad, "egress:\n  routes:\n    - host: a.com\n      methods: [GET]\n")
	_, err = LoadEgressFile(bad)
	if want := bad + `:4: egress.routes[0]: unknown key "methods" in egress route; allowed keys: auth, dlp, git, grant, host, matches, ports, unsafe_allow_private, websocket, websocket_max_message`; err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant  %s", err, want)
	}
	empty := filepath.Join(dir, "empty.yaml")
	write(t, empty, "")
	if got, err := LoadEgressFile(empty); err != nil || len(got.Routes) != 0 {
		t.Errorf("empty file: %+v, %v; want no routes", got, err)
	}
	if _, err := LoadEgressFile(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Error("a missing file loaded")
	}
}

func TestLoadGitGateFile(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "id"), "key")
	cfg := filepath.Join(dir, "gate.yaml")
	write(t, cfg, `git-gate:
  repos:
    app:
      url: ssh://git@127.0.0.1:2222/srv/app.git
      host_key: "[127.0.0.1]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
      key: {provider: static, path: id}
`)
	g, err := LoadGitGateFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := g.Repos["app"].Key.Path; got != filepath.Join(dir, "id") {
		t.Errorf("key path = %q, want it made absolute", got)
	}
	os.Remove(filepath.Join(dir, "id"))
	_, err = LoadGitGateFile(cfg)
	if err == nil || !strings.Contains(err.Error(), "gate.yaml:6: git-gate.repos.app.key.path: key file") {
		t.Errorf("missing key: err = %v", err)
	}
}

func TestSuggest(t *testing.T) {
	keys := []string{"auth", "dlp", "git", "host", "matches", "unsafe_allow_private"}
	for in, want := range map[string]string{
		"hots": "host", "Host": "host", "match": "matches", "unsafe_allow_privat": "unsafe_allow_private",
		"xyz": "", "authentication": "", "dpl": "dlp",
	} {
		if got := suggest(in, keys); got != want {
			t.Errorf("suggest(%q) = %q, want %q", in, got, want)
		}
	}
}
