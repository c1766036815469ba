package apply

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bot-bottle/bot-bottle/internal/supervise/queue"
)

// TestPendingSaysWhatABuildMayReach: a capability-block proposal carries
// the hosts of the build policy the bottle's last start wrote, for the
// operator to see at approval time; none written is unknown (nil), not
// "nothing".
func TestPendingSaysWhatABuildMayReach(t *testing.T) {
	f := newFixture(t)
	f.submit(t, queue.ToolCapabilityBlock, "RUN apt-get install -y jq\n")
	reach := func() []string {
		items, errs := f.op.Pending()
		if len(errs) != 0 || len(items) != 1 {
			t.Fatalf("pending %v %v", items, errs)
		}
		return items[0].BuildReach
	}
	if got := reach(); got != nil {
		t.Errorf("no build policy written: %q, want nil (unknown)", got)
	}
	pol := f.paths().BuildPolicy()
	if err := os.MkdirAll(filepath.Dir(pol), 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(pol, []byte("egress:\n  routes:\n    - host: api.github.com\n    - host: deb.debian.org\n    - host: deb.debian.org\n      ports: [8080]\n"), 0o600)
	if diff := cmp.Diff([]string{"api.github.com", "deb.debian.org"}, reach()); diff != "" {
		t.Errorf("build reach (-want +got):\n%s", diff)
	}
}
