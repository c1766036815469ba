package supervise

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/bot-bottle/bot-bottle/internal/manifest"
	"github.com/bot-bottle/bot-bottle/internal/supervise/agentcheck"
	"github.com/bot-bottle/bot-bottle/internal/supervise/queue"
)

// MaxJustification caps the justification text an agent sends.
const MaxJustification = 4 << 10

const instructions = `This server is how you ask the human operator of your sandbox (a bot-bottle) for more access. ` +
	`Your network goes through an egress proxy that allows only listed routes. ` +
	`When a request is refused by the proxy, do not look for a way around it: call egress-block with the refused request and a route that would allow it. ` +
	`To ask for a host ahead of time, call egress-allow. To see what is allowed now, call list-egress-routes. ` +
	`To ask for software in your image (applied at the next start), call capability-block. ` +
	`A filing call waits up to about a minute for the operator; if it returns "pending", keep working on something else and call proposal-status with the ID later. Do not file the same request twice.`

const routesHelp = `YAML text in the manifest route schema: a list of routes, or a mapping with a "routes" key. ` +
	`Each route: host (required, the exact lower-case host name, no scheme, port, path or wildcard; ports 443 and 80 are allowed), ` +
	`and optionally matches: a list of {paths: [{type: prefix|exact|regex, value: /path}], methods: [GET, ...], headers: [{name, value, type: exact|regex}]}; ` +
	`a request must fit one match; no matches allows every request to the host. Ask for the narrowest route that does the job. ` +
	`Not allowed in a proposal (the operator adds them if needed): auth, unsafe_allow_private, git, and any dlp setting weaker than the default ` +
	`(dlp may only keep or add detectors, and outbound_on_match may be supervise or block). Example:
routes:
  - host: api.example.com
    matches:
      - paths: [{type: prefix, value: /v1/}]
        methods: [GET]`

const justificationHelp = `Why you need this, for the human who decides: the task, what you tried, what fails without it. One short paragraph.`

func routeDescs(routes string) map[string]string {
	return map[string]string{"routes": routes + " " + routesHelp, "justification": justificationHelp}
}

// The inputs' short descriptions are their jsonschema tags; the long ones
// (the route and Dockerfile grammars) are set by withDescriptions.

// EgressAllowInput is the input of egress-allow.
type EgressAllowInput struct {
	Routes        string `json:"routes" jsonschema:"YAML routes in the manifest route schema (see the tool description)"`
	Justification string `json:"justification" jsonschema:"why you need this, for the human who decides"`
}

// EgressBlockInput is the input of egress-block.
type EgressBlockInput struct {
	RefusalID     string `json:"refusal_id,omitempty" jsonschema:"the refusal ID the proxy returned (X-Bot-Bottle-Refusal-Id header, or 'refusal ID:' in the body), such as rf-0123456789abcdef; with it the operator sees the proxy's own record of the request"`
	Method        string `json:"method,omitempty" jsonschema:"the HTTP method of the refused request, such as GET (needed only without a refusal_id)"`
	URL           string `json:"url,omitempty" jsonschema:"the full URL of the refused request, such as https://api.example.com/v1/items (needed only without a refusal_id)"`
	Reason        string `json:"reason,omitempty" jsonschema:"the proxy's reason for refusing (needed only without a refusal_id); write unknown if none was shown"`
	Routes        string `json:"routes" jsonschema:"YAML routes that would allow the request (see the tool description)"`
	Justification string `json:"justification" jsonschema:"why you need this, for the human who decides"`
}

// CapabilityBlockInput is the input of capability-block.
type CapabilityBlockInput struct {
	Dockerfile    string `json:"dockerfile" jsonschema:"Dockerfile lines to append to your image: RUN and ENV only"`
	Justification string `json:"justification" jsonschema:"why you need this, for the human who decides"`
}

// ProposalStatusInput is the input of proposal-status.
type ProposalStatusInput struct {
	ID   string `json:"id" jsonschema:"the proposal ID a filing tool returned (a UUID)"`
	Wait bool   `json:"wait,omitempty" jsonschema:"wait up to about a minute for the answer instead of returning at once"`
}

const dockerfileHelp = `Dockerfile lines to append to your image, one instruction per line (a trailing backslash continues a line). ` +
	`Only RUN (no --flags, no heredocs) and ENV (not proxy or CA variables) are allowed; FROM, COPY, ADD, USER and the rest are refused. ` +
	`The lines run when the image is next built, not now, as root, with their network only through a proxy that allows the bottle's routes and its capability routes (Debian's mirror by default); DNS lookups from them get no answer. Example: RUN apt-get update && apt-get install -y --no-install-recommends jq`

