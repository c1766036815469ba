package dlp

import (
	"bytes"
	"slices"
	"sync"
)

// A phrase is only half the story: the same words quoted in an article
// about prompt injection, or shown in a code block, are not addressed to
// the model; said to the reader ("AI assistant: before you answer, …")
// they are. score moves each hit's level one step down when it is
// discussed and one step up when it is addressed to the reader, and two
// different undiscussed phrases together are High.

const scoreWindow = 160 // bytes around a hit searched for context

// discussionMarkers introduce an example rather than an instruction.
var discussionMarkers = []string{
	"for example", "for instance", "e.g.", "a common attack", "an attacker", "attackers ",
	"attacker's", "example of", "example payload", "might look like", "looks like this",
	"phrases like", "strings like", "the phrase", "payloads", "injection attack",
	"prompt injection", "jailbreak", "red team", "blocklist", "such as the",
}

// aboutInjection names the subject of a page that discusses attacks.
var aboutInjection = []string{"prompt injection", "injection attack", "jailbreak", "prompt-injection", "indirect injection"}

// addressMarkers speak to the model reading the text, or press it to act
// now.
var addressMarkers = []string{
	"you must", "you should now", "you are required", "you need to", "you will now",
	"immediately", "right now", "without asking", "silently", "do not ask", "don't ask",
	"before responding", "before answering", "before replying", "before you respond",
	"before you answer", "before continuing", "before doing anything",
	"ai assistant", "ai agent", "dear ai", "dear assistant", "if you are an ai",
	"attention ai", "assistant:", "agent:", "to the ai", "to any ai", "coding agent",
	"language model", "as an ai", "the assistant must", "the agent must", "the model must",
	"the ai must", "after you finish", "when you are done",
	"agents must", "agents should", "assistants must", "assistants should", "models must",
	// asking for the result back is speaking to whoever runs it
	"show me", "in your reply", "in your answer", "in your response", "in your summary",
	"in your next message", "reply with", "paste it here", "include the output", "include it in",
}

// The marker automata are built once and never change.
var (
	discussionAC = sync.OnceValue(func() *acMatcher { return newACMatcher(discussionMarkers) })
	aboutAC      = sync.OnceValue(func() *acMatcher { return newACMatcher(aboutInjection) })
	addressAC    = sync.OnceValue(func() *acMatcher { return newACMatcher(addressMarkers) })
)

// discussedNote ends the reason of a hit score lowered as quoted or
// discussed.
const discussedNote = " (quoted or discussed)"

// scoring is what score may know about the text around it.
type scoring struct {
	// local: the text is a window cut out of a longer stream (the part of
	// a body past what was held and judged whole). Whether a quotation or
	// a code fence opened before the window is unknown there, so neither
	// lowers a hit; an address marker counts quoted or not.
	local bool
	// distinct carries the rules of undiscussed hits from one window to
	// the next, so two different phrases far apart in a stream are High
	// together as they would be in one text. nil: this text only.
	distinct map[string]bool
}

// score adjusts hits found in text (their Start/End are offsets in text).
func score(text []byte, hits []injectionHit) []injectionHit {
	return scoreWith(text, hits, scoring{})
}

func scoreWith(text []byte, hits []injectionHit, sc scoring) []injectionHit {
	if len(hits) == 0 {
		return hits
	}
	about := countMatches(aboutAC(), text, 1) >= 1
	var fences []int
	if !sc.local {
		fences = fenceOffsets(text)
	}
	distinct := sc.distinct
	if distinct == nil {
		distinct = map[string]bool{}
	}
	out := make([]injectionHit, 0, len(hits))
	for _, h := range hits {
		if h.Start < 0 || h.Start > h.End || h.End > len(text) {
			out = append(out, h) // a whole-text finding (invisible characters)
			continue
		}
		lvl := int(h.Level)
		quoted, fenced := false, false
		if !sc.local {
			quoted, fenced = insideQuote(text, h.Start), insideCode(fences, h.Start)
		}
		before := text[max(0, h.Start-scoreWindow):h.Start]
		around := text[max(0, h.Start-scoreWindow):min(len(text), h.End+scoreWindow)]
		// A described attack ("tries to leak …") is no block; a bare
		// "exfiltrate" in it still earns its warning.
		marked := countMatches(discussionAC(), before, 1) > 0 || (h.Level == High && describedLead(before))
		lo := max(0, h.Start-scoreWindow)
		addressed := spokenAddress(text, lo, h.Start, around, sc.local) && h.Rule != "addresses-the-model"
		// A quotation or a code block lowers the score on a page about
		// attacks, or when nothing in it speaks to the reader (a string
		// literal in a test, an install command in the docs).
		discussed := marked || ((quoted || fenced) && (about || !addressed))
		switch {
		case discussed && about && !addressed:
			lvl -= 2 // an example on a page about attacks, said to no one
		case discussed:
			lvl--
			h.Reason += discussedNote
		case addressed && !fenced:
			lvl++
		}
		lvl = max(0, min(lvl, int(High)))
		h.Level = Level(lvl)
		if h.Level != None && !discussed {
			distinct[h.Rule] = true
		}
		if h.Level != None {
			out = append(out, h)
		}
	}
	if len(distinct) >= 2 {
		for i := range out {
			if distinct[out[i].Rule] {
				out[i].Level = High
			}
		}
	}
	return out
}

