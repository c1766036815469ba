package dlp

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// Level is the confidence of an injection verdict.
type Level int

// Levels, lowest first. High blocks the response; Medium is logged.
const (
	None Level = iota
	Medium
	High
)

func (l Level) String() string {
	switch l {
	case Medium:
		return "medium"
	case High:
		return "high"
	}
	return "none"
}

// InjectionVerdict is what DetectInjection concluded, and why.
type InjectionVerdict struct {
	Level  Level
	Reason string // what the text tries to do, with a short excerpt
	Rule   string // the heuristic that fired
}

// ErrInjection is returned by an SSE scanner's Read after a High event.
var ErrInjection = errors.New("dlp: prompt injection detected in response")

// injectionRule is one phrase heuristic. Every match of Re starts with one
// of Keywords (lowercase), so the regex is only tried, anchored, where a
// keyword begins.
type injectionRule struct {
	ID       string
	Level    Level
	Reason   string
	Keywords []string
	Re       *regexp.Regexp
	// Needs, when set: words (lowercase) of which one must occur within
	// the window after a keyword before Re is tried. Rules whose keywords
	// are everyday verbs ("run", "show") stay cheap on ordinary prose.
	Needs []string
}

func anchored(re string) *regexp.Regexp { return regexp.MustCompile(`^(?:` + re + `)`) }