// withDescriptions infers T's input schema and replaces the descriptions
// of the named properties.
func withDescriptions[T any](descs map[string]string) *jsonschema.Schema {
	sch, err := jsonschema.For[T](nil)
	if err != nil {
		panic(fmt.Sprintf("supervise: input schema: %v", err)) // a programming error, caught by every test
	}
	for name, d := range descs {
		if p := sch.Properties[name]; p != nil {
			p.Description = d
		}
	}
	return sch
}

// ListRoutesInput is the (empty) input of list-egress-routes.
type ListRoutesInput struct{}

// Outcome is the structured result of the filing tools and proposal-status.
type Outcome struct {
	// ID is the proposal ID.
	ID string `json:"id"`
	// Status is pending, approved, modified or rejected.
	Status string `json:"status"`
	// Tool is the tool that filed the proposal.
	Tool string `json:"tool"`
	// Notes are the operator's notes.
	Notes string `json:"notes,omitempty"`
	// FinalFile is what the operator approved instead, for modified.
	FinalFile string `json:"final_file,omitempty"`
	// Message says what to do next.
	Message string `json:"message"`
}

// StatusPending is the status of a proposal with no answer yet.
const StatusPending = "pending"

// RoutesOutcome is the result of list-egress-routes.
type RoutesOutcome struct {
	// Source says where the table came from.
	Source string `json:"source"`
	// Table is the live route table as the source gives it (no token
	// values: the policy carries only token names).
	Table string `json:"table"`
}

func boolp(b bool) *bool { return &b }

func (s *Server) addTools() {
	filing := &mcp.ToolAnnotations{DestructiveHint: boolp(false), OpenWorldHint: boolp(false)}
	mcp.AddTool(s.mcp, &mcp.Tool{
		Name:  queue.ToolEgressAllow,
		Title: "Ask the operator to allow network routes",
		Description: `Ask the human operator to allow new egress routes (hosts, and optionally paths and methods) before you need them. ` +
			`The routes are checked first: a malformed or disallowed route comes back as an error to fix, nothing is filed. ` +
			`Then the call waits up to about a minute for the answer. Approved routes are live at once: retry your request. ` +
			`If the answer is "pending", call proposal-status with the ID later instead of filing again. ` +
			`For a request the proxy already refused, use egress-block instead.`,
		Annotations: filing,
		InputSchema: withDescriptions[EgressAllowInput](routeDescs("The routes to allow.")),
	}, s.egressAllow)
	mcp.AddTool(s.mcp, &mcp.Tool{
		Name:  queue.ToolEgressBlock,
		Title: "Report a refused request and ask for a route",
		Description: `Use this when the egress proxy refused one of your requests (HTTP 403 from the proxy, or a failed CONNECT): ` +
			`give the refusal ID the proxy returned (refusal_id, from the X-Bot-Bottle-Refusal-Id header or the body) and the route that would allow it; ` +
			`the operator sees the proxy's own record of the request. Without a refusal ID (method, url and reason instead), the operator is told the proxy never confirmed it. ` +
			`A route must be for the host in the url. Checked, filed and answered like egress-allow: approved routes are live at once; ` +
			`on "pending", call proposal-status later. Do not try other ways around the proxy.`,
		Annotations: filing,
		InputSchema: withDescriptions[EgressBlockInput](routeDescs("The route(s) that would allow the refused request.")),
	}, s.egressBlock)
	mcp.AddTool(s.mcp, &mcp.Tool{
		Name:  "list-egress-routes",
		Title: "List the allowed network routes",
		Description: `Show the live egress route table: the hosts, paths and methods you may reach now (token names only, never values). ` +
			`Call it before asking for a route, to see whether one already covers your request.`,
		Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true, OpenWorldHint: boolp(false)},
	}, s.listRoutes)
	mcp.AddTool(s.mcp, &mcp.Tool{
		Name:  queue.ToolCapabilityBlock,
		Title: "Ask for software in your image",
		Description: `Ask the operator to add RUN or ENV lines to your bottle's image, for a tool or library you cannot install at run time. ` +
			`An approved change is applied at the next start of the bottle, not in this running container: until then, work without it. ` +
			`The lines are checked first (see the dockerfile field); the call then waits up to about a minute, or answers "pending" with an ID for proposal-status.`,
		Annotations: filing,
		InputSchema: withDescriptions[CapabilityBlockInput](map[string]string{"dockerfile": dockerfileHelp, "justification": justificationHelp}),
	}, s.capabilityBlock)
	mcp.AddTool(s.mcp, &mcp.Tool{
		Name:  "proposal-status",
		Title: "Check on a proposal",
		Description: `Get the answer to a proposal you filed earlier: pending, approved, modified (the operator changed it; final_file is what was approved) or rejected (read the notes). ` +
			`Set wait to true to wait up to about a minute for an answer instead of polling.`,
		Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true, OpenWorldHint: boolp(false)},
	}, s.proposalStatus)
}

