package manifest

import "maps"

// MergeBottles folds bottles left to right with the extends merge rules:
// env dict-merged, agent_provider scalars last-wins and settings
// dict-merged, git-gate.user per field, git-gate.repos union by name (a
// later repo of the same name replaces the earlier), egress.routes
// concatenated, egress.log last-wins, resources per key last-wins,
// capabilities.routes concatenated. Extends of the inputs is ignored and
// empty in the result. The inputs are not modified.
func MergeBottles(bs ...*BottleFile) *BottleFile {
	out := &BottleFile{}
	for _, b := range bs {
		if b != nil {
			mergeInto(out, b)
		}
	}
	return out
}

func mergeInto(dst, src *BottleFile) {
	if src.Runtime != "" {
		dst.Runtime = src.Runtime
	}
	if r := src.Resources; r != nil {
		if dst.Resources == nil {
			dst.Resources = &Resources{}
		}
		d := dst.Resources
		if r.Memory != "" {
			d.Memory = r.Memory
		}
		if r.CPUs != 0 {
			d.CPUs = r.CPUs
		}
		if r.Pids != 0 {
			d.Pids = r.Pids
		}
	}
	if c := src.Capabilities; c != nil {
		if dst.Capabilities == nil {
			dst.Capabilities = &Capabilities{Routes: []Route{}}
		}
		dst.Capabilities.Routes = append(dst.Capabilities.Routes, c.Routes...)
	}
	if len(src.Env) > 0 {
		if dst.Env == nil {
			dst.Env = map[string]string{}
		}
		maps.Copy(dst.Env, src.Env)
	}
	if s := src.AgentProvider; s != nil {
		if dst.AgentProvider == nil {
			dst.AgentProvider = &AgentProvider{}
		}
		d := dst.AgentProvider
		if s.Template != "" {
			d.Template = s.Template
		}
		if s.Dockerfile != "" {
			d.Dockerfile = s.Dockerfile
		}
		if s.AuthToken != "" {
			d.AuthToken = s.AuthToken
		}
		if s.AuthKind != "" {
			d.AuthKind = s.AuthKind
		}
		if s.ForwardHostCredentials {
			d.ForwardHostCredentials = true
		}
		if len(s.Settings) > 0 {
			if d.Settings == nil {
				d.Settings = map[string]any{}
			}
			maps.Copy(d.Settings, s.Settings)
		}
	}
	if s := src.GitGate; s != nil {
		if dst.GitGate == nil {
			dst.GitGate = &GitGate{}
		}
		d := dst.GitGate
		d.User = MergeUser(d.User, s.User)
		if len(s.Repos) > 0 {
			if d.Repos == nil {
				d.Repos = map[string]Repo{}
			}
			maps.Copy(d.Repos, s.Repos)
		}
	}
	if s := src.Egress; s != nil {
		if dst.Egress == nil {
			dst.Egress = &Egress{}
		}
		d := dst.Egress
		d.Routes = append(d.Routes, s.Routes...)
		if s.Log != nil {
			v := *s.Log
			d.Log = &v
		}
	}
}

// MergeUser merges a commit identity per field; over wins where it is set.
func MergeUser(base, over *GitUser) *GitUser {
	if base == nil && over == nil {
		return nil
	}
	var u GitUser
	if base != nil {
		u = *base
	}
	if over != nil {
		if over.Name != "" {
			u.Name = over.Name
		}
		if over.Email != "" {
			u.Email = over.Email
		}
	}
	return &u
}
