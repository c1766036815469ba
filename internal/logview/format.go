package logview

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// TimeLayout is how Format shows a line's time.
const TimeLayout = "Jan _2 15:04:05.000"

// Format renders l as one line for a person: time (in loc), source, the
// decision first, then the other fields as key=value. Every value is
// shown on one line with anything that could drive the terminal escaped:
// logs hold agent-chosen host names, paths and DNS names.
func Format(l Line, loc *time.Location) string {
	ts := strings.Repeat(" ", len(TimeLayout))
	if !l.Time.IsZero() {
		ts = l.Time.In(loc).Format(TimeLayout)
	}
	var body string
	switch {
	case l.Fields == nil:
		body = "(not JSON) " + safe(l.Text)
	default:
		body = describe(l.Source, l.Fields)
	}
	return fmt.Sprintf("%s %-9s %s", ts, l.Source, body)
}

// describe puts what was decided first; keys it used are not repeated.
func describe(source string, m map[string]any) string {
	used := map[string]bool{"time": true, "level": true, "msg": true, "daemon": true, "bottle": true}
	take := func(k string) string {
		v, ok := m[k]
		if !ok {
			return ""
		}
		used[k] = true
		if s, ok := v.(string); ok {
			return safe(s)
		}
		return value(v)
	}
	var head []string
	if lv := take("level"); lv != "" && lv != "INFO" {
		head = append(head, lv)
	}
	switch {
	case source == Egress && m["decision"] != nil:
		head = append(head, strings.ToUpper(take("decision")), take("method"), egressURL(m, take))
		if st := take("status"); st != "" {
			head = append(head, st)
		}
		if r := take("reason"); r != "" {
			head[len(head)-1] += ":"
			head = append(head, r)
		}
	case source == DNS && m["name"] != nil:
		head = append(head, "REFUSE", take("type"), take("name"))
		if r := take("reason"); r != "" {
			head[len(head)-1] += ":"
			head = append(head, r)
		}
	case source == Gate && m["outcome"] != nil:
		head = append(head, strings.ToUpper(take("outcome")), take("msg"), take("repo"))
		if refs, ok := m["refs"].([]any); ok {
			used["refs"] = true
			for _, r := range refs {
				head = append(head, value(r))
			}
		}
		if r := take("reason"); r != "" {
			head[len(head)-1] += ":"
			head = append(head, r)
		}
	case source == Attest:
		verdict := "closed"
		switch {
		case m["leaked"] == true:
			verdict = "LEAKED"
		case m["failed"] == true:
			verdict = "FAILED"
		case m["not_applicable"] == true:
			verdict = "n/a"
		}
		used["leaked"], used["failed"], used["not_applicable"], used["expected"] = true, true, true, true
		head = append(head, verdict, take("phase")+":", take("probe")+":", take("got"))
		for _, k := range []string{"category", "kind", "target"} {
			used[k] = true // the probe's name says them
		}
	case source == Audit:
		head = append(head, strings.ToUpper(take("action")), take("tool"), take("proposal_id"))
		if n := take("notes"); n != "" {
			head[len(head)-1] += ":"
			head = append(head, strconv.Quote(n))
		}
		for _, k := range []string{"before_hash", "after_hash", "prev_hash"} {
			used[k] = true // integrity data: bot-bottle audit verify checks it
		}
	default:
		head = append(head, take("msg"))
	}
	var rest []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if used[k] {
			continue
		}
		rest = append(rest, safe(k)+"="+value(m[k]))
	}
	parts := slices.DeleteFunc(append(head, rest...), func(s string) bool { return s == "" })
	return strings.Join(parts, " ")
}

func egressURL(m map[string]any, take func(string) string) string {
	scheme, host, port, path := take("scheme"), take("host"), take("port"), take("path")
	u := host
	if scheme != "" {
		u = scheme + "://" + host
	}
	if port != "" && !(scheme == "https" && port == "443") && !(scheme == "http" && port == "80") {
		u += ":" + port
	}
	return u + path
}

// value shows a JSON value on one line: strings as they are unless they
// need quoting, everything else as compact JSON.
func value(v any) string {
	switch x := v.(type) {
	case string:
		if x == "" || strings.ContainsAny(x, " \"=") || !printable(x) {
			return strconv.Quote(x)
		}
		return x
	case json.Number:
		return x.String()
	case nil:
		return "null"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "?"
	}
	return safe(string(b))
}

// safe is s when every rune is printable, else s quoted (Go syntax: \x1b,
// \u202e...).
func safe(s string) string {
	if printable(s) {
		return s
	}
	return strconv.Quote(s)
}

func printable(s string) bool {
	for _, r := range s {
		if !unicode.IsPrint(r) || unicode.Is(unicode.Cf, r) {
			return false
		}
	}
	return true
}