// injectionRules are naive on purpose: phrases that text meant for a human
// reader rarely contains and that injected instructions nearly always do.
// High is reserved for phrasing with no everyday use.
var injectionRules = []injectionRule{
	{"ignore-previous-instructions", High, "tells the model to ignore its instructions",
		[]string{"ignore", "disregard", "forget", "override", "skip"},
		anchored(`(?i)(?:ignore|disregard|forget|override|skip)\s+(?:(?:all|any|each|every|the|your|my|of|these|those)\s+)*(?:previous|prior|above|earlier|preceding|former|original|initial|system|developer)\s+(?:instructions?|prompts?|directions?|rules|guidelines|guidance|context|messages?|commands?)\b`), nil},
	{"conceal-from-user", High, "tells the model to hide what it does from the user",
		[]string{"do not", "don't", "dont", "never", "must not", "without"},
		anchored(`(?i)(?:(?:do\s+not|don'?t|never|must\s+not)\s+(?:tell|inform|mention\s+(?:this|it)\s+to|reveal\s+(?:this|it)\s+to|alert|notify)\s+(?:the\s+)?(?:user|human|operator)|without\s+(?:telling|informing|alerting|notifying|letting)\s+(?:the\s+)?(?:user|human|operator))\b`), nil},
	{"chat-template-spoof", High, "contains chat-template control tokens that fake a system turn",
		[]string{"<|im_start|>", "<|start_header_id|>", "<|system|>", "<<sys>>", "<|endoftext|>"},
		anchored(`(?i)<\|im_start\|>\s*(?:system|assistant)|<\|start_header_id\|>\s*(?:system|assistant)|<\|system\|>|<<SYS>>|<\|endoftext\|>`), nil},
	{"role-override", High, "tells the model it is now a different, unrestricted agent",
		[]string{"you are now", "you're now"},
		anchored(`(?i)you(?:\s+are|'re)\s+now\s+(?:in\s+)?(?:DAN\b|developer\s+mode|god\s+mode|jailbroken|unrestricted|unfiltered|an?\s+(?:unrestricted|unfiltered|uncensored|evil)|no\s+longer\s+bound|free\s+of)`), nil},
	{"exfiltrate-with-shell", High, "tells the model to send environment, keys or credentials out with a shell command",
		[]string{"curl", "wget", "nc", "ncat", "invoke-webrequest"},
		anchored(`(?i)(?:curl|wget|nc|ncat|invoke-webrequest)\b[^\n]{0,200}?(?:\$\(\s*(?:env|printenv|set|cat\s+[^)]{0,80}(?:\.env|\.ssh|id_rsa|id_ed25519|credentials|\.netrc|\.npmrc|\.pypirc|\.git-credentials))|(?:-d|--data(?:-binary|-raw|-urlencode)?|-F|--form|-T|--upload-file|--post-file|--body-file)\s*[=\s]\s*['"]?[^\s'"]{0,40}(?:\.env\b|\.ssh/|id_rsa|id_ed25519|\.aws/credentials|\.netrc|\.git-credentials|/etc/passwd))`), []string{"$(", ".env", ".ssh", "id_rsa", "id_ed25519", ".aws", ".netrc", ".git-credentials", "/etc/passwd", ".npmrc", ".pypirc"}},
	{"authority-claim", High, "claims the authority of the system, an administrator or the model's maker",
		[]string{"[system", "[admin", "[override", "[developer", "[sys", "[root", "[operator", "as your", "you now have", "you have been granted", "you have now been granted", "this message is from", "this is a message from", "this instruction comes from", "system override", "admin override", "admin mode", "maintenance mode", "elevated privileges"},
		anchored(`(?i)\[(?:system|admin(?:istrator)?|override|developer|sys|root|operator)(?:[\s_-]+(?:message|override|notice|instructions?|prompt|alert|command|mode))?\]\s*:?\s*(?:you|ignore|from|new|the\s+(?:assistant|ai|agent|model)|all|your|do|execute|run|print|reveal|send|disregard|forget|override|stop|elevated|admin|access)|as\s+your\s+(?:administrator|admin|developer|creator|operator|owner|supervisor|system\s+administrator|maker|master|security\s+team)\b|you\s+(?:now\s+have|have\s+(?:now\s+)?been\s+granted)\s+(?:elevated|admin(?:istrator)?|root|full|unrestricted|developer|superuser|special)\s+(?:privileges|access|permissions|rights|mode)|this\s+(?:message|instruction|is\s+a\s+message)\s+(?:is\s+|comes\s+)?from\s+(?:the\s+|your\s+)?(?:system|administrator|admin|developer|operator|anthropic|openai|security\s+team)\b|(?:system|admin)\s+override\b|(?:admin|maintenance)\s+mode\s+(?:is\s+(?:now\s+)?)?(?:enabled|activated|active|engaged|unlocked|on)\b|elevated\s+privileges\s+(?:granted|enabled|active)`), nil},
	{"prompt-extraction", High, "asks the model to reveal its system prompt or tool definitions",
		[]string{"print", "reveal", "output", "repeat", "show", "display", "dump", "leak", "share", "tell", "write", "recite", "list", "echo", "copy", "paste", "include", "return", "send", "give", "disclose", "expose"},
		anchored(`(?i)(?:print|reveal|output|repeat|show|display|dump|leak|share|tell(?:\s+me)?|write(?:\s+out)?|recite|list|echo|copy|paste|include|return|send|give(?:\s+me)?|disclose|expose)\s+(?:me\s+|us\s+|back\s+|out\s+)?(?:(?:all|of|verbatim|word\s+for\s+word)\s+)*(?:your|the\s+(?:assistant'?s|model'?s|agent'?s|ai'?s)|the)\s+(?:(?:full|entire|complete|exact|original|hidden|initial|secret|internal|raw|verbatim|current)\s+)*(?:(?:list|set|names?)\s+of\s+(?:(?:your|the|all)\s+)?)?(?:system\s+(?:prompt|message|instructions?)|initial\s+(?:prompt|instructions)|hidden\s+(?:prompt|instructions)|developer\s+(?:message|prompt|instructions)|tool\s+(?:definitions?|schemas?|list|specs?)|function\s+(?:definitions?|schemas?)|(?:available|internal)\s+tools|instructions\s+(?:above|you\s+(?:were|have\s+been)\s+given)|(?:prompt|context)\s+above|text\s+above|words\s+above|conversation\s+so\s+far)\b|(?:repeat|print|output)\s+(?:everything|all(?:\s+the\s+text)?|the\s+words)\s+(?:above|before\s+this)`), []string{"prompt", "instruction", "tool", "function", "above", "message", "conversation", "before this"}},
	{"pipe-to-shell", Medium, "runs remote content in a shell",
		[]string{"curl", "wget", "iwr", "invoke-webrequest", "irm", "invoke-restmethod", "fetch", "sh", "bash", "zsh", "ksh", "dash"},
		anchored(`(?i)(?:curl|wget|iwr|invoke-webrequest|irm|invoke-restmethod|fetch)\b[^\n|]{0,200}\|\s*(?:sudo\s+(?:-\S+\s+)*)?(?:ba|z|k|da|fi)?sh\b|(?:curl|wget)\b[^\n|]{0,200}\|\s*(?:sudo\s+)?(?:python3?|perl|ruby|node)\b|(?:iwr|invoke-webrequest|irm|invoke-restmethod)\b[^\n|]{0,200}\|\s*iex\b|(?:ba|z|k|da)?sh\s+(?:<\(|-c\s+['"]?\$\()\s*(?:curl|wget)\b`), []string{"|", "<(", "$("}},
	{"read-credentials", Medium, "tells the model to read credential files",
		[]string{"cat", "read", "open", "print", "type", "get-content", "less", "head", "tail", "display", "show", "output", "send", "upload", "copy", "include", "attach", "base64", "xxd"},
		anchored(`(?i)(?:cat|read|open|print|type|get-content|less|head|tail|display|show|output|send|upload|copy|include|attach|base64|xxd)\s+(?:-\S+\s+(?:\d+\s+)?)*(?:(?:out\s+)?(?:the\s+)?(?:contents?\s+of\s+|file\s+)?(?:the\s+)?)?['"\x60]?[~$%:\w/\\.{}-]*(?:\.ssh[/\\]id_(?:rsa|ed25519|ecdsa|dsa)\b(?:[^.]|$)|\.aws[/\\]credentials|\.env\b|\.netrc|\.npmrc|\.pypirc|\.git-credentials|\.docker[/\\]config\.json|\.kube[/\\]config|/etc/shadow|credentials\.json|gh[/\\]hosts\.yml|\.config[/\\]gcloud|/proc/self/environ|\.bash_history)`), []string{".ssh", ".aws", ".env", ".netrc", ".npmrc", ".pypirc", ".git-credentials", ".docker", ".kube", "/etc/shadow", "credentials.json", "hosts.yml", "gcloud", "environ", "history"}},
	{"tool-instruction", Medium, "tells the model to call a tool or run a command",
		[]string{"call", "invoke", "use", "run", "execute", "trigger", "now run", "please run"},
		anchored(`(?i)(?:call|invoke|use|trigger)\s+(?:the\s+|your\s+)?\x60?[a-z0-9_.:-]{2,40}\x60?\s+(?:tool|function|mcp\s+tool)\s+(?:to|with|and)\b|(?:run|execute)\s+(?:the\s+)?following\s+(?:shell\s+|bash\s+|terminal\s+|powershell\s+)?(?:commands?|code|script)\b|(?:run|execute)\s+(?:this|these)\s+(?:shell\s+|bash\s+)?commands?\s+(?:now|immediately|first|silently|before|without)`), []string{"tool", "function", "following", "command"}},
	{"decode-and-run", High, "hides an instruction behind an encoding and asks for it to be run",
		[]string{"decode", "base64", "atob", "from base64", "unbase64", "run the decoded", "execute the decoded", "follow the decoded", "eval", "exec", "powershell"},
		anchored(`(?i)(?:decode\s+(?:it|this|these|that|and|the\s+following|the\s+(?:attached|below|above|string|payload|text|message|blob|hex|base64))|base64\s+(?:-d|--decode|-D)|atob|from\s+base64|unbase64)\b[^\n]{0,120}?\b(?:run|execute|eval|follow|obey|perform|carry\s+out|pipe\s+(?:it\s+)?(?:in)?to)\b|base64\s+(?:-d|--decode|-D)\b[^\n|]{0,80}\|\s*(?:ba|z)?sh\b|(?:run|execute|follow|obey)\s+the\s+decoded\b|eval\s*\(\s*atob\s*\(|(?:exec|eval)\s*\(\s*(?:base64\.(?:b64|b32|b85|urlsafe_b64)decode|codecs\.decode|bytes\.fromhex|zlib\.decompress|marshal\.loads|Buffer\.from)\s*\(|powershell(?:\.exe)?\s+(?:-\w+\s+)*-(?:e|ec|enc|encodedcommand)\s+[A-Za-z0-9+/=]{16,}`), []string{"run", "exec", "eval", "follow", "obey", "perform", "carry", "pipe", "|", "decode", "fromhex", "zlib", "marshal", "buffer.from", " -e"}},
	{"override-task", Medium, "replaces the model's task with another",
		[]string{"your new task", "your real task", "your actual task", "your true task", "your new goal", "your real goal", "your new objective", "stop what you", "instead of", "forget everything", "ignore everything", "disregard everything", "do not follow"},
		anchored(`(?i)your\s+(?:new|real|actual|true)\s+(?:task|goal|objective|mission|job|purpose)\s+(?:is|now\s+is|will\s+be)\b|stop\s+what\s+you(?:'re|\s+are)\s+doing\b|instead\s+of\s+(?:summari[sz]ing|answering|reviewing|doing\s+what\s+the\s+user)|(?:forget|ignore|disregard)\s+everything\s+(?:above|before|you\s+(?:were|have\s+been)\s+told|else)|do\s+not\s+follow\s+(?:your|the)\s+(?:previous|original|system|user'?s)\b`), nil},
	{"fake-system-message", Medium, "pretends to be a system or developer message",
		[]string{"<system", "</system", "<developer", "</developer", "<instruction", "</instruction", "[inst]", "[/inst]", "system", "developer"},
		anchored(`(?i)</?(?:system|system[_-]?prompt|developer|instructions?)>|\[/?INST\]|(?:system|developer)\s+(?:message|prompt|override|instructions?)\s*:`), nil},
	{"new-instructions", Medium, "announces new instructions for the model",
		[]string{"new", "updated", "real", "actual", "true", "additional", "secret", "hidden", "from now on", "important"},
		anchored(`(?i)(?:new|updated|real|actual|true|additional|secret|hidden)\s+(?:system\s+)?instructions?\s*:|from\s+now\s+on,?\s+(?:you|the\s+(?:assistant|model|agent|ai))\s+(?:will|must|should|are)\b|important\s*[:!]\s*(?:the\s+)?(?:ai|assistant|agent|model|llm)\b`), []string{"instruction", "from now on", "important"}},
	{"addresses-the-model", Medium, "speaks directly to an AI model reading the page",
		[]string{"note to", "attention", "message for", "instructions for", "ai", "llm", "language model", "assistant", "agent", "if you are"},
		anchored(`(?i)(?:note\s+to|attention|message\s+for|instructions?\s+for)\s*:?\s+(?:the\s+|any\s+|all\s+)?(?:ai|llm|language\s+model|assistant|agent|claude|chatgpt|gpt|codex|copilot)s?\b|(?:ai|llm|language\s+model|assistant|agent)s?\s+(?:reading|processing|parsing|summari[sz]ing)\s+this\b|if\s+you\s+are\s+an?\s+(?:ai|llm|language\s+model|assistant|agent|bot)\b`), []string{"reading", "processing", "parsing", "summari", "note to", "attention", "message for", "instructions for", "if you are"}},
	{"exfiltrate", Medium, "asks for secrets to be sent somewhere",
		[]string{"exfiltrat", "send", "post", "upload", "leak", "forward", "transmit", "email", "paste", "attach", "submit"},
		anchored(`(?i)exfiltrat(?:e|es|ed|ing|ion)\b|(?:send|post|upload|leak|forward|transmit|email|paste|attach|submit)\b(?:[^.\n]|\.\S){0,60}?\b(?:your|the|all|any)\s+(?:[\w-]+\s+)?(?:api[\s_-]?keys?|tokens?|secrets?|credentials?|passwords?|ssh\s+keys?|private\s+keys?|env(?:ironment)?(?:\s+variables?)?|\.env)\b(?:[^.\n]|\.\S){0,60}?\b(?:to|into|at)\b`), nil},
	// Running a named command is what READMEs say all day; said to the
	// model reading the page it is an instruction. Level None: score
	// raises it to Medium only when addressed, never when quoted.
	{"run-command", None, "tells the model to run a command",
		[]string{"run", "execute"},
		anchored(`(?i)(?:run|execute)\s*:?\s+\x60?(?:sudo\s+)?(?:git|npm|npx|yarn|pnpm|pip3?|kubectl|helm|rm|chmod|chown|curl|wget|docker|terraform|aws|gcloud|az|ssh|scp|python3?|node|bash|sh|make|cargo)\s+[-\w]`),
		runCommandNeeds},
	{"shell-with-secret", Medium, "a shell command that sends a token-like variable",
		[]string{"curl", "wget"},
		anchored(`(?i)(?:curl|wget)\b[^\n]{0,200}?\$\{?[A-Z_]*(?:TOKEN|API_?KEY|SECRET|PASSWORD|CREDENTIALS?)\b`), nil},
}

