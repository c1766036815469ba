package inspect

import (
	"testing"

	"github.com/bot-bottle/bot-bottle/internal/supervise/apply"
)

// FuzzDraft: whatever method and path the agent's request carried, the
// draft never names another host or method than the request's.
func FuzzDraft(f *testing.F) {
	f.Add("GET", "/v1/items/42", 443)
	f.Add("POST", "/", 8443)
	f.Add("get", "/a/../b\n- host: evil.test", 80)
	f.Fuzz(func(t *testing.T, method, p string, port int) {
		e := Event{Method: method, Scheme: "https", Host: "api.example.test", Port: port, Path: p}
		routes, err := apply.ParseRoutes(Draft(e))
		if err != nil {
			return // File refuses it: nothing is filed
		}
		if len(routes) != 1 || routes[0].Host != "api.example.test" {
			t.Fatalf("draft names %+v", routes)
		}
		for _, m := range routes[0].Matches {
			if len(m.Methods) != 1 || m.Methods[0] != method {
				t.Fatalf("draft methods %v for %q", m.Methods, method)
			}
		}
	})
}
