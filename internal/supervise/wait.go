package supervise

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/bot-bottle/bot-bottle/internal/supervise/queue"
)

// stream finds the response writer of the HTTP request that carried req.
func (s *Server) stream(req *mcp.CallToolRequest) *streamWriter {
	if req == nil || req.Extra == nil || req.Extra.Header == nil {
		return nil
	}
	v, ok := s.streams.Load(req.Extra.Header.Get(streamHeader))
	if !ok {
		return nil
	}
	return v.(*streamWriter)
}

// await waits up to cfg.Wait for the answer to p, keeping the stream alive:
// it flushes the response headers at once, writes an SSE comment every
// KeepAlive, and sends progress notifications when the client gave a
// progress token (clients do so only sometimes, so the comments are what
// keep the stream alive). It answers "pending" when the wait runs out.
func (s *Server) await(ctx context.Context, req *mcp.CallToolRequest, p queue.Proposal) (*mcp.CallToolResult, Outcome, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Wait)
	defer cancel()
	sw := s.stream(req)
	if sw != nil {
		stop := context.AfterFunc(sw.ctx, cancel) // the client hung up
		defer stop()
		sw.comment("waiting for the operator")
	}
	var token any
	if req != nil && req.Params != nil {
		token = req.Params.GetProgressToken()
	}
	start := time.Now()
	progress := func() {
		if token == nil || req.Session == nil {
			return
		}
		el := time.Since(start).Round(time.Second)
		_ = req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{
			ProgressToken: token,
			Progress:      el.Seconds(),
			Total:         s.cfg.Wait.Seconds(),
			Message:       fmt.Sprintf("waiting for the operator to answer proposal %s (%v)", p.ID, el),
		})
	}
	progress()
	poll := time.NewTicker(s.cfg.Poll)
	defer poll.Stop()
	keep := time.NewTicker(s.cfg.KeepAlive)
	defer keep.Stop()
	for {
		r, err := s.queue.Response(p.ID)
		switch {
		case err == nil:
			return s.answered(p, r)
		case !errors.Is(err, queue.ErrNotFound):
			s.log.Error("reading response", "id", p.ID, "err", err)
			return nil, Outcome{}, fmt.Errorf("the operator's answer to %s cannot be read; ask the operator", p.ID)
		}
		select {
		case <-ctx.Done():
			return pending(p)
		case <-poll.C:
		case <-keep.C:
			if sw != nil {
				sw.comment("still waiting for the operator")
			}
			progress()
		}
	}
}

func pending(p queue.Proposal) (*mcp.CallToolResult, Outcome, error) {
	o := Outcome{
		ID:     p.ID,
		Status: StatusPending,
		Tool:   p.Tool,
		Message: fmt.Sprintf("pending, proposal ID %s: the operator has not answered yet. "+
			"Work on something else if you can, and call proposal-status with id %s later (wait: true waits for the answer). "+
			"Do not file the same request again.", p.ID, p.ID),
	}
	return text(o.Message), o, nil
}

// answered reports the operator's answer to the agent and, for proposals
// this server raised, archives the pair: the answer has now been read by
// the side that raised it (DESIGN.md, Supervision).
func (s *Server) answered(p queue.Proposal, r queue.Response) (*mcp.CallToolResult, Outcome, error) {
	o := Outcome{ID: p.ID, Status: r.Status, Tool: p.Tool, Notes: r.Notes}
	if r.Status == queue.StatusModified {
		o.FinalFile = r.FinalFile
	}
	o.Message = message(p.Tool, r)
	switch p.Tool {
	case queue.ToolEgressAllow, queue.ToolEgressBlock, queue.ToolCapabilityBlock:
		if err := s.queue.Archive(p.ID); err != nil {
			s.log.Error("archiving proposal", "id", p.ID, "err", err)
		}
	}
	s.log.Info("proposal answered", "id", p.ID, "tool", p.Tool, "status", r.Status, "bottle", s.cfg.Slug)
	return text(o.Message), o, nil
}

func message(tool string, r queue.Response) string {
	var m string
	live := tool == queue.ToolEgressAllow || tool == queue.ToolEgressBlock
	switch {
	case r.Status == queue.StatusRejected:
		m = "Rejected by the operator. Do not retry the same request or look for a way around it; continue without it or ask differently."
	case r.Status == queue.StatusModified && live:
		m = "Approved with changes by the operator: the routes in final_file are live now (not necessarily what you asked for). Retry your request if they cover it."
	case r.Status == queue.StatusModified && tool == queue.ToolCapabilityBlock:
		m = "Approved with changes by the operator: the lines in final_file will be added to your image at the next start of the bottle, not in this running container."
	case live:
		m = "Approved: the routes are live now. Retry your request."
	case tool == queue.ToolCapabilityBlock:
		m = "Approved: the lines will be added to your image at the next start of the bottle, not in this running container."
	default:
		m = fmt.Sprintf("Answered: %s.", r.Status)
	}
	if r.Notes != "" {
		m += "\nOperator's notes: " + r.Notes
	}
	if r.Status == queue.StatusModified {
		m += "\nfinal_file:\n" + r.FinalFile
	}
	return m
}

func text(s string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
}