// runCommandNeeds are the commands run-command knows, as they follow
// "run": after a space or a backtick (so "rm" in "perform" wakes nothing).
var runCommandNeeds = func() []string {
	var out []string
	for _, c := range strings.Fields("git npm npx yarn pnpm pip kubectl helm rm chmod chown curl wget docker terraform aws gcloud az ssh scp python node bash sh make cargo") {
		out = append(out, " "+c, "`"+c)
	}
	return out
}()

// injection is the compiled detector: one automaton over every rule's
// keywords plus the invisible-character markers.
type injection struct {
	ac       *acMatcher
	kwRule   [][]int // pattern id -> rules
	nKw      int32
	needRule []int // pattern id - nKw - len(invisibleMarks) -> rule
	// hits recycles find's keyword hits (*[]acHit): a text's hits are
	// garbage once its rules are tried.
	hits sync.Pool
}

// Invisible characters, found by their UTF-8 prefixes in the same pass.
const (
	markTag       = iota // U+E0000..E007F (tag characters)
	markZeroWidth        // U+200B..U+200D, U+2060, U+FEFF
	markBidi             // U+202A..U+202E, U+2066..U+2069
)

var invisibleMarks = []struct {
	seq  string
	kind int
}{
	{"\xf3\xa0\x80", markTag}, {"\xf3\xa0\x81", markTag},
	{"\u200b", markZeroWidth}, {"\u200c", markZeroWidth}, {"\u200d", markZeroWidth},
	{"\u2060", markZeroWidth}, {"\ufeff", markZeroWidth},
	{"\u202a", markBidi}, {"\u202b", markBidi}, {"\u202c", markBidi}, {"\u202d", markBidi},
	{"\u202e", markBidi}, {"\u2066", markBidi}, {"\u2067", markBidi}, {"\u2068", markBidi}, {"\u2069", markBidi},
}