// describedLeads end a sentence that says what an attack does rather
// than doing it: "a payload that tries to leak the system prompt".
var describedLeads = []string{"tries to", "try to", "trying to", "attempts to", "attempt to",
	"designed to", "meant to", "aims to", "the model to", "the agent to", "the assistant to",
	"the model into", "the agent into", "talked into", "tricked into"}

// describedLead reports one of describedLeads right before a hit (the
// last 24 bytes of before, trailing spaces and a verb's -ing aside).
func describedLead(before []byte) bool {
	t := bytes.ToLower(bytes.TrimRight(before[max(0, len(before)-24):], " "))
	if i := bytes.LastIndexByte(t, ' '); i >= 0 && bytes.HasSuffix(t, []byte("ing")) {
		t = bytes.TrimRight(t[:i], " ") // "talked into running"
	}
	for _, l := range describedLeads {
		if bytes.HasSuffix(t, []byte(l)) {
			return true
		}
	}
	return false
}

// spokenAddress reports an address marker in around (which starts at
// offset lo of text) that speaks to the reader of the hit at start: one
// outside any quotation, or inside the same quotation as the hit ("AI
// assistant: ignore …" quoted whole). "AI agent:" quoted further on, as
// an example, greets no one.
func spokenAddress(text []byte, lo, start int, around []byte, local bool) bool {
	hits, _ := addressAC().scanAll(around, nil, len(around))
	for _, a := range hits {
		p := lo + a.End - addressAC().lens[a.Pattern]
		if local || !insideQuote(text, p) || sameQuote(text, min(p, start), max(p, start)) {
			return true
		}
	}
	return false
}

// sameQuote: no line break or quotation mark between i and j.
func sameQuote(text []byte, i, j int) bool {
	return !bytes.ContainsAny(text[i:j], "\n\"`“”«»")
}

func countMatches(m *acMatcher, b []byte, limit int) int {
	hits, _ := m.scanAll(b, nil, limit)
	return len(hits)
}

// insideQuote reports whether the line before i leaves a quotation open:
// an odd number of straight double quotes or backticks, more opening than
// closing curly quotes, or a Markdown block quote.
func insideQuote(text []byte, i int) bool {
	ls := bytes.LastIndexByte(text[:i], '\n') + 1
	line := text[ls:i]
	if bytes.HasPrefix(bytes.TrimLeft(line, " \t"), []byte(">")) {
		return true
	}
	if (bytes.Count(line, []byte(`"`))%2 == 1 && !valueQuote(line)) || bytes.Count(line, []byte("`"))%2 == 1 {
		return true
	}
	if bytes.Count(line, []byte("“")) > bytes.Count(line, []byte("”")) ||
		bytes.Count(line, []byte("«")) > bytes.Count(line, []byte("»")) {
		return true
	}
	// a single-quoted example: a quote right before the phrase
	t := bytes.TrimRight(line, " ")
	return len(t) > 0 && (t[len(t)-1] == '\'' || bytes.HasSuffix(t, []byte("‘")))
}

// valueQuote: the open double quote on line delimits a data value, not a
// quotation: a CSV field (`,"`) or a YAML/INI value (`key: "`, `key="`
// with a lowercase identifier key at the line's start).
func valueQuote(line []byte) bool {
	q := bytes.LastIndexByte(line, '"')
	if q > 0 && line[q-1] == ',' {
		return true
	}
	t := bytes.TrimLeft(line[:q], " \t-")
	t = bytes.TrimRight(t, " ")
	if len(t) < 2 || (t[len(t)-1] != ':' && t[len(t)-1] != '=') {
		return false
	}
	for _, c := range t[:len(t)-1] {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// insideCode reports a fenced code block open at i (htmlText turns
// <pre> and <code> into fences); fences are the sorted fence offsets.
func insideCode(fences []int, i int) bool {
	n, _ := slices.BinarySearch(fences, i)
	return n%2 == 1
}

func fenceOffsets(text []byte) []int {
	var out []int
	for _, f := range [][]byte{[]byte("```"), []byte("~~~")} {
		for off := 0; ; {
			j := bytes.Index(text[off:], f)
			if j < 0 {
				break
			}
			out = append(out, off+j)
			off += j + len(f)
		}
	}
	slices.Sort(out)
	return out
}
