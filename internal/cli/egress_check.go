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
)

// sidecarPolicy is where the sidecar sees the live policy.
const sidecarPolicy = "/run/bot-bottle/egress/policy.yaml"

func newEgressCheckCmd(env Env) *cobra.Command {
	var (
		policyPath, method, data string
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

--policy defaults to the sidecar's live policy, ` + sidecarPolicy + `.`,
		Example: `  bot-bottle egress check --policy policy.yaml https://api.github.com/repos/o/r
  bot-bottle egress check --policy policy.yaml -X POST -H 'Content-Type: text/plain' --data @prompt.txt --json https://api.anthropic.com/v1/messages`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if policyPath == "" {
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
			res, err := egress.Check(policyPath, ports, env.Getenv, strings.ToUpper(method), u, h, body)
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
	f.StringVarP(&method, "request", "X", "", "request method (default GET, or POST with --data)")
	f.StringArrayVarP(&headers, "header", "H", nil, "request header 'Name: value' (repeatable)")
	f.StringVar(&data, "data", "", "request body, or @FILE to read it from a file")
	f.IntSliceVar(&ports, "allow-port", nil, "another port every route may use, as for serve")
	f.BoolVar(&asJSON, "json", false, "print the decision as JSON")
	return cmd
}
