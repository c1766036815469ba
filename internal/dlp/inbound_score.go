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
}

// The marker automata are built once and never change.
var (
	discussionAC = sync.OnceValue(func() *acMatcher { return newACMatcher(discussionMarkers) })
	aboutAC      = sync.OnceValue(func() *acMatcher { return newACMatcher(aboutInjection) })
	addressAC    = sync.OnceValue(func() *acMatcher { return newACMatcher(addressMarkers) })
)

// score adjusts hits found in text (their Start/End are offsets in text).
func score(text []byte, hits []injectionHit) []injectionHit {
	if len(hits) == 0 {
		return hits
	}
	about := countMatches(aboutAC(), text, 1) >= 1
	fences := fenceOffsets(text)
	distinct := map[string]bool{}
	out := make([]injectionHit, 0, len(hits))
	for _, h := range hits {
		if h.Start < 0 || h.Start > h.End || h.End > len(text) {
			out = append(out, h) // a whole-text finding (invisible characters)
			continue
		}
		lvl := int(h.Level)
		quoted, fenced := insideQuote(text, h.Start), insideCode(fences, h.Start)
		before := text[max(0, h.Start-scoreWindow):h.Start]
		around := text[max(0, h.Start-scoreWindow):min(len(text), h.End+scoreWindow)]
		marked := countMatches(discussionAC(), before, 1) > 0
		addressed := countMatches(addressAC(), around, 1) > 0 && h.Rule != "addresses-the-model"
		// A quotation or a code block lowers the score on a page about
		// attacks, or when nothing in it speaks to the reader (a string
		// literal in a test, an install command in the docs).
		discussed := marked || ((quoted || fenced) && (about || !addressed))
		switch {
		case discussed && about && !addressed:
			lvl -= 2 // an example on a page about attacks, said to no one
		case discussed:
			lvl--
			h.Reason += " (quoted or discussed)"
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
	if bytes.Count(line, []byte(`"`))%2 == 1 || bytes.Count(line, []byte("`"))%2 == 1 {
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
