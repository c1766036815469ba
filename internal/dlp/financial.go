package dlp

import (
	"bytes"
	"crypto/sha256"
	"strings"

	"github.com/mr-tron/base58"
	"github.com/tyler-smith/go-bip39"
	"github.com/tyler-smith/go-bip39/wordlists"
)

// DetectorFinancial finds payment and wallet data that no token rule
// describes. Every candidate must pass its checksum (Luhn, mod-97,
// base58check, bech32, the BIP-39 checksum), so random digits and ids do
// not match.
const DetectorFinancial = "financial"

// Rule ids of the financial detector.
const (
	RulePaymentCard   = "payment-card"
	RuleIBAN          = "iban"
	RuleWIF           = "bitcoin-wif-private-key"
	RuleMnemonic      = "bip39-mnemonic"
	RuleBase58Address = "base58check-address"
	RuleBech32Address = "bech32-address"
)

// finMatch is one financial finding at [Start, End) of the text.
type finMatch struct {
	Start, End int
	Rule       string
}

// bip39First is, for each three-letter prefix, 1 + the index of the first
// word of the (sorted) English list that starts with it, 0 for none: a
// word is found by comparing it with the few words of its prefix, not by
// hashing it (every English word in a prompt is looked up).
var bip39First = func() (t [26 * 26 * 26]uint16) {
	for i := len(wordlists.English) - 1; i >= 0; i-- {
		t[prefix3(wordlists.English[i])] = uint16(i + 1)
	}
	return t
}()

func prefix3(w string) int {
	return int(w[0]-'a')*676 + int(w[1]-'a')*26 + int(w[2]-'a')
}

const (
	fcLower = 1 << iota
	fcUpper
	fcDigit
)

var finClass = func() (t [256]uint8) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = fcLower
		t[c-'a'+'A'] = fcUpper
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = fcDigit
	}
	return t
}()

// findFinancial returns the financial matches in text. One pass over
// maximal alphanumeric runs; only runs of the right length and first
// character are decoded and checked.
func findFinancial(text []byte) []finMatch {
	var (
		out        []finMatch
		words      int // consecutive BIP-39 words, one space apart
		wordsStart int
		lastEnd    = -2
	)
	flushWords := func() {
		if words >= 12 {
			out = append(out, mnemonicMatches(text, wordsStart, lastEnd)...)
		}
		words = 0
	}
	for i := 0; i < len(text); {
		if finClass[text[i]] == 0 {
			i++
			continue
		}
		j := i
		var seen uint8
		for j < len(text) && finClass[text[j]] != 0 {
			seen |= finClass[text[j]]
			j++
		}
		run := text[i:j]
		switch {
		case seen == fcLower && len(run) >= 3 && len(run) <= 8 && isBIP39(run):
			if words == 0 || i != lastEnd+1 || text[lastEnd] != ' ' {
				flushWords()
				wordsStart = i
			}
			words++
			lastEnd = j
		case seen == fcDigit:
			flushWords()
			if end, ok := paymentCard(text, i); ok {
				out = append(out, finMatch{i, end, RulePaymentCard})
				j = end
			}
		default:
			flushWords()
			if len(run) >= 14 {
				if r := walletRule(run); r != "" {
					out = append(out, finMatch{i, j, r})
				} else if end, ok := iban(text, i); ok {
					out = append(out, finMatch{i, end, RuleIBAN})
					j = end
				}
			} else if seen&fcUpper != 0 && seen&fcDigit != 0 && len(run) >= 4 {
				if end, ok := iban(text, i); ok { // IBAN written in groups of four
					out = append(out, finMatch{i, end, RuleIBAN})
					j = end
				}
			}
		}
		i = j
	}
	flushWords()
	return out
}

// isBIP39 reports a word of the English list; w is lower case, 3 to 8
// letters.
func isBIP39(w []byte) bool {
	p := int(w[0]-'a')*676 + int(w[1]-'a')*26 + int(w[2]-'a')
	i := int(bip39First[p])
	if i == 0 {
		return false
	}
	for _, c := range wordlists.English[i-1:] {
		if prefix3(c) != p {
			return false
		}
		if string(w) == c {
			return true
		}
	}
	return false
}

