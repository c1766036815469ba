package supervise

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strconv"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/supervise/queue"
)

// refusalIDRE is the shape of the proxy's refusal IDs
// (egress.RefusalIDHeader).
var refusalIDRE = regexp.MustCompile(`^rf-[0-9a-f]{16}$`)

// refusal is the proxy's own record of a refused request, from its log.
type refusal struct {
	Time   time.Time `json:"time"`
	ID     string    `json:"refusal_id"`
	Code   string    `json:"code"`
	Reason string    `json:"reason"`
	Method string    `json:"method"`
	Scheme string    `json:"scheme"`
	Host   string    `json:"host"`
	Port   int       `json:"port"`
	Path   string    `json:"path"`
}

// URL is the refused request's URL as the proxy saw it (no query: the
// proxy never logs one).
func (r refusal) URL() string {
	hp := r.Host
	if (r.Scheme == "https" && r.Port != 443) || (r.Scheme == "http" && r.Port != 80) {
		hp += ":" + strconv.Itoa(r.Port)
	}
	if r.Method == "CONNECT" {
		return hp
	}
	return r.Scheme + "://" + hp + r.Path
}

// findRefusal looks the ID up in the proxy's log of this bottle. Not
// found (also: no log) is ok=false; an unreadable log is an error.
func findRefusal(logPath, id string) (refusal, bool, error) {
	if logPath == "" {
		return refusal{}, false, nil
	}
	f, err := os.Open(logPath)
	if errors.Is(err, fs.ErrNotExist) {
		return refusal{}, false, nil
	}
	if err != nil {
		return refusal{}, false, err
	}
	defer f.Close()
	needle := []byte(`"refusal_id":"` + id + `"`)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		if !bytes.Contains(sc.Bytes(), needle) {
			continue
		}
		var r refusal
		if json.Unmarshal(sc.Bytes(), &r) == nil && r.ID == id {
			return r, true, nil
		}
	}
	return refusal{}, false, sc.Err()
}

// clean keeps log or agent text to one printable line of bounded length,
// so nothing can fake a line of the header the operator reads.
func clean(s string, max int) string {
	s = oneLine(s)
	if len(s) > max {
		s = s[:max] + "..."
	}
	return s
}

// provenHeader is the top of a proven egress-block justification.
func provenHeader(r refusal) string {
	return fmt.Sprintf("%s (refusal %s): %s %s refused at %s\nProxy's reason (%s): %s\n",
		queue.ProvenMark, r.ID, clean(r.Method, 32), clean(r.URL(), 2048), r.Time.UTC().Format(time.RFC3339),
		clean(r.Code, 64), clean(r.Reason, 1024))
}

// unprovenHeader is the top of an egress-block justification the proxy's
// log does not back: every field is the agent's.
func unprovenHeader(id, method, url, reason string) string {
	cited := "no refusal ID given"
	if id != "" {
		cited = "refusal ID " + id + " is not in this bottle's proxy log"
	}
	return fmt.Sprintf("%s (%s)\nRefused request (agent's claim): %s %s\nReason (agent's claim): %s\n",
		queue.UnprovenMark, cited, clean(method, 32), clean(url, 2048), clean(reason, 1024))
}
