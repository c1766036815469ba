package dlp

// Entropy warnings: long runs of token characters that look random. Warn
// only: hashes, ids and compressed blobs look just as random.
const (
	entropyMinLen    = 24
	entropyThreshold = 4.3 // bits per character; base64 noise is ~5, words ~3.5
)

var tokenChar = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "+/=_-" {
		t[c] = true
	}
	return t
}()

// charClass bits for the entropy scan.
const (
	ccToken = 1 << iota
	ccDigit
	ccLetter
)

var charClass = func() (t [256]uint8) {
	for c := range 256 {
		if tokenChar[c] {
			t[c] |= ccToken
		}
		switch {
		case '0' <= c && c <= '9':
			t[c] |= ccDigit
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
			t[c] |= ccLetter
		}
	}
	return t
}()

func entropyWarnings(s segment) []Finding {
	var out []Finding
	text := s.Text
	for i := 0; i < len(text); {
		if charClass[text[i]]&ccToken == 0 {
			i++
			continue
		}
		j := i
		var seen uint8
		for j < len(text) {
			c := charClass[text[j]]
			if c&ccToken == 0 {
				break
			}
			seen |= c
			j++
		}
		if j-i >= entropyMinLen && seen&ccDigit != 0 && seen&ccLetter != 0 && shannonEntropy(string(text[i:j])) >= entropyThreshold {
			out = append(out, Finding{
				Detector:    DetectorEntropy,
				Rule:        "high-entropy-string",
				Where:       s.Where,
				Redacted:    excerpt(text, []span{{Start: i, End: j}}, 0),
				Fingerprint: fingerprint(text[i:j]),
			})
		}
		i = j
	}
	return out
}
