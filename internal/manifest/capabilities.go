package manifest

import "fmt"

// DefaultCapabilityRoutes are what a capability build may reach when no
// bottle along extends has a capabilities key: Debian's mirrors, over
// plain http (the base image's apt sources; apt checks the archive's
// signatures) or https.
func DefaultCapabilityRoutes() []Route {
	return []Route{{Host: "deb.debian.org"}, {Host: "security.debian.org"}}
}

// CapabilityRoutes is what the merged bottle b lets a capability build
// reach besides its egress routes: its capabilities.routes, or the
// default when it has no capabilities key.
func CapabilityRoutes(b *BottleFile) []Route {
	if b == nil || b.Capabilities == nil {
		return DefaultCapabilityRoutes()
	}
	return append([]Route{}, b.Capabilities.Routes...)
}

func validateCapabilities(c *Capabilities) FieldErrors {
	if c == nil {
		return nil
	}
	errs := validateRoutes(c.Routes, "capabilities.routes")
	for i, r := range c.Routes {
		path := fmt.Sprintf("capabilities.routes[%d]", i)
		if r.Auth != nil {
			errs = append(errs, FieldError{Path: path + ".auth", Message: "a capability build runs the agent's lines: it gets no token; put routes that need one under egress.routes"})
		}
		if r.Grant != nil {
			errs = append(errs, FieldError{Path: path + ".grant", Message: "grant is written by bot-bottle for approved routes, not in a bottle"})
		}
	}
	return errs
}