// mnemonicMatches checks every window of 12, 15, 18, 21 or 24 words in
// the list-word run text[from:to] against the BIP-39 checksum.
func mnemonicMatches(text []byte, from, to int) []finMatch {
	ws := strings.Fields(string(text[from:to]))
	offs := make([]int, 0, len(ws)+1)
	p := from
	for _, w := range ws {
		offs = append(offs, p)
		p += len(w) + 1
	}
	offs = append(offs, to+1)
	var out []finMatch
	for i := 0; i+12 <= len(ws); {
		found := 0
		for n := 24; n >= 12; n -= 3 {
			if i+n <= len(ws) {
				if _, err := bip39.EntropyFromMnemonic(strings.Join(ws[i:i+n], " ")); err == nil {
					found = n
					break
				}
			}
		}
		if found == 0 {
			i++
			continue
		}
		out = append(out, finMatch{offs[i], offs[i+found] - 1, RuleMnemonic})
		i += found
	}
	return out
}

// paymentCard reads digits from i, allowing one space or dash between
// groups, and accepts 13–19 digits with a known issuer prefix that pass
// the Luhn check.
func paymentCard(text []byte, i int) (int, bool) {
	if i > 0 && (finClass[text[i-1]] != 0 || text[i-1] == '.' || text[i-1] == '-') {
		return 0, false // part of a longer token or a decimal
	}
	var digits [19]byte
	n, end := 0, i
	sep := byte(0)
	for p := i; p < len(text); p++ {
		c := text[p]
		if finClass[c] == fcDigit {
			if n == len(digits) {
				return 0, false
			}
			digits[n] = c - '0'
			n++
			end = p + 1
			continue
		}
		if (c == ' ' || c == '-') && (sep == 0 || sep == c) && p+1 < len(text) && finClass[text[p+1]] == fcDigit && p > i && finClass[text[p-1]] == fcDigit {
			sep = c
			continue
		}
		break
	}
	if end < len(text) && (finClass[text[end]] != 0 || text[end] == '.' && end+1 < len(text) && finClass[text[end+1]] == fcDigit) {
		return 0, false
	}
	if n < 13 || !cardIssuer(digits[:n]) || !luhn(digits[:n]) {
		return 0, false
	}
	return end, true
}

