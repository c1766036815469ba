package plan

import (
	"maps"
	"reflect"
	"slices"

	"github.com/bot-bottle/bot-bottle/internal/manifest"
	agentprovider "github.com/bot-bottle/bot-bottle/internal/provider"
)

// ApplyProvision folds the provider's part into the plan: its routes (the
// provider API, first so a bottle route cannot shadow its DLP), its secret
// env names and its agent environment (the plan's proxy and CA settings
// win). start --dry-run prints the plan after this, so it shows what launch
// uses. Applying the same provision twice changes nothing: a route already
// in the plan is not added again.
func ApplyProvision(p *Bottle, prov agentprovider.Provision) {
	var add []manifest.Route
	for _, r := range prov.Routes {
		if !slices.ContainsFunc(p.Egress.Routes, func(have manifest.Route) bool { return reflect.DeepEqual(have, r) }) {
			add = append(add, r)
		}
	}
	if len(add) > 0 {
		p.Egress.Routes = append(add, p.Egress.Routes...)
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
}