func newInjection() *injection {
	in := &injection{}
	var pats []string
	for ri, r := range injectionRules {
		for _, k := range r.Keywords {
			pats = append(pats, k)
			in.kwRule = append(in.kwRule, []int{ri})
		}
	}
	in.nKw = int32(len(pats))
	for _, m := range invisibleMarks {
		pats = append(pats, m.seq)
	}
	for ri, r := range injectionRules {
		for _, w := range r.Needs {
			pats = append(pats, w)
			in.needRule = append(in.needRule, ri)
		}
	}
	in.ac = newACMatcher(pats)
	return in
}

// injectionHit is one rule firing; End is where its match ends.
type injectionHit struct {
	Rule    string
	Level   Level
	Reason  string
	Excerpt string
	Start   int // -1 for a finding about the whole text
	End     int
}

const injectionWindow = 320

// maxFirings bounds the matches kept per rule and view: enough that
// quoted examples placed first cannot hide a real instruction after them
// from score, few enough that scoring stays cheap.
const maxFirings = 64

// maxPooledHits: a hit slice grown past it is let go, not recycled.
const maxPooledHits = 1 << 14

// needPositions is, per rule, where its needed words start, in order.
func (in *injection) needPositions(hits []acHit) map[int][]int {
	base := in.nKw + int32(len(invisibleMarks))
	var out map[int][]int
	for _, h := range hits {
		if h.Pattern < base {
			continue
		}
		if out == nil {
			out = map[int][]int{}
		}
		ri := in.needRule[h.Pattern-base]
		out[ri] = append(out[ri], h.End-in.ac.lens[h.Pattern])
	}
	for _, pos := range out {
		slices.Sort(pos) // scanAll's lanes report out of order
	}
	return out
}

