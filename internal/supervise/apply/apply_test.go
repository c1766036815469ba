package apply

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bot-bottle/bot-bottle/internal/supervise/audit"
	"github.com/bot-bottle/bot-bottle/internal/supervise/queue"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

const livePolicy = `egress:
  routes:
    - host: api.anthropic.com
      auth:
        scheme: Bearer
        token_ref: ANTHROPIC_API_KEY
  log: 1
`

type fixture struct {
	op   *Operator
	home string
	slug string
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	home := t.TempDir()
	f := fixture{op: &Operator{Home: home, Now: func() time.Time { return t0 }, User: "alice"}, home: home, slug: "impl-k3x9q"}
	if err := os.MkdirAll(filepath.Dir(f.paths().Policy()), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.paths().Policy(), []byte(livePolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f fixture) paths() Paths { return Paths{Home: f.home, Slug: f.slug} }

func (f fixture) submit(t *testing.T, tool, file string) Item {
	t.Helper()
	p, err := queue.New(f.paths().Queue()).Submit(queue.Proposal{
		BottleSlug: f.slug, Tool: tool, ProposedFile: file,
		Justification: "need it", ArrivalTimestamp: t0,
	})
	if err != nil {
		t.Fatal(err)
	}
	it, err := f.op.Find(p.ID)
	if err != nil {
		t.Fatal(err)
	}
	return it
}

func (f fixture) response(t *testing.T, id string) (queue.Response, error) {
	t.Helper()
	return queue.New(f.paths().Queue()).Response(id)
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func auditEntries(t *testing.T, f fixture) []audit.Entry {
	t.Helper()
	es, err := audit.Read(audit.Path(f.home, f.slug))
	if err != nil {
		t.Fatal(err)
	}
	return es
}

const exampleRoute = "- host: example.com\n  matches:\n    - paths:\n        - type: prefix\n          value: /v1/\n"

func TestApproveEgressAllowMergesLive(t *testing.T) {
	f := newFixture(t)
	it := f.submit(t, queue.ToolEgressAllow, exampleRoute)
	before := queue.HashFile([]byte(livePolicy))

	if err := f.op.Decide(it, Decision{Status: queue.StatusApproved, Notes: "ok"}); err != nil {
		t.Fatal(err)
	}

	want := `egress:
    routes:
        - host: api.anthropic.com
          auth:
            scheme: Bearer
            token_ref: ANTHROPIC_API_KEY
        - host: example.com
          matches:
            - paths:
                - type: prefix
                  value: /v1/
    log: 1
`
	if diff := cmp.Diff(want, read(t, f.paths().Policy())); diff != "" {
		t.Errorf("policy.yaml (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, read(t, filepath.Join(f.paths().CurrentConfig(), "egress.yaml"))); diff != "" {
		t.Errorf("current-config (-want +got):\n%s", diff)
	}
	approved := "egress:\n    routes:\n        - host: example.com\n          matches:\n            - paths:\n                - type: prefix\n                  value: /v1/\n"
	if diff := cmp.Diff(approved, read(t, f.paths().Approved())); diff != "" {
		t.Errorf("approved.yaml (-want +got):\n%s", diff)
	}
	if fi, _ := os.Stat(f.paths().Policy()); fi.Mode().Perm() != 0o644 {
		t.Errorf("policy mode = %v, want kept 0644", fi.Mode().Perm())
	}
	r, err := f.response(t, it.Proposal.ID)
	if err != nil || r.Status != queue.StatusApproved || r.Notes != "ok" {
		t.Errorf("response = %+v, %v", r, err)
	}
	es := auditEntries(t, f)
	wantE := []audit.Entry{{
		Time: t0, Bottle: f.slug, ProposalID: it.Proposal.ID, Tool: queue.ToolEgressAllow,
		Action: queue.StatusApproved, Notes: "ok", BeforeHash: before, AfterHash: queue.HashFile([]byte(want)),
		Operator: "alice", Content: exampleRoute,
	}}
	if diff := cmp.Diff(wantE, es); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
	if items, _ := f.op.Pending(); len(items) != 0 {
		t.Errorf("still pending: %+v", items)
	}
}

func TestApproveDedupesIdenticalRoutes(t *testing.T) {
	f := newFixture(t)
	for range 2 {
		it := f.submit(t, queue.ToolEgressBlock, "routes:\n"+indent(exampleRoute))
		if err := f.op.Decide(it, Decision{Status: queue.StatusApproved}); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(read(t, f.paths().Policy()), "host: example.com"); n != 1 {
		t.Errorf("example.com appears %d times in policy, want 1", n)
	}
	if n := strings.Count(read(t, f.paths().Approved()), "host: example.com"); n != 1 {
		t.Errorf("example.com appears %d times in approved, want 1", n)
	}
	es := auditEntries(t, f)
	if len(es) != 2 || es[1].BeforeHash != es[1].AfterHash {
		t.Errorf("second approval should change nothing: %+v", es)
	}
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n  ") + "\n"
}

func TestOperatorOnlyKeysNeedModify(t *testing.T) {
	withAuth := "- host: evil.example\n  auth:\n    scheme: Bearer\n    token_ref: ANTHROPIC_API_KEY\n"
	for name, file := range map[string]string{
		"auth":    withAuth,
		"private": "- host: nas.local\n  unsafe_allow_private: true\n",
		"git":     "- host: github.com\n  git:\n    fetch: true\n",
		"dlp off": "- host: a.example\n  dlp:\n    outbound_detectors: false\n",
		"redact":  "- host: a.example\n  dlp:\n    outbound_on_match: redact\n",
		"fewer":   "- host: a.example\n  dlp:\n    outbound_detectors: [token_patterns]\n",
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			it := f.submit(t, queue.ToolEgressAllow, file)
			err := f.op.Decide(it, Decision{Status: queue.StatusApproved})
			if !errors.Is(err, ErrRefused) {
				t.Fatalf("approve = %v, want ErrRefused", err)
			}
			if got := read(t, f.paths().Policy()); got != livePolicy {
				t.Errorf("policy changed by a refused approval:\n%s", got)
			}
			if _, err := f.response(t, it.Proposal.ID); !errors.Is(err, queue.ErrNotFound) {
				t.Errorf("response written for a refused approval: %v", err)
			}
			// The operator may accept it by modifying.
			if err := f.op.Decide(it, Decision{Status: queue.StatusModified, FinalFile: file}); err != nil {
				t.Fatalf("modify = %v", err)
			}
			r, _ := f.response(t, it.Proposal.ID)
			if r.Status != queue.StatusModified || r.FinalFile != file {
				t.Errorf("response = %+v", r)
			}
		})
	}
}

func TestModifyMergesFinalFile(t *testing.T) {
	f := newFixture(t)
	it := f.submit(t, queue.ToolEgressAllow, "- host: wide.example\n")
	final := "- host: narrow.example\n  matches:\n    - methods: [GET]\n"
	if err := f.op.Decide(it, Decision{Status: queue.StatusModified, FinalFile: final, Notes: "GET only"}); err != nil {
		t.Fatal(err)
	}
	pol := read(t, f.paths().Policy())
	if !strings.Contains(pol, "narrow.example") || strings.Contains(pol, "wide.example") {
		t.Errorf("policy should hold the edit, not the proposal:\n%s", pol)
	}
	if es := auditEntries(t, f); es[0].Action != queue.StatusModified {
		t.Errorf("audit action = %q", es[0].Action)
	}
}

func TestModifyRejectsInvalidEdit(t *testing.T) {
	f := newFixture(t)
	it := f.submit(t, queue.ToolEgressAllow, exampleRoute)
	for name, final := range map[string]string{
		"unknown key": "- host: a.example\n  hots: x\n",
		"no host":     "- matches: []\n",
		"not yaml":    "- host: [\n",
		"empty":       "",
	} {
		t.Run(name, func(t *testing.T) {
			err := f.op.Decide(it, Decision{Status: queue.StatusModified, FinalFile: final})
			if !errors.Is(err, ErrRefused) {
				t.Errorf("Decide = %v, want ErrRefused", err)
			}
		})
	}
	if got := read(t, f.paths().Policy()); got != livePolicy {
		t.Errorf("policy changed:\n%s", got)
	}
	if _, err := os.Stat(audit.Path(f.home, f.slug)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("refused decisions must not be audited: %v", err)
	}
}

func TestRejectChangesNothing(t *testing.T) {
	f := newFixture(t)
	it := f.submit(t, queue.ToolEgressAllow, exampleRoute)
	if err := f.op.Decide(it, Decision{Status: queue.StatusRejected, Notes: "no"}); err != nil {
		t.Fatal(err)
	}
	if got := read(t, f.paths().Policy()); got != livePolicy {
		t.Errorf("policy changed:\n%s", got)
	}
	r, _ := f.response(t, it.Proposal.ID)
	if r.Status != queue.StatusRejected || r.Notes != "no" {
		t.Errorf("response = %+v", r)
	}
	es := auditEntries(t, f)
	h := queue.HashFile([]byte(livePolicy))
	if len(es) != 1 || es[0].BeforeHash != h || es[0].AfterHash != h || es[0].Action != "rejected" {
		t.Errorf("audit = %+v", es)
	}
	if err := f.op.Decide(it, Decision{Status: queue.StatusApproved}); !errors.Is(err, ErrRefused) {
		t.Errorf("second decision = %v, want ErrRefused (already answered)", err)
	}
}

func TestHoldsNeedReasonAndCannotBeModified(t *testing.T) {
	for _, tool := range []string{queue.ToolGitleaksAllow, queue.ToolEgressTokenAllow} {
		t.Run(tool, func(t *testing.T) {
			f := newFixture(t)
			it := f.submit(t, tool, "finding: aws-access-token in README.md:3\n")
			for _, d := range []Decision{
				{Status: queue.StatusApproved},
				{Status: queue.StatusApproved, Notes: "  "},
				{Status: queue.StatusModified, FinalFile: "x", Notes: "edit"},
			} {
				if err := f.op.Decide(it, d); !errors.Is(err, ErrRefused) {
					t.Errorf("Decide(%+v) = %v, want ErrRefused", d, err)
				}
			}
			if err := f.op.Decide(it, Decision{Status: queue.StatusApproved, Notes: "test fixture"}); err != nil {
				t.Fatal(err)
			}
			r, _ := f.response(t, it.Proposal.ID)
			if r.Status != queue.StatusApproved || r.Notes != "test fixture" {
				t.Errorf("response = %+v", r)
			}
			if got := read(t, f.paths().Policy()); got != livePolicy {
				t.Errorf("policy changed:\n%s", got)
			}
		})
	}
}

func TestCapabilityBlockKeptForNextStart(t *testing.T) {
	f := newFixture(t)
	a := f.submit(t, queue.ToolCapabilityBlock, "RUN apt-get install -y jq\n")
	if err := f.op.Decide(a, Decision{Status: queue.StatusApproved}); err != nil {
		t.Fatal(err)
	}
	b := f.submit(t, queue.ToolCapabilityBlock, "FROM evil\n")
	if err := f.op.Decide(b, Decision{Status: queue.StatusApproved}); !errors.Is(err, ErrRefused) {
		t.Errorf("FROM approved: %v", err)
	}
	if err := f.op.Decide(b, Decision{Status: queue.StatusModified, FinalFile: "RUN true"}); err != nil {
		t.Fatal(err)
	}
	want := "# proposal " + a.Proposal.ID + " (impl-k3x9q)\nRUN apt-get install -y jq\n" +
		"# proposal " + b.Proposal.ID + " (impl-k3x9q)\nRUN true\n"
	if diff := cmp.Diff(want, read(t, f.paths().Capabilities())); diff != "" {
		t.Errorf("approved.Dockerfile (-want +got):\n%s", diff)
	}
	if got := read(t, filepath.Join(f.paths().CurrentConfig(), "capabilities.Dockerfile")); got != want {
		t.Errorf("current-config capabilities = %q", got)
	}
	es := auditEntries(t, f)
	if len(es) != 2 || es[0].BeforeHash != queue.HashFile(nil) || es[1].AfterHash != queue.HashFile([]byte(want)) {
		t.Errorf("audit = %+v", es)
	}
}

func TestPendingAcrossBottles(t *testing.T) {
	f := newFixture(t)
	g := fixture{op: f.op, home: f.home, slug: "review-a1b2c"}
	meta, _ := json.Marshal(map[string]any{"agent": "review", "label": "docs review", "color": "cyan"})
	if err := os.MkdirAll(g.paths().State(), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(g.paths().Metadata(), meta, 0o600); err != nil {
		t.Fatal(err)
	}
	qa, qb := queue.New(f.paths().Queue()), queue.New(g.paths().Queue())
	p1, _ := qb.Submit(queue.Proposal{Tool: queue.ToolEgressAllow, ProposedFile: "- host: b.example\n", ArrivalTimestamp: t0})
	p2, _ := qa.Submit(queue.Proposal{Tool: queue.ToolCapabilityBlock, ProposedFile: "# why\nRUN a\nRUN b\n", ArrivalTimestamp: t0.Add(time.Second)})
	items, errs := f.op.Pending()
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	got := []Item{}
	for _, it := range items {
		got = append(got, Item{Slug: it.Slug, Label: it.Label, Color: it.Color, Summary: it.Summary, Proposal: queue.Proposal{ID: it.Proposal.ID}})
	}
	want := []Item{
		{Slug: "review-a1b2c", Label: "docs review", Color: "cyan", Summary: "allow b.example", Proposal: queue.Proposal{ID: p1.ID}},
		{Slug: "impl-k3x9q", Summary: "RUN a (+1 lines)", Proposal: queue.Proposal{ID: p2.ID}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Pending (-want +got):\n%s", diff)
	}
	if _, err := f.op.Find("00000000-0000-0000-0000-000000000000"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Find unknown = %v", err)
	}
	if _, err := f.op.Find("../../etc/passwd"); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("Find bad id = %v, want invalid id", err)
	}
}

func TestPreview(t *testing.T) {
	f := newFixture(t)
	it := f.submit(t, queue.ToolEgressAllow, "- host: example.com\n")
	before, after, err := f.op.Preview(it, it.Proposal.ProposedFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(before, "api.anthropic.com") || strings.Contains(before, "example.com\n") {
		t.Errorf("before = %q", before)
	}
	if !strings.HasSuffix(strings.TrimSuffix(after, "    log: 1\n"), "        - host: example.com\n") {
		t.Errorf("after = %q", after)
	}
	if _, _, err := f.op.Preview(it, "- nope: 1\n"); err == nil {
		t.Error("Preview of invalid routes should fail")
	}
}

func TestApproveWithoutLivePolicyKeepsRouteForStart(t *testing.T) {
	f := newFixture(t)
	if err := os.Remove(f.paths().Policy()); err != nil {
		t.Fatal(err)
	}
	it := f.submit(t, queue.ToolEgressAllow, exampleRoute)
	if err := f.op.Decide(it, Decision{Status: queue.StatusApproved}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(f.paths().Policy()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a live policy of approved routes alone was created: %v", err)
	}
	if !strings.Contains(read(t, f.paths().Approved()), "host: example.com") {
		t.Error("the route was not kept in approved.yaml")
	}
	if r, err := f.response(t, it.Proposal.ID); err != nil || r.Status != queue.StatusApproved {
		t.Errorf("response = %+v, %v", r, err)
	}
}

func TestPreviewCapabilityShowsWhatIsAppended(t *testing.T) {
	f := newFixture(t)
	it := f.submit(t, queue.ToolCapabilityBlock, "RUN apt-get install -y jq   \r\n")
	before, after, err := f.op.Preview(it, it.Proposal.ProposedFile)
	if err != nil || before != "" || after != "# proposal "+it.Proposal.ID+" (impl-k3x9q)\nRUN apt-get install -y jq\n" {
		t.Errorf("Preview = %q, %q, %v", before, after, err)
	}
	if _, _, err := f.op.Preview(it, "COPY / /\n"); err == nil {
		t.Error("Preview of a refused instruction should say why")
	}
}

func TestStaleProposal(t *testing.T) {
	f := newFixture(t)
	q := queue.New(f.paths().Queue())
	fresh, _ := q.Submit(queue.Proposal{Tool: queue.ToolEgressAllow, ProposedFile: "- host: a.example\n", CurrentFileHash: queue.HashFile([]byte(livePolicy))})
	old, _ := q.Submit(queue.Proposal{Tool: queue.ToolEgressAllow, ProposedFile: "- host: b.example\n", CurrentFileHash: queue.HashFile([]byte("egress: {}\n"))})
	got := map[string]bool{}
	items, _ := f.op.Pending()
	for _, it := range items {
		got[it.Proposal.ID] = it.Stale
	}
	if diff := cmp.Diff(map[string]bool{fresh.ID: false, old.ID: true}, got); diff != "" {
		t.Errorf("Stale (-want +got):\n%s", diff)
	}
}

func TestConcurrentDecisionsAnswerOnce(t *testing.T) {
	f := newFixture(t)
	it := f.submit(t, queue.ToolEgressAllow, exampleRoute)
	errs := make(chan error, 8)
	for i := range 8 {
		go func() {
			status := queue.StatusApproved
			if i%2 == 1 {
				status = queue.StatusRejected
			}
			errs <- f.op.Decide(it, Decision{Status: status})
		}()
	}
	ok := 0
	for range 8 {
		err := <-errs
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, ErrRefused):
			t.Errorf("Decide = %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d decisions succeeded, want exactly 1", ok)
	}
	if es := auditEntries(t, f); len(es) != 1 {
		t.Errorf("audit has %d lines, want 1", len(es))
	}
}

func TestRefreshCurrentConfig(t *testing.T) {
	f := newFixture(t)
	if err := RefreshCurrentConfig(f.home, f.slug); err != nil {
		t.Fatal(err)
	}
	got := read(t, filepath.Join(f.paths().CurrentConfig(), "egress.yaml"))
	if !strings.Contains(got, "token_ref: ANTHROPIC_API_KEY") || !strings.Contains(got, "log: 1") {
		t.Errorf("current-config egress.yaml = %q", got)
	}
	if fi, err := os.Stat(filepath.Join(f.paths().CurrentConfig(), "egress.yaml")); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("mode = %v, %v; the agent user must be able to read it", fi.Mode().Perm(), err)
	}
	if _, err := os.Stat(filepath.Join(f.paths().CurrentConfig(), "capabilities.Dockerfile")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("capabilities.Dockerfile written with no approved changes: %v", err)
	}
}

// The audit line of a proven egress-block names the proxy's refusal, the
// operator and the route; a rejected one holds what was rejected.
func TestAuditRecordsWhatAndWho(t *testing.T) {
	f := newFixture(t)
	p, err := queue.New(f.paths().Queue()).Submit(queue.Proposal{
		BottleSlug: f.slug, Tool: queue.ToolEgressBlock, ProposedFile: exampleRoute, ArrivalTimestamp: t0,
		Justification: queue.ProvenMark + " (refusal rf-0123456789abcdef): GET https://example.com/v1/x refused at 2026-12-07T06:00:00Z\n\n" + queue.AgentWords + " need it",
	})
	if err != nil {
		t.Fatal(err)
	}
	it, _ := f.op.Find(p.ID)
	if err := f.op.Decide(it, Decision{Status: queue.StatusApproved}); err != nil {
		t.Fatal(err)
	}
	rej := f.submit(t, queue.ToolCapabilityBlock, "RUN apt-get install -y jq\n")
	if err := f.op.Decide(rej, Decision{Status: queue.StatusRejected, Notes: "no"}); err != nil {
		t.Fatal(err)
	}
	es := auditEntries(t, f)
	if len(es) != 2 || es[0].RefusalID != "rf-0123456789abcdef" || es[0].Operator != "alice" || es[0].Content != exampleRoute {
		t.Errorf("approved egress-block audit: %+v", es)
	}
	if es[1].Content != "RUN apt-get install -y jq\n" || es[1].Operator != "alice" || es[1].RefusalID != "" {
		t.Errorf("rejected capability audit: %+v", es[1])
	}
	if rep, err := audit.Verify(audit.Path(f.home, f.slug)); err != nil || !rep.OK {
		t.Errorf("verify: %+v %v", rep, err)
	}
}
