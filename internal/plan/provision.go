package plan

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/bot-bottle/bot-bottle/internal/manifest"
	agentprovider "github.com/bot-bottle/bot-bottle/internal/provider"
)

// ApplyProvision folds the provider's part into the plan: its routes (the
// provider API, first so a bottle route cannot shadow its DLP, or composed
// with a bottle route for the same host: composeRoutes), its secret env
// names and its agent environment (the plan's proxy and CA settings win).
// start --dry-run prints the plan after this, so it shows what launch
// uses, and egress check --bottle evaluates it. Applying the same
// provision twice changes nothing.
func ApplyProvision(p *Bottle, prov agentprovider.Provision) error {
	routes, err := composeRoutes(prov.Template, prov.Routes, p.Egress.Routes)
	if err != nil {
		return err
	}
	if !reflect.DeepEqual(routes, p.Egress.Routes) {
		p.Egress.Routes = routes
		p.Sidecar.Routes = p.Egress.Routes
	}
	secrets := slices.Clone(p.SidecarSecretEnv)
	for _, s := range prov.SidecarSecretEnv {
		if !slices.Contains(secrets, s) {
			secrets = append(secrets, s)
		}
	}
	slices.Sort(secrets)
	p.SidecarSecretEnv = secrets
	env := maps.Clone(prov.Env)
	if env == nil {
		env = map[string]string{}
	}
	maps.Copy(env, p.AgentEnv)
	p.AgentEnv = env
	return nil
}

// composeRoutes puts the provider's routes before the bottle's. A bottle
// route for a host a provider route is for narrows it instead of losing
// to it (first match wins, and the provider's route allows every
// request): the bottle route takes the provider's auth, and its on-match
// action unless it sets one, and the provider's route is left out. A
// bottle route with other auth of its own there, or one reaching past the
// provider route's own matches (which would carry the token further than
// the template does), is refused, saying how to write it.
func composeRoutes(template string, prov, own []manifest.Route) ([]manifest.Route, error) {
	out := slices.Clone(own)
	var add []manifest.Route
	for _, pr := range prov {
		narrowed := false
		for i := range out {
			if out[i].Host != pr.Host {
				continue
			}
			narrowed = true
			if err := canNarrow(template, out[i], pr); err != nil {
				return nil, err
			}
			out[i] = narrow(out[i], pr)
		}
		if !narrowed && !slices.ContainsFunc(out, func(have manifest.Route) bool { return reflect.DeepEqual(have, pr) }) {
			add = append(add, pr)
		}
	}
	return append(add, out...), nil
}

// canNarrow says why the bottle route r cannot narrow the provider route
// pr, or nil.
func canNarrow(template string, r, pr manifest.Route) error {
	if reflect.DeepEqual(r, pr) {
		return nil // applied before
	}
	if r.Auth != nil && pr.Auth != nil && !reflect.DeepEqual(*r.Auth, *pr.Auth) {
		return fmt.Errorf("egress route for %s: the %s template already injects $%s there (agent_provider.auth_token); remove auth from this route, and its matches narrow the template's route", pr.Host, template, pr.Auth.TokenRef)
	}
	if len(pr.Matches) == 0 || within(r.Matches, pr.Matches) {
		return nil
	}
	return fmt.Errorf("egress route for %s: the %s template's route there allows only %s; this route's matches reach past that, and it would carry the template's token with them: give every match paths under those (prefix or exact), or drop this route", pr.Host, template, describeMatches(pr.Matches))
}

// within reports whether every request some match in ms allows is also
// allowed by a match in outer. It answers only what it can prove from
// prefix and exact paths, methods and headers; anything else (a regex
// path, a match with no paths) is not within.
func within(ms, outer []manifest.Match) bool {
	if len(ms) == 0 {
		return false
	}
	for _, m := range ms {
		if !slices.ContainsFunc(outer, func(o manifest.Match) bool { return matchWithin(m, o) }) {
			return false
		}
	}
	return true
}

func matchWithin(m, o manifest.Match) bool {
	if len(o.Methods) > 0 && (len(m.Methods) == 0 || !subset(m.Methods, o.Methods)) {
		return false
	}
	for _, h := range o.Headers {
		if !slices.Contains(m.Headers, h) {
			return false
		}
	}
	if len(o.Paths) == 0 {
		return true
	}
	if len(m.Paths) == 0 {
		return false
	}
	for _, p := range m.Paths {
		if !slices.ContainsFunc(o.Paths, func(q manifest.PathMatch) bool { return pathWithin(p, q) }) {
			return false
		}
	}
	return true
}

// pathWithin: every path p matches, q matches too.
func pathWithin(p, q manifest.PathMatch) bool {
	isPrefix := func(t string) bool { return t == "" || t == "prefix" }
	switch {
	case isPrefix(q.Type):
		return (isPrefix(p.Type) || p.Type == "exact") && strings.HasPrefix(p.Value, q.Value)
	case q.Type == "exact":
		return p.Type == "exact" && p.Value == q.Value
	}
	return false
}

func subset(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

// describeMatches is ms as a person reads it: "/backend-api/ (prefix)".
func describeMatches(ms []manifest.Match) string {
	var parts []string
	for _, m := range ms {
		var s []string
		if len(m.Methods) > 0 {
			s = append(s, strings.Join(m.Methods, "|"))
		}
		for _, p := range m.Paths {
			t := p.Type
			if t == "" {
				t = "prefix"
			}
			s = append(s, p.Value+" ("+t+")")
		}
		for _, h := range m.Headers {
			s = append(s, "header "+h.Name)
		}
		parts = append(parts, strings.Join(s, " "))
	}
	return strings.Join(parts, "; ")
}

// narrow is the bottle's route r with the provider route pr's auth, and
// pr's on-match action when r sets none.
func narrow(r, pr manifest.Route) manifest.Route {
	if pr.Auth != nil {
		a := *pr.Auth
		r.Auth = &a
	}
	switch {
	case pr.DLP == nil:
	case r.DLP == nil:
		d := *pr.DLP
		r.DLP = &d
	case r.DLP.OutboundOnMatch == "":
		d := *r.DLP
		d.OutboundOnMatch = pr.DLP.OutboundOnMatch
		r.DLP = &d
	}
	return r
}