// needed reports a position in [from, to) in the sorted list pos.
func needed(pos []int, from, to int) bool {
	i, _ := slices.BinarySearch(pos, from)
	return i < len(pos) && pos[i] < to
}

func (in *injection) find(text []byte) []injectionHit {
	// Inbound text is the upstream's: no limit on hits, but each rule
	// fires once and is tried once per keyword position.
	hp, _ := in.hits.Get().(*[]acHit)
	if hp == nil {
		hp = new([]acHit)
	}
	hits, _ := in.ac.scanAll(text, (*hp)[:0], math.MaxInt)
	defer func() {
		if cap(hits) <= maxPooledHits {
			*hp = hits
			in.hits.Put(hp)
		}
	}()
	if len(hits) == 0 {
		return nil
	}
	var out []injectionHit
	var marks [3]bool
	fired := make([]int, len(injectionRules))
	tried := map[[2]int]bool{}
	needs := in.needPositions(hits)
	for _, h := range hits {
		if h.Pattern >= in.nKw+int32(len(invisibleMarks)) {
			continue // a needed word, collected above
		}
		if h.Pattern >= in.nKw {
			marks[invisibleMarks[h.Pattern-in.nKw].kind] = true
			continue
		}
		start := h.End - in.ac.lens[h.Pattern]
		if !isWordBoundary(text, start) && isWordByte(text[start]) {
			continue // inside a word ("nc" in "once")
		}
		for _, ri := range in.kwRule[h.Pattern] {
			if fired[ri] >= maxFirings {
				continue
			}
			if r := &injectionRules[ri]; len(r.Needs) > 0 && !needed(needs[ri], start, start+injectionWindow) {
				continue
			}
			if tried[[2]int{ri, start}] {
				continue
			}
			tried[[2]int{ri, start}] = true
			if len(tried) > regexBudget(len(text)) {
				// Text built to wake the phrases everywhere could hide one
				// behind its cost: fail closed.
				return append(out, injectionHit{Rule: "too-dense-to-scan", Level: High,
					Reason: "the text holds too many trigger words to check them all", Start: -1, End: len(text)})
			}
			r := &injectionRules[ri]
			end := min(len(text), start+injectionWindow)
			if m := r.Re.FindIndex(text[start:end]); m != nil {
				fired[ri]++
				out = append(out, injectionHit{Rule: r.ID, Level: r.Level, Reason: r.Reason,
					Excerpt: printable(text[start : start+m[1]]), Start: start, End: start + m[1]})
			}
		}
	}
	if marks[markTag] {
		out = append(out, tagHits(text, in)...)
	}
	if marks[markZeroWidth] {
		if run, end := longestZeroWidthRun(text); run >= 3 {
			lvl := Medium
			if run >= 8 {
				lvl = High
			}
			out = append(out, injectionHit{Rule: "zero-width-smuggling", Level: lvl,
				Reason: fmt.Sprintf("hides data in a run of %d zero-width characters", run), Start: -1, End: end})
		}
	}
	if marks[markBidi] {
		out = append(out, injectionHit{Rule: "bidi-override", Level: Medium,
			Reason: "contains bidirectional override characters that reorder what a human sees", Start: -1, End: len(text)})
	}
	return out
}

