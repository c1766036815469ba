package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/user"
	"slices"
	"strconv"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/lifecycle"
)

// bottleRow is one bottle as list shows it: what the engine runs joined
// with the state on the host.
type bottleRow struct {
	Slug      string    `json:"slug"`
	Agent     string    `json:"agent"`
	Label     string    `json:"label"`
	Color     string    `json:"color,omitempty"`
	State     string    `json:"state"`
	Sidecar   string    `json:"sidecar_state"`
	Created   time.Time `json:"created"`
	Committed string    `json:"committed_image,omitempty"`
	StateDir  string    `json:"state_dir,omitempty"`
	Preserved bool      `json:"preserved"`
	// Pending is how many proposals wait for the operator (supervise).
	Pending int `json:"pending_proposals"`
	// Owner is the host user whose state directory the bottle has; empty
	// when no state directory is known.
	Owner string `json:"owner,omitempty"`
}

func newListCmd(env Env) *cobra.Command {
	var asJSON, all bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List bottles: running, stopped, and resumable from their state",
		Long: `List every bottle the engines have containers for and every bottle
state under ~/.bot-bottle/state. STATE is the agent container's (running,
exited, created) or "saved" when only the state is left: "bot-bottle resume
SLUG" starts it again. On an engine shared by several users, only your
bottles are listed (those whose state lives under your ~/.bot-bottle);
--all lists everyone's, with their owner.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rows, err := listBottles(cmd.Context(), env, false)
			if err != nil {
				return err
			}
			root, err := stateRootDir(env)
			if err != nil {
				return err
			}
			rows, hidden := ownedRows(rows, root, all)
			if hidden > 0 {
				fmt.Fprintf(env.Stderr, "bot-bottle: %d bottle(s) of other users on this engine not shown; --all shows them\n", hidden)
			}
			countPending(env, rows)
			if asJSON {
				enc := json.NewEncoder(env.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(rows)
			}
			tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SLUG\tAGENT\tSTATE\tCREATED\tOWNER\tCOLOR\tPENDING\tLABEL")
			for _, r := range rows {
				created := ""
				if !r.Created.IsZero() {
					created = r.Created.Local().Format("2006-01-02 15:04")
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", r.Slug, r.Agent, r.State, created, cmp.Or(printable(r.Owner), "?"), cmp.Or(printable(r.Color), "-"), r.Pending, printable(r.Label))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().BoolVar(&all, "all", false, "list the bottles of every user of the engine, not only yours")
	return cmd
}

// ownedRows names each row's owner and, unless all, keeps only the
// caller's bottles: those whose state lives under root. A bottle with no
// known state directory cannot be attributed and is kept.
func ownedRows(rows []bottleRow, root string, all bool) ([]bottleRow, int) {
	me := "you"
	if u, err := user.Current(); err == nil {
		me = u.Username
	}
	out, hidden := rows[:0:0], 0
	for _, r := range rows {
		mine := within(root, r.StateDir)
		switch {
		case mine:
			r.Owner = me
		case r.StateDir != "":
			r.Owner = dirOwner(r.StateDir)
		}
		if !mine && r.StateDir != "" && !all {
			hidden++
			continue
		}
		out = append(out, r)
	}
	return out, hidden
}

// dirOwner is the user owning dir on this host, or the uid, or "another
// user" when the directory cannot be read.
func dirOwner(dir string) string {
	fi, err := os.Stat(dir)
	if err != nil {
		return "another user"
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "another user"
	}
	uid := strconv.FormatUint(uint64(st.Uid), 10)
	if u, err := user.LookupId(uid); err == nil {
		return u.Username
	}
	return "uid " + uid
}

// listBottles joins the engine's bottles with the saved state. Without an
// engine it shows the saved state alone, with a warning, unless
// needEngine (cleanup must know what runs before it removes state).
func listBottles(ctx context.Context, env Env, needEngine bool) ([]bottleRow, error) {
	root, err := stateRootDir(env)
	if err != nil {
		return nil, err
	}
	dirs, err := lifecycle.StateDirs(root)
	if err != nil {
		return nil, err
	}
	be, closeEngine, err := openEngines(ctx, env, needEngine)
	if err != nil {
		if needEngine {
			return nil, err
		}
		fmt.Fprintf(env.Stderr, "bot-bottle: warning: %v; showing saved state only\n", err)
		return joinRows(nil, dirs), nil
	}
	defer closeEngine()
	running, err := be.List(ctx)
	if err != nil {
		return nil, err
	}
	return joinRows(running, dirs), nil
}

// joinRows merges the engine's bottles with the state directories.
func joinRows(engine []backend.Summary, dirs map[string]string) []bottleRow {
	rows := map[string]*bottleRow{}
	for _, s := range engine {
		rows[s.Slug] = &bottleRow{Slug: s.Slug, Agent: s.Agent, Label: s.Label, State: s.State, Sidecar: s.Sidecar, Created: s.Created, StateDir: s.StateDir}
	}
	for slug, dir := range dirs {
		r, ok := rows[slug]
		if !ok {
			r = &bottleRow{Slug: slug, State: "saved", Sidecar: "missing"}
			rows[slug] = r
		}
		r.StateDir = dir
		r.Preserved = fileExists(dir, lifecycle.PreserveFile)
		if m, err := lifecycle.ReadMetadata(dir); err == nil {
			r.Agent = cmp.Or(r.Agent, m.Agent)
			r.Label = cmp.Or(r.Label, m.Label)
			r.Color = m.Color
			r.Committed = m.Image
			if r.Created.IsZero() {
				r.Created = m.Created
			}
		}
	}
	out := make([]bottleRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b bottleRow) int {
		return cmp.Or(b.Created.Compare(a.Created), cmp.Compare(a.Slug, b.Slug))
	})
	return out
}
