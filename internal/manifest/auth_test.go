package manifest

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestRouteKeys loads a bottle with every auth placement, a wildcard host,
// ports and a path match without a type, as a user would write them.
func TestRouteKeys(t *testing.T) {
	home := homeFrom(t, "testdata/routes")
	set := Load(home, "")
	if ps := set.Check(); len(ps) > 0 {
		t.Fatalf("problems:\n%v", ps)
	}
	routes := set.Bottles["auth"].Spec.Egress.Routes
	var got []string
	for _, r := range routes {
		if r.Auth != nil {
			got = append(got, r.Host+" "+r.Auth.Placement())
		}
	}
	want := []string{
		"api.anthropic.com header", "api.github.com scheme", "github.com basic_user",
		"maps.example.com query", "registry.npmjs.org placeholder",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("placements (-want +got):\n%s", diff)
	}
	forge := routes[len(routes)-1]
	if diff := cmp.Diff([]int{3000}, forge.Ports); diff != "" {
		t.Errorf("ports (-want +got):\n%s", diff)
	}
	if typ := forge.Matches[0].Paths[0].Type; typ != "" {
		t.Errorf("path type = %q, want it left empty (prefix)", typ)
	}
}

func TestAuthPlacementDefaults(t *testing.T) {
	for _, tt := range []struct {
		auth   Auth
		place  string
		scheme string
	}{
		{Auth{TokenRef: "T"}, PlaceScheme, "Bearer"},
		{Auth{TokenRef: "T", Scheme: "token"}, PlaceScheme, "token"},
		{Auth{TokenRef: "T", Placeholder: "T"}, PlacePlaceholder, "Bearer"},
		{Auth{TokenRef: "T", Placeholder: "T", Header: "x-api-key"}, PlaceHeader, "Bearer"},
	} {
		if got := tt.auth.Placement(); got != tt.place {
			t.Errorf("%+v: placement %q, want %q", tt.auth, got, tt.place)
		}
		if got := tt.auth.EffectiveScheme(); got != tt.scheme {
			t.Errorf("%+v: scheme %q, want %q", tt.auth, got, tt.scheme)
		}
	}
}

func TestWildcardHosts(t *testing.T) {
	for h, ok := range map[string]bool{
		"*.githubusercontent.com": true, "*.s3.amazonaws.com": true, "*.example.test": true,
		"*": false, "*.com": false, "*.*.a.com": false, "a.*.com": false, "*.A.com": false, "*a.com": false,
	} {
		if got := checkHost(h) == ""; got != ok {
			t.Errorf("checkHost(%q) ok = %v, want %v (%s)", h, got, ok, checkHost(h))
		}
	}
}