// tagHits decodes Unicode tag characters (invisible ASCII twins) outside
// emoji flag sequences. Hidden text is High on its own; what it says is
// scanned too.
func tagHits(text []byte, in *injection) []injectionHit {
	var hidden []byte
	end := 0
	for i := 0; i < len(text); {
		r, n := utf8.DecodeRune(text[i:])
		if r == 0x1F3F4 { // black flag: a subdivision flag's tags follow
			j := i + n
			for j < len(text) {
				t, m := utf8.DecodeRune(text[j:])
				j += m
				if t == 0xE007F || t < 0xE0000 || t > 0xE007F {
					break
				}
			}
			i = j
			continue
		}
		if r >= 0xE0000 && r <= 0xE007F {
			if r >= 0xE0020 && r < 0xE007F {
				hidden = append(hidden, byte(r-0xE0000))
			}
			end = i + n
		}
		i += n
	}
	if len(hidden) < 4 {
		return nil
	}
	out := []injectionHit{{Rule: "hidden-tag-characters", Level: High,
		Reason: fmt.Sprintf("hides %d characters of text in invisible Unicode tag characters: %q", len(hidden), printable(hidden)), Start: -1, End: end}}
	for _, h := range in.find(hidden) {
		h.Reason = "in hidden tag characters: " + h.Reason
		h.Start, h.End = -1, end
		out = append(out, h)
	}
	return out
}

