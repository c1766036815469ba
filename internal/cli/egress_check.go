package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bot-bottle/bot-bottle/internal/egress"
	"github.com/bot-bottle/bot-bottle/internal/hoststate"
)

// sidecarPolicy is where the sidecar sees the live policy.
const sidecarPolicy = "/run/bot-bottle/egress/policy.yaml"

func newEgressCheckCmd(env Env) *cobra.Command {
	var (
		policyPath, method, data string
		agent, slug              string
		bottles                  []string
		headers                  []string
		ports                    []int
		asJSON                   bool
	)
	cmd := &cobra.Command{
		Use:   "check [flags] URL",
		Short: "Print what the egress proxy would do with a request",
		Long: `check decides one request against a policy file exactly as the proxy would
(routes, matches, git and DNS-over-HTTPS rules, outbound secret scanning with
the tokens set in this environment) and prints the decision and its reason.
It does not resolve or connect: the private-address check happens only in
the proxy. Exit 0: allowed; 1: refused; 2: an error.

--bottle NAME (with --agent NAME) checks the policy that bottle's sidecar
would load: its routes composed with the provider's, as start builds them.
--slug SLUG checks the live policy of that bottle, as its sidecar runs it now:
the routes the operator approved included.
--policy defaults to the sidecar's live policy, ` + sidecarPolicy + `, inside a bottle.`,
		Example: `  bot-bottle egress check --bottle claude -X DELETE https://api.anthropic.com/v1/files/x
  bot-bottle egress check --policy policy.yaml https://api.github.com/repos/o/r
  bot-bottle egress check --policy policy.yaml -X POST -H 'Content-Type: text/plain' --data @prompt.txt --json https://api.anthropic.com/v1/messages`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			getenv := env.Getenv
			switch {
			case countSet(len(bottles) > 0, policyPath != "", slug != "") > 1:
				return usageError(fmt.Errorf("egress check: give one of --bottle, --slug or --policy"))
			case slug != "":
				path, err := livePolicy(env, slug)
				if err != nil {
					return err
				}
				policyPath = path
			case len(bottles) > 0:
				path, sidecarEnv, done, err := bottlePolicy(env, agent, bottles)
				if err != nil {
					return err
				}
				defer done()
				policyPath, getenv = path, withEnv(sidecarEnv, env.Getenv)
			case policyPath == "":
				if _, err := os.Stat(sidecarPolicy); err != nil {
					return usageError(fmt.Errorf("egress check: no %s here (it exists only inside a bottle's sidecar); give --bottle NAME for the policy that bottle would run, or --policy FILE", sidecarPolicy))
				}
				policyPath = sidecarPolicy
			}
			u, err := url.Parse(args[0])
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return usageError(fmt.Errorf("egress check: %q is not an http or https URL", args[0]))
			}
			h := http.Header{}
			for _, kv := range headers {
				k, v, ok := strings.Cut(kv, ":")
				if !ok || strings.TrimSpace(k) == "" {
					return usageError(fmt.Errorf("egress check: header %q is not 'Name: value'", kv))
				}
				h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
			}
			var body []byte
			if name, ok := strings.CutPrefix(data, "@"); ok {
				if !filepath.IsAbs(name) {
					name = filepath.Join(env.Cwd, name)
				}
				if body, err = os.ReadFile(name); err != nil {
					return usageError(fmt.Errorf("egress check: reading --data: %w", err))
				}
			} else {
				body = []byte(data)
			}
			if method == "" {
				method = http.MethodGet
				if len(body) > 0 {
					method = http.MethodPost
				}
			}
			res, err := egress.Check(policyPath, ports, getenv, strings.ToUpper(method), u, h, body)
			if err != nil {
				return usageError(err)
			}
			if asJSON {
				enc := json.NewEncoder(env.Stdout)
				enc.SetIndent("", "  ")
				enc.Encode(res)
			} else {
				verdict := "allow"
				if !res.Allow {
					verdict = "refuse"
				}
				fmt.Fprintf(env.Stdout, "%s (%s): %s\n", verdict, res.Code, res.Reason)
				for _, f := range res.Findings {
					fmt.Fprintln(env.Stdout, findingLine(f.Detector, f.Rule, f.Place, f.Where, f.Decoded, f.Excerpt))
				}
				for _, w := range res.Warnings {
					fmt.Fprintf(env.Stdout, "warning: %s %s in %s: %s\n", w.Detector, w.Rule, w.Where, w.Excerpt)
				}
			}
			if !res.Allow {
				return found(nil)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&policyPath, "policy", "", "policy file: a bottle manifest or YAML with egress: (default "+sidecarPolicy+")")
	f.StringArrayVar(&bottles, "bottle", nil, "check the policy this bottle would run (repeatable, as for start)")
	f.StringVar(&slug, "slug", "", "check the live policy of this bottle (approved routes included)")
	f.StringVar(&agent, "agent", "", "with --bottle: the agent to plan it for (as for start)")
	f.StringVarP(&method, "request", "X", "", "request method (default GET, or POST with --data)")
	f.StringArrayVarP(&headers, "header", "H", nil, "request header 'Name: value' (repeatable)")
	f.StringVar(&data, "data", "", "request body, or @FILE to read it from a file")
	f.IntSliceVar(&ports, "allow-port", nil, "another port every route may use, as for serve")
	f.BoolVar(&asJSON, "json", false, "print the decision as JSON")
	return cmd
}

// findingLine is one refusal's finding as a person reads it: what matched,
// where (Place), which encodings were undone (Decoded) and the excerpt,
// whose secret is already *** (the value is never printed).
func findingLine(detector, rule, place, where, decoded, excerpt string) string {
	if place == "" {
		place = where
	}
	line := fmt.Sprintf("finding: %s %s at %s", detector, rule, place)
	if decoded != "" {
		line += ", decoded " + decoded
	}
	return line + ": " + excerpt
}

// livePolicy is the policy file a bottle's sidecar runs now: the host
// rewrites it when the operator approves a route.
func livePolicy(env Env, slug string) (string, error) {
	if slug == "." || slug == ".." || strings.ContainsAny(slug, `/\`) {
		return "", usageError(fmt.Errorf("egress check: %q is not a bottle slug", slug))
	}
	path := hoststate.New(env.Home).Bottle(slug).Policy()
	if _, err := os.Stat(path); err != nil {
		return "", usageError(fmt.Errorf("egress check: bottle %s has no live policy (%s): bot-bottle list shows yours", slug, path))
	}
	return path, nil
}

// countSet counts the true values among flags that exclude each other.
func countSet(set ...bool) int {
	n := 0
	for _, b := range set {
		if b {
			n++
		}
	}
	return n
}
