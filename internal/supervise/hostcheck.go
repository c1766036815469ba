package supervise

import (
	"errors"
	"fmt"

	"github.com/bot-bottle/bot-bottle/internal/dlp"
	"github.com/bot-bottle/bot-bottle/internal/manifest"
)

// checkHosts refuses a proposal whose host names carry a held secret or a
// token pattern (as sent or decoded): filing it would show the secret to
// the operator and, once approved, send it in DNS queries. A name that
// only looks encoded is filed; the operator's screen warns about it
// (agentcheck.HostWarnings).
func (s *Server) checkHosts(hosts ...string) error {
	hc, err := dlp.NewHostCheck(s.heldSecrets())
	if err != nil {
		s.log.Error("building the host-name check", "err", err)
		return errors.New("the supervisor cannot check host names now; nothing was filed, try again later")
	}
	for _, h := range hosts {
		v, err := hc.Check(h)
		if err != nil {
			return fmt.Errorf("a host name cannot be checked (%v); nothing was filed", err)
		}
		if len(v.Secrets) > 0 {
			f := v.Secrets[0]
			return fmt.Errorf("a host name carries a secret (%s %s in %s, %s); nothing was filed. Host names are sent in DNS queries: never put data in them", f.Detector, f.Rule, f.Where, f.Redacted)
		}
	}
	return nil
}

// heldSecrets are the token values the live policy injects, read from the
// sidecar's environment.
func (s *Server) heldSecrets() []dlp.Secret {
	if s.cfg.Getenv == nil || s.cfg.PolicyPath == "" {
		return nil
	}
	pol, err := manifest.LoadEgressFile(s.cfg.PolicyPath)
	if err != nil || pol == nil {
		return nil
	}
	var out []dlp.Secret
	for _, r := range pol.Routes {
		if r.Auth == nil {
			continue
		}
		if v := s.cfg.Getenv(r.Auth.TokenRef); r.Auth.TokenRef != "" && v != "" {
			out = append(out, dlp.Secret{Name: r.Auth.TokenRef, Value: v})
		}
	}
	return out
}
