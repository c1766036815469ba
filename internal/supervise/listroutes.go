package supervise

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// AllowlistURL is the egress daemon's introspection endpoint, reached
// through the proxy (DESIGN.md, The sidecar contract).
const AllowlistURL = "http://_egress.local/allowlist"

// maxTable caps the route table handed to the agent.
const maxTable = 256 << 10

// listRoutes returns the live route table: from the egress daemon when a
// proxy is configured, else from the policy file. Neither holds token
// values: the daemon strips them and the policy names only env vars.
func (s *Server) listRoutes(ctx context.Context, _ *mcp.CallToolRequest, _ ListRoutesInput) (*mcp.CallToolResult, RoutesOutcome, error) {
	var o RoutesOutcome
	var proxyErr error
	if s.client != nil {
		table, err := s.fetchAllowlist(ctx)
		if err == nil {
			o = RoutesOutcome{Source: "egress daemon (" + AllowlistURL + ")", Table: table}
			return text(o.Source + ":\n" + o.Table), o, nil
		}
		proxyErr = err
		s.log.Error("asking egress for the allowlist", "err", err)
	}
	if s.cfg.PolicyPath != "" {
		b, err := readCapped(s.cfg.PolicyPath)
		if err == nil {
			o = RoutesOutcome{Source: "policy file", Table: string(b)}
			return text(o.Source + ":\n" + o.Table), o, nil
		}
		s.log.Error("reading the policy file", "path", s.cfg.PolicyPath, "err", err)
	}
	if proxyErr != nil {
		return nil, o, errors.New("the egress daemon did not answer; try again shortly")
	}
	return nil, o, errors.New("this supervisor has no egress daemon or policy file configured, so it cannot list routes")
}

func (s *Server) fetchAllowlist(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, AllowlistURL, nil)
	if err != nil {
		return "", err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxTable+1))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("allowlist: %s", resp.Status)
	}
	if len(b) > maxTable {
		return "", errors.New("allowlist: table too large")
	}
	return string(b), nil
}

func readCapped(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxTable+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxTable {
		return nil, errors.New("policy file too large")
	}
	return b, nil
}