func luhn(d []byte) bool {
	sum := 0
	for i := range d {
		v := int(d[len(d)-1-i])
		if i%2 == 1 {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	return sum%10 == 0
}

// cardIssuer: the number starts with a range a card network issues, at a
// length that network uses.
func cardIssuer(d []byte) bool {
	n := len(d)
	lead := func(k int) int {
		v := 0
		for _, c := range d[:k] {
			v = v*10 + int(c)
		}
		return v
	}
	switch {
	case d[0] == 4: // Visa
		return n == 13 || n == 16 || n == 19
	case lead(2) >= 51 && lead(2) <= 55, lead(4) >= 2221 && lead(4) <= 2720: // Mastercard
		return n == 16
	case lead(2) == 34 || lead(2) == 37: // American Express
		return n == 15
	case lead(4) == 6011, lead(3) >= 644 && lead(3) <= 649, lead(2) == 65: // Discover
		return n >= 16
	case lead(4) >= 3528 && lead(4) <= 3589: // JCB
		return n >= 16
	case lead(3) >= 300 && lead(3) <= 305, lead(2) == 36, lead(2) == 38, lead(2) == 39: // Diners Club
		return n >= 14
	case lead(2) == 62: // UnionPay
		return n >= 16
	}
	return false
}

// ibanLengths is the IBAN length of each country (ISO 13616 registry).
var ibanLengths = map[string]int{
	"AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
	"BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
	"ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
	"HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
	"LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
	"MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29,
	"RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28,
	"TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}

// iban reads an IBAN at i (compact, or in groups split by single spaces)
// and accepts it when its length fits the country and mod 97 is 1.
func iban(text []byte, i int) (int, bool) {
	if i+4 > len(text) || finClass[text[i]] != fcUpper || finClass[text[i+1]] != fcUpper ||
		finClass[text[i+2]] != fcDigit || finClass[text[i+3]] != fcDigit {
		return 0, false
	}
	want, ok := ibanLengths[string(text[i:i+2])]
	if !ok {
		return 0, false
	}
	var buf [34]byte
	n, end := 0, i
	for p := i; p < len(text) && n < want; p++ {
		c := text[p]
		if c == ' ' && p+1 < len(text) && finClass[text[p+1]] != 0 && (n%4 == 0) {
			continue
		}
		if finClass[c] == 0 || finClass[c] == fcLower {
			break
		}
		buf[n] = c
		n++
		end = p + 1
	}
	if n != want || (end < len(text) && finClass[text[end]] != 0) {
		return 0, false
	}
	// Move the first four characters to the end; letters count 10..35.
	rem := 0
	for k := range n {
		c := buf[(k+4)%n]
		if c >= 'A' {
			rem = (rem*100 + int(c-'A'+10)) % 97
		} else {
			rem = (rem*10 + int(c-'0')) % 97
		}
	}
	return end, rem == 1
}

// walletRule checks a run as a WIF private key, a base58check address or
// a bech32 address; "" when it is none.
func walletRule(run []byte) string {
	n := len(run)
	switch c := run[0]; {
	case (n == 51 && (c == '5' || c == '9')) || (n == 52 && (c == 'K' || c == 'L' || c == 'c')):
		if p, ok := base58Check(run); ok && (p[0] == 0x80 || p[0] == 0xef) &&
			(len(p) == 33 || len(p) == 34 && p[33] == 0x01) {
			return RuleWIF
		}
	case n >= 25 && n <= 35 && (c == '1' || c == '3' || c == 'm' || c == 'n' || c == '2'):
		if p, ok := base58Check(run); ok && len(p) == 21 && (p[0] == 0x00 || p[0] == 0x05 || p[0] == 0x6f || p[0] == 0xc4) {
			return RuleBase58Address
		}
	case n >= 14 && n <= 90:
		if bech32Valid(run) {
			return RuleBech32Address
		}
	}
	return ""
}

// base58Check decodes s and verifies its 4-byte double-SHA-256 checksum;
// it returns the payload (version byte first).
func base58Check(s []byte) ([]byte, bool) {
	if bytes.ContainsAny(s, "0OIl") {
		return nil, false
	}
	b, err := base58.Decode(string(s))
	if err != nil || len(b) < 5 {
		return nil, false
	}
	p, sum := b[:len(b)-4], b[len(b)-4:]
	h := sha256.Sum256(p)
	h = sha256.Sum256(h[:])
	return p, bytes.Equal(h[:4], sum)
}

const bech32Charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

// bech32Valid: s is a bech32 or bech32m string (BIP-173, BIP-350) whose
// human-readable part names a coin network, with a valid checksum.
func bech32Valid(s []byte) bool {
	str := strings.ToLower(string(s))
	if str != string(s) && strings.ToUpper(string(s)) != string(s) {
		return false // mixed case is invalid
	}
	sep := strings.LastIndexByte(str, '1')
	if sep < 1 || sep+7 > len(str) {
		return false
	}
	switch str[:sep] {
	case "bc", "tb", "bcrt", "ltc", "tltc":
	default:
		return false
	}
	hrp, data := str[:sep], str[sep+1:]
	vals := make([]int, 0, len(hrp)*2+1+len(data))
	for i := range len(hrp) {
		vals = append(vals, int(hrp[i]>>5))
	}
	vals = append(vals, 0)
	for i := range len(hrp) {
		vals = append(vals, int(hrp[i]&31))
	}
	for i := range len(data) {
		v := strings.IndexByte(bech32Charset, data[i])
		if v < 0 {
			return false
		}
		vals = append(vals, v)
	}
	chk := bech32Polymod(vals)
	return chk == 1 || chk == 0x2bc830a3
}

func bech32Polymod(vals []int) int {
	gen := [5]int{0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3}
	chk := 1
	for _, v := range vals {
		b := chk >> 25
		chk = (chk&0x1ffffff)<<5 ^ v
		for i := range 5 {
			if (b>>i)&1 == 1 {
				chk ^= gen[i]
			}
		}
	}
	return chk
}