func longestZeroWidthRun(text []byte) (int, int) {
	best, cur, end := 0, 0, 0
	for i := 0; i < len(text); {
		r, n := utf8.DecodeRune(text[i:])
		switch r {
		case 0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF:
			cur++
			if cur > best {
				best, end = cur, i+n
			}
		default:
			cur = 0
		}
		i += n
	}
	return best, end
}

// printable makes an excerpt safe for a log line: at most 80 runes, no
// control or invisible characters.
func printable(b []byte) string {
	var s strings.Builder
	n := 0
	for _, r := range string(b) {
		if n >= 80 {
			s.WriteString("…")
			break
		}
		if r < 0x20 || r == 0x7f || (r >= 0x200B && r <= 0x206F) || r == 0xFEFF || (r >= 0xE0000 && r <= 0xE007F) {
			r = ' '
		}
		s.WriteRune(r)
		n++
	}
	return s.String()
}

// read is every scored hit in every view of text a model may read
// (readViews).
func (in *injection) read(text []byte) []injectionHit { return in.readOf(text, readViews(text)) }

// readOf scores the views of text.
func (in *injection) readOf(text []byte, views [][]byte) []injectionHit {
	return in.readOfWith(text, views, scoring{})
}

func (in *injection) readOfWith(text []byte, views [][]byte, sc scoring) []injectionHit {
	var hits []injectionHit
	for i, v := range views {
		vh := scoreWith(v, in.find(v), sc)
		if i > 0 && !bytes.Equal(v, text) {
			for j := range vh {
				vh[j].Start = -1 // not an offset in text
			}
		}
		hits = append(hits, vh...)
	}
	return hits
}

// verdictOf picks the strongest hit.
func verdictOf(hits []injectionHit) InjectionVerdict {
	var v InjectionVerdict
	for _, h := range hits {
		if h.Level > v.Level {
			v = InjectionVerdict{Level: h.Level, Rule: h.Rule, Reason: h.Reason}
			if h.Excerpt != "" {
				v.Reason += fmt.Sprintf(": %q", h.Excerpt)
			}
		}
	}
	return v
}

// Injection detects prompt injection in response text. Build one with
// NewInjection and share it: it is immutable.
type Injection struct{ in *injection }

// NewInjection compiles the heuristics.
func NewInjection() *Injection { return &Injection{in: newInjection()} }

// Detect scans text (HTML, JSON or plain text) and returns the strongest
// verdict.
func (d *Injection) Detect(text []byte) InjectionVerdict {
	return verdictOf(d.in.read(text))
}

// sharedInjection is built once and never changes.
var sharedInjection = sync.OnceValue(NewInjection)

// DetectInjection scans text (HTML, JSON or plain text) for prompt
// injection and returns the strongest verdict.
func DetectInjection(text []byte) InjectionVerdict {
	return sharedInjection().Detect(text)
}
