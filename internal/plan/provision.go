package plan

import (
	"fmt"
	"maps"
	"reflect"
	"slices"

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
// bottle route with other auth of its own there is refused, saying how to
// write it.
func composeRoutes(template string, prov, own []manifest.Route) ([]manifest.Route, error) {
	out := slices.Clone(own)
	var add []manifest.Route
	for _, pr := range prov {
		narrowed := false
		for i := range out {
			if out[i].Host != pr.Host || pr.Auth == nil {
				continue
			}
			narrowed = true
			switch {
			case out[i].Auth == nil:
				out[i] = narrow(out[i], pr)
			case !reflect.DeepEqual(*out[i].Auth, *pr.Auth):
				return nil, fmt.Errorf("egress route for %s: the %s template already injects $%s there (agent_provider.auth_token); remove auth from this route, and its matches narrow the template's route", pr.Host, template, pr.Auth.TokenRef)
			}
		}
		if !narrowed && !slices.ContainsFunc(out, func(have manifest.Route) bool { return reflect.DeepEqual(have, pr) }) {
			add = append(add, pr)
		}
	}
	return append(add, out...), nil
}

// narrow is the bottle's route r with the provider route pr's auth, and
// pr's on-match action when r sets none.
func narrow(r, pr manifest.Route) manifest.Route {
	a := *pr.Auth
	r.Auth = &a
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