// checkJustification returns the agent's justification as one line
// under queue.AgentWords. Every line above it is the sidecar's, so the
// agent's text can neither begin the justification (and pass for the
// proxy's record or the operator's draft) nor start a line of its own
// that looks like one.
func checkJustification(j string) (string, error) {
	j = strings.TrimSpace(j)
	switch {
	case j == "":
		return "", errors.New("justification is empty: say why you need this, for the human who decides")
	case len(j) > MaxJustification:
		return "", fmt.Errorf("justification is %d bytes; keep it under %d", len(j), MaxJustification)
	}
	return queue.AgentWords + " " + oneLine(j), nil
}

// oneLine joins s into one line: control characters and the Unicode
// line and paragraph separators become spaces.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return r < 0x20 || (r >= 0x7f && r < 0xa0) || r == '\u2028' || r == '\u2029'
	}), " ")
}

func (s *Server) egressAllow(ctx context.Context, req *mcp.CallToolRequest, in EgressAllowInput) (*mcp.CallToolResult, Outcome, error) {
	just, err := checkJustification(in.Justification)
	if err != nil {
		return nil, Outcome{}, err
	}
	routes, err := agentcheck.AgentRoutes(in.Routes)
	if err != nil {
		return nil, Outcome{}, err
	}
	if err := s.checkHosts(routeHosts(routes)...); err != nil {
		return nil, Outcome{}, err
	}
	file, err := agentcheck.MarshalRoutes(routes)
	if err != nil {
		return nil, Outcome{}, err
	}
	return s.file(ctx, req, queue.ToolEgressAllow, file, just, s.cfg.PolicyPath)
}

func (s *Server) egressBlock(ctx context.Context, req *mcp.CallToolRequest, in EgressBlockInput) (*mcp.CallToolResult, Outcome, error) {
	just, err := checkJustification(in.Justification)
	if err != nil {
		return nil, Outcome{}, err
	}
	host, header, err := s.refusedRequest(in)
	if err != nil {
		return nil, Outcome{}, err
	}
	routes, err := agentcheck.AgentRoutes(in.Routes)
	if err != nil {
		return nil, Outcome{}, err
	}
	covered := false
	for _, r := range routes {
		covered = covered || r.Host == host
	}
	if !covered {
		return nil, Outcome{}, fmt.Errorf("none of the routes is for %s, the host of the refused request", host)
	}
	if err := s.checkHosts(append(routeHosts(routes), host)...); err != nil {
		return nil, Outcome{}, err
	}
	file, err := agentcheck.MarshalRoutes(routes)
	if err != nil {
		return nil, Outcome{}, err
	}
	// The proposal file format is fixed (DESIGN.md), so the refused request
	// rides at the top of the justification, where the operator reads it;
	// the sidecar writes that header, the agent only what follows.
	return s.file(ctx, req, queue.ToolEgressBlock, file, header+"\n"+just, s.cfg.PolicyPath)
}

// refusedRequest is the host a route must cover and the header the
// operator reads: the proxy's record of refusal_id when its log holds it,
// else the agent's claim, marked as such.
func (s *Server) refusedRequest(in EgressBlockInput) (host, header string, err error) {
	id := strings.TrimSpace(in.RefusalID)
	if id != "" {
		if !refusalIDRE.MatchString(id) {
			return "", "", fmt.Errorf("refusal_id %q is not a refusal ID (rf- and 16 hex digits, from the X-Bot-Bottle-Refusal-Id header)", clean(in.RefusalID, 64))
		}
		r, ok, err := findRefusal(s.cfg.EgressLog, id)
		if err != nil {
			s.log.Error("reading the egress log", "path", s.cfg.EgressLog, "err", err)
			return "", "", errors.New("the supervisor cannot read the proxy's log; nothing was filed, try again later")
		}
		if ok {
			return r.Host, provenHeader(r), nil
		}
		s.log.Warn("refusal ID not in the proxy log", "refusal_id", id, "bottle", s.cfg.Slug)
	}
	method := strings.TrimSpace(in.Method)
	if method == "" || len(method) > 32 || strings.ToUpper(method) != method || strings.ContainsAny(method, " \t\r\n") {
		return "", "", fmt.Errorf("method %q is not an HTTP method; write it in capitals, such as GET (or give the refusal_id the proxy returned)", in.Method)
	}
	u, err := url.Parse(strings.TrimSpace(in.URL))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "" || len(in.URL) > 4096 {
		return "", "", fmt.Errorf("url %q is not a full http(s) URL of the refused request (or give the refusal_id the proxy returned)", in.URL)
	}
	reason := strings.Join(strings.Fields(in.Reason), " ")
	if reason == "" {
		return "", "", errors.New("reason is empty: give the proxy's reason, or write unknown")
	}
	return strings.ToLower(u.Hostname()), unprovenHeader(id, method, u.Redacted(), reason), nil
}

