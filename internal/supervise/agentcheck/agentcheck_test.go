package agentcheck

import (
	"strings"
	"testing"

	"github.com/bot-bottle/bot-bottle/internal/manifest"
)

func TestParseRoutesShapes(t *testing.T) {
	for _, in := range []string{
		"- host: a.example\n",
		"routes:\n  - host: a.example\n",
	} {
		rs, err := ParseRoutes(in)
		if err != nil || len(rs) != 1 || rs[0].Host != "a.example" {
			t.Errorf("ParseRoutes(%q) = %+v, %v", in, rs, err)
		}
	}
}

func TestParseRoutesRefuses(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"unknown key", "- host: a\n  hots: b\n", "hots"},
		{"unknown top key", "routez:\n  - host: a\n", "routez"},
		{"egress wrapper", "egress:\n  routes:\n    - host: a\n", "egress"},
		{"log key", "routes:\n  - host: a\n\nlog: 2\n", "only routes"},
		{"bad host", "- host: https://a.example/x\n", "URL"},
		{"wildcard", "- host: 'a.*.example.com'\n", "wildcard"},
		{"bad regex", "- host: a\n  matches: [{paths: [{type: regex, value: '('}]}]\n", "regular expression"},
		{"empty list", "[]", "no routes"},
		{"empty routes", "routes: []\n", "no routes"},
		{"null", "~", "no routes"},
		{"two docs", "- host: a\n---\n- host: b\n", "one YAML document"},
		{"too big", strings.Repeat("#", MaxRoutesBytes+1), "limit"},
		{"too many", strings.Repeat("- host: a\n", MaxRoutes+1), "limit"},
		{"bad detectors", "- host: a\n  dlp: {outbound_detectors: true}\n", "detector"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseRoutes(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseRoutes error = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestAgentSafe(t *testing.T) {
	det := func(names ...string) *manifest.Detectors { return &manifest.Detectors{Names: names} }
	off := &manifest.Detectors{Off: true}
	tests := []struct {
		name string
		r    manifest.Route
		ok   bool
	}{
		{"plain", manifest.Route{Host: "a"}, true},
		{"matches", manifest.Route{Host: "a", Matches: []manifest.Match{{Methods: []string{"GET"}}}}, true},
		{"auth", manifest.Route{Host: "a", Auth: &manifest.Auth{Scheme: "Bearer", TokenRef: "T"}}, false},
		{"private", manifest.Route{Host: "a", UnsafeAllowPrivate: true}, false},
		{"git", manifest.Route{Host: "a", Git: &manifest.GitAccess{Fetch: true}}, false},
		{"empty dlp", manifest.Route{Host: "a", DLP: &manifest.DLP{}}, true},
		{"outbound defaults", manifest.Route{Host: "a", DLP: &manifest.DLP{OutboundDetectors: det("known_secrets", "token_patterns")}}, true},
		{"outbound plus entropy", manifest.Route{Host: "a", DLP: &manifest.DLP{OutboundDetectors: det("token_patterns", "known_secrets", "entropy")}}, true},
		{"outbound off", manifest.Route{Host: "a", DLP: &manifest.DLP{OutboundDetectors: off}}, false},
		{"outbound fewer", manifest.Route{Host: "a", DLP: &manifest.DLP{OutboundDetectors: det("token_patterns")}}, false},
		{"outbound empty list", manifest.Route{Host: "a", DLP: &manifest.DLP{OutboundDetectors: det()}}, false},
		{"inbound default", manifest.Route{Host: "a", DLP: &manifest.DLP{InboundDetectors: det("naive_injection_detection")}}, true},
		{"inbound off", manifest.Route{Host: "a", DLP: &manifest.DLP{InboundDetectors: off}}, false},
		{"inbound empty", manifest.Route{Host: "a", DLP: &manifest.DLP{InboundDetectors: det()}}, false},
		{"on match supervise", manifest.Route{Host: "a", DLP: &manifest.DLP{OutboundOnMatch: "supervise"}}, true},
		{"on match block", manifest.Route{Host: "a", DLP: &manifest.DLP{OutboundOnMatch: "block"}}, true},
		{"on match redact", manifest.Route{Host: "a", DLP: &manifest.DLP{OutboundOnMatch: "redact"}}, false},
		{"on match other", manifest.Route{Host: "a", DLP: &manifest.DLP{OutboundOnMatch: "allow"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := AgentSafe(tt.r)
			if (err == nil) != tt.ok {
				t.Errorf("AgentSafe = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

func TestMarshalRoutesRoundTrips(t *testing.T) {
	in := "- host: a.example\n  dlp:\n    outbound_detectors: [token_patterns, known_secrets, entropy]\n    inbound_detectors: [naive_injection_detection]\n  matches:\n    - paths: [{type: regex, value: '^/v[0-9]+/'}]\n      headers: [{name: Accept, value: application/json}]\n"
	rs, err := AgentRoutes(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := MarshalRoutes(rs)
	if err != nil {
		t.Fatal(err)
	}
	back, err := AgentRoutes(out)
	if err != nil {
		t.Fatalf("re-parsing %q: %v", out, err)
	}
	out2, _ := MarshalRoutes(back)
	if out != out2 || !strings.HasPrefix(out, "routes:\n") {
		t.Errorf("not canonical:\n%s\n---\n%s", out, out2)
	}
}

func TestDockerfile(t *testing.T) {
	good := []string{
		"RUN apt-get install -y jq",
		"run echo lower case works",
		"RUN [\"/bin/sh\", \"-c\", \"echo exec form\"]",
		"RUN a \\\n  && b \\\n  # a comment inside\n  && c",
		"ENV A=1 B=\"two words\" C='x y'",
		"ENV LEGACY value with spaces",
		"ENV\tTAB=1",
		"\n\n# only a comment and\nRUN x\n\n",
		"RUN cat <<EOF > /dev/null",
	}
	for _, in := range good {
		if _, err := Dockerfile(in); err != nil {
			t.Errorf("Dockerfile(%q): %v", in, err)
		}
	}
	bad := map[string]string{
		"FROM alpine":                       "FROM",
		"from alpine":                       "FROM",
		"COPY a b":                          "COPY",
		"ADD a b":                           "ADD",
		"USER root":                         "USER",
		"ENTRYPOINT [\"sh\"]":               "ENTRYPOINT",
		"CMD sh":                            "CMD",
		"SHELL [\"/bin/bash\"]":             "SHELL",
		"LABEL bot-bottle.slug=x":           "LABEL",
		"ONBUILD RUN x":                     "ONBUILD",
		"ARG X=1":                           "ARG",
		"WORKDIR /":                         "WORKDIR",
		"RUN --network=host curl x":         "flags",
		"RUN <<EOF\necho hi\nEOF":           "heredoc",
		"RUN":                               "no command",
		"ENV":                               "no variable",
		"ENV https_proxy=http://x":          "https_proxy",
		"ENV A=1 NO_PROXY=*":                "NO_PROXY",
		"ENV \"HTTP_PROXY\"=x":              "HTTP_PROXY",
		"ENV NODE_EXTRA_CA_CERTS /x":        "NODE_EXTRA_CA_CERTS",
		"ENV 1A=x":                          "variable name",
		"ENV A=\"unterminated":              "quote",
		"ENV A=1 B":                         "NAME=value",
		"RUN a \\":                          "backslash",
		"RUN a \\\n\n":                      "backslash",
		"RUN a\x00":                         "control",
		"RUN a\x1b[2J":                      "control",
		"":                                  "no instructions",
		strings.Repeat("RUN x\n", 65):       "instructions",
		strings.Repeat("#", 17<<10):         "limit",
		"RUN ok\nRUN ok\nFROM x\nRUN after": "line 3",
	}
	for in, want := range bad {
		_, err := Dockerfile(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Dockerfile(%.40q) error = %v, want one mentioning %q", in, err, want)
		}
	}
}

func TestDockerfileCleansText(t *testing.T) {
	got, err := Dockerfile("\r\nRUN a  \r\nENV B=1\t\n\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := "RUN a\nENV B=1\n"; got != want {
		t.Errorf("Dockerfile = %q, want %q", got, want)
	}
}

func FuzzAgentRoutes(f *testing.F) {
	for _, s := range []string{
		"- host: a.example\n",
		"routes:\n  - host: a.example\n    matches:\n      - paths: [{type: prefix, value: /v1/}]\n        methods: [GET]\n",
		"egress:\n  routes:\n    - host: a\n      dlp: {outbound_detectors: false}\n",
		"- host: a\n  auth: {scheme: Bearer, token_ref: X}\n",
		"&a [*a, *a]",
		"- host: a\n---\n- host: b\n",
		"- {host: a, dlp: {inbound_detectors: [naive_injection_detection], outbound_on_match: block}}",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		rs, err := AgentRoutes(in)
		if err != nil {
			return
		}
		if len(rs) == 0 || len(rs) > MaxRoutes {
			t.Fatalf("accepted %d routes", len(rs))
		}
		for _, r := range rs {
			if r.Host == "" || AgentSafe(r) != nil {
				t.Fatalf("accepted an unsafe or hostless route %+v", r)
			}
		}
		// What is filed must parse back to the same routes.
		out, err := MarshalRoutes(rs)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		back, err := AgentRoutes(out)
		if err != nil {
			t.Fatalf("canonical form %q does not re-parse: %v", out, err)
		}
		out2, _ := MarshalRoutes(back)
		if out != out2 {
			t.Fatalf("canonical form unstable:\n%s\n---\n%s", out, out2)
		}
	})
}

func FuzzDockerfile(f *testing.F) {
	for _, s := range []string{"RUN a\n", "ENV A=1 B='2 3'\n", "RUN a \\\n b\n", "FROM x\n", "RUN --mount=x y", "# c\n\nRUN z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := Dockerfile(in)
		if err != nil {
			return
		}
		// Cleaning is idempotent, and what was accepted stays accepted.
		again, err := Dockerfile(out)
		if err != nil || again != out {
			t.Fatalf("cleaned text %q: %q, %v", out, again, err)
		}
		for _, l := range strings.Split(out, "\n") {
			w := strings.ToUpper(strings.Fields(l + " x")[0])
			if w == "FROM" || w == "COPY" || w == "ADD" || w == "USER" {
				t.Fatalf("accepted %q", l)
			}
		}
	})
}
