package policy

import (
	"strings"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/manifest"
)

func grantPolicy(t *testing.T, grant string) *Policy {
	t.Helper()
	return mustPolicy(t, `egress:
  routes:
    - host: api.example.com
      matches: [{methods: [GET], paths: [{type: prefix, value: /v1/}]}]
      grant: `+grant+`
`)
}

func getV1(p *Policy) Decision {
	return p.Decide(Request{Method: "GET", Scheme: "https", Host: "api.example.com", Port: 443, Path: "/v1/x"})
}

// A --ttl grant allows until its expiry, then refuses naming the grant,
// with no reload in between.
func TestGrantExpires(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p := grantPolicy(t, `{id: g-ttl-test, expires: "2026-01-02T03:04:08Z"}`)
	p.Now = func() time.Time { return now }
	if d := getV1(p); !d.Allow || !strings.Contains(d.Reason, "grant g-ttl-test") {
		t.Fatalf("before expiry: %+v", d)
	}
	now = now.Add(3 * time.Second)
	d := getV1(p)
	if d.Allow || d.Code != CodeGrantSpent || !strings.Contains(d.Reason, "grant g-ttl-test expired at 2026-01-02T03:04:08Z") {
		t.Fatalf("after expiry: %+v", d)
	}
	if tb := p.Table(); tb[0].Grant == nil || tb[0].Grant.Expires != "2026-01-02T03:04:08Z" {
		t.Fatalf("allowlist does not show the expiry: %+v", tb[0].Grant)
	}
}

// A --uses 2 grant allows exactly two requests, also across a reload.
func TestGrantUses(t *testing.T) {
	p := grantPolicy(t, `{id: g-uses-test, uses: 2}`)
	for i := 0; i < 2; i++ {
		if d := getV1(p); !d.Allow {
			t.Fatalf("use %d refused: %+v", i+1, d)
		}
	}
	d := getV1(p)
	if d.Allow || !strings.Contains(d.Reason, "grant g-uses-test has used all its 2 uses") {
		t.Fatalf("third use: %+v", d)
	}
	reloaded := grantPolicy(t, `{id: g-uses-test, uses: 2}`)
	if d := getV1(reloaded); d.Allow {
		t.Fatalf("a reload gave the spent grant its uses back: %+v", d)
	}
	if v := reloaded.Table()[0].Grant; v.Used != 2 || v.Uses != 2 {
		t.Fatalf("allowlist: %+v", v)
	}
}

// What the grant's route does not match is refused as before.
func TestGrantNarrowed(t *testing.T) {
	p := grantPolicy(t, `{id: g-narrow-test, uses: 5}`)
	d := p.Decide(Request{Method: "POST", Scheme: "https", Host: "api.example.com", Port: 443, Path: "/v1/x"})
	if d.Allow || d.Code != CodeNoMatch {
		t.Fatalf("POST: %+v", d)
	}
}

func BenchmarkDecideGrant(b *testing.B) {
	p := mustPolicy(b, `egress:
  routes:
    - host: api.example.com
      grant: {id: g-bench, expires: "2999-01-01T00:00:00Z"}
`)
	req := Request{Method: "GET", Scheme: "https", Host: "api.example.com", Port: 443, Path: "/v1/x"}
	for i := 0; i < b.N; i++ {
		p.Decide(req)
	}
}

// A new run keeps a ttl grant with time left, drops an expired one and a
// session one.
func TestCarriedGrants(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	routes := []manifest.Route{
		{Host: "kept.test"},
		{Host: "ttl.test", Grant: &manifest.Grant{ID: "g-1", Expires: "2026-01-02T04:00:00Z"}},
		{Host: "expired.test", Grant: &manifest.Grant{ID: "g-2", Expires: "2026-01-02T02:00:00Z"}},
		{Host: "session.test", Grant: &manifest.Grant{ID: "g-3", Session: true}},
		{Host: "spent.test", Grant: &manifest.Grant{ID: "g-4", Uses: 2, Used: 2}},
	}
	var hosts []string
	for _, r := range CarriedGrants(routes, now) {
		hosts = append(hosts, r.Host)
	}
	if strings.Join(hosts, ",") != "kept.test,ttl.test" {
		t.Fatalf("carried %v", hosts)
	}
}

const grantLog = `{"decision":"allow","reason":"route a.test allows GET /x under grant g-aaaa"}
{"decision":"allow","reason":"route a.test allows GET /x under grant g-bbbb under grant g-aaaa"}
{"decision":"refuse","reason":"grant g-aaaa has used all its 2 uses"}
{"decision":"allow","reason":"route b.test allows GET /y under grant g-bbbb"}
not json under grant g-bbbb
`

// A new run counts what the log says each grant spent; a path that names
// another grant counts against the grant that allowed it, not the named one.
func TestCountGrantUses(t *testing.T) {
	n, err := CountGrantUses(strings.NewReader(grantLog))
	if err != nil || n["g-aaaa"] != 2 || n["g-bbbb"] != 1 {
		t.Fatalf("counts %v %v", n, err)
	}
	routes := SpendLogged([]manifest.Route{
		{Host: "a.test", Grant: &manifest.Grant{ID: "g-aaaa", Uses: 2}},
		{Host: "b.test", Grant: &manifest.Grant{ID: "g-bbbb", Uses: 3}},
	}, n)
	kept := CarriedGrants(routes, time.Now())
	if len(kept) != 1 || kept[0].Host != "b.test" || kept[0].Grant.Used != 1 {
		t.Fatalf("kept %+v", kept)
	}
	p, err := Compile(&manifest.Egress{Routes: kept})
	if err != nil {
		t.Fatal(err)
	}
	allowed := 0
	for range 5 {
		if p.Decide(Request{Method: "GET", Scheme: "https", Host: "b.test", Port: 443, Path: "/y"}).Allow {
			allowed++
		}
	}
	if allowed != 2 {
		t.Errorf("resumed grant allowed %d of its 2 remaining uses", allowed)
	}
}

func FuzzCountGrantUses(f *testing.F) {
	f.Add(grantLog)
	f.Fuzz(func(t *testing.T, log string) {
		n, _ := CountGrantUses(strings.NewReader(log))
		total := 0
		for _, c := range n {
			total += c
		}
		if lines := strings.Count(log, "\n") + 1; total > lines {
			t.Fatalf("%d uses counted in %d lines", total, lines)
		}
	})
}

func BenchmarkDecideNoGrant(b *testing.B) {
	p := mustPolicy(b, `egress:
  routes:
    - host: api.example.com
`)
	req := Request{Method: "GET", Scheme: "https", Host: "api.example.com", Port: 443, Path: "/v1/x"}
	for i := 0; i < b.N; i++ {
		p.Decide(req)
	}
}