func routeHosts(routes []manifest.Route) []string {
	out := make([]string, len(routes))
	for i, r := range routes {
		out[i] = r.Host
	}
	return out
}

func (s *Server) capabilityBlock(ctx context.Context, req *mcp.CallToolRequest, in CapabilityBlockInput) (*mcp.CallToolResult, Outcome, error) {
	just, err := checkJustification(in.Justification)
	if err != nil {
		return nil, Outcome{}, err
	}
	file, err := agentcheck.Dockerfile(in.Dockerfile)
	if err != nil {
		return nil, Outcome{}, fmt.Errorf("dockerfile: %w", err)
	}
	return s.file(ctx, req, queue.ToolCapabilityBlock, file, just, s.cfg.CapabilityPath)
}

// file submits a proposal and waits for its answer.
func (s *Server) file(ctx context.Context, req *mcp.CallToolRequest, tool, proposed, just, current string) (*mcp.CallToolResult, Outcome, error) {
	hash, err := hashFile(current)
	if err != nil {
		s.log.Error("reading current config", "path", current, "err", err)
		return nil, Outcome{}, errors.New("the supervisor cannot read the bottle's current config; nothing was filed, try again later")
	}
	p, err := s.submit(queue.Proposal{
		BottleSlug:      s.cfg.Slug,
		Tool:            tool,
		ProposedFile:    proposed,
		Justification:   just,
		CurrentFileHash: hash,
	})
	if err != nil {
		return nil, Outcome{}, err
	}
	return s.await(ctx, req, p)
}

// MaxPending caps the unanswered proposals of one bottle, so an agent
// cannot flood the operator.
const MaxPending = 16

// submit files p, unless the same change from the same tool is already
// waiting: then the caller waits on that one, and the operator sees it
// once.
func (s *Server) submit(p queue.Proposal) (queue.Proposal, error) {
	s.submitMu.Lock()
	defer s.submitMu.Unlock()
	pending, errs := s.queue.Pending()
	for _, err := range errs {
		s.log.Error("listing the queue", "err", err)
	}
	for _, q := range pending {
		if q.Tool == p.Tool && q.ProposedFile == p.ProposedFile && q.BottleSlug == p.BottleSlug {
			s.log.Info("proposal already pending", "id", q.ID, "tool", q.Tool, "bottle", s.cfg.Slug)
			return q, nil
		}
	}
	if len(pending) >= MaxPending {
		return p, fmt.Errorf("%d proposals are already waiting for the operator; wait for answers (proposal-status) before filing more", len(pending))
	}
	p, err := s.queue.Submit(p)
	if err != nil {
		s.log.Error("filing proposal", "tool", p.Tool, "err", err)
		return p, errors.New("the supervisor could not file the proposal; nothing was filed, try again later")
	}
	s.log.Info("proposal filed", "id", p.ID, "tool", p.Tool, "bottle", s.cfg.Slug)
	return p, nil
}

// hashFile is current_file_hash: the SHA-256 of the file, or of empty
// content when there is no file.
func hashFile(path string) (string, error) {
	if path == "" {
		return queue.HashFile(nil), nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return queue.HashFile(nil), nil
	}
	if err != nil {
		return "", err
	}
	return queue.HashFile(b), nil
}

func (s *Server) proposalStatus(ctx context.Context, req *mcp.CallToolRequest, in ProposalStatusInput) (*mcp.CallToolResult, Outcome, error) {
	id := strings.TrimSpace(in.ID)
	if !queue.ValidID(id) {
		return nil, Outcome{}, fmt.Errorf("%q is not a proposal ID (a lower-case UUID as returned by the filing tool)", in.ID)
	}
	p, err := s.queue.Proposal(id)
	if errors.Is(err, queue.ErrNotFound) {
		return nil, Outcome{}, fmt.Errorf("no proposal %s in this bottle", id)
	}
	if err != nil {
		s.log.Error("reading proposal", "id", id, "err", err)
		return nil, Outcome{}, fmt.Errorf("proposal %s cannot be read", id)
	}
	if in.Wait {
		return s.await(ctx, req, p)
	}
	r, err := s.queue.Response(id)
	switch {
	case errors.Is(err, queue.ErrNotFound):
		return pending(p)
	case err != nil:
		s.log.Error("reading response", "id", id, "err", err)
		return nil, Outcome{}, fmt.Errorf("the operator's answer to %s cannot be read; ask the operator", id)
	}
	return s.answered(p, r)
}
