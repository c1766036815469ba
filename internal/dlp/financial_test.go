package dlp

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tyler-smith/go-bip39"
	"github.com/tyler-smith/go-bip39/wordlists"
)

func TestFinancialFinds(t *testing.T) {
	mn, err := bip39.NewMnemonic(bytes.Repeat([]byte{0x5a}, 16))
	if err != nil {
		t.Fatal(err)
	}
	mn24, _ := bip39.NewMnemonic(bytes.Repeat([]byte{0xc3}, 32))
	for _, tc := range []struct{ name, text, rule string }{
		{"visa", "card: 4111111111111111 exp 12/29", RulePaymentCard},
		{"visa spaced", "pay with 4111 1111 1111 1111 please", RulePaymentCard},
		{"mastercard dashed", `{"pan":"5555-5555-5555-4444"}`, RulePaymentCard},
		{"amex", "amex=378282246310005&cvv=123", RulePaymentCard},
		{"mastercard 2-series", "2223003122003222", RulePaymentCard},
		{"iban compact", "iban=DE89370400440532013000", RuleIBAN},
		{"iban grouped", "IBAN: GB82 WEST 1234 5698 7654 32.", RuleIBAN},
		{"wif uncompressed", "key 5HueCGU8rMjxEXxiPuD5BDku4MkFqeZyd4dZ1jvhTVqvbTLvyTJ", RuleWIF},
		{"wif compressed", "KwdMAjGmerYanjeui5SHS7JkmpZvVipYvB2LJGU1ZxJwYvP98617", RuleWIF},
		{"p2pkh", "send to 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", RuleBase58Address},
		{"p2sh", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", RuleBase58Address},
		{"bech32", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", RuleBech32Address},
		{"bech32m", "BC1P0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQZK5JJ0", RuleBech32Address},
		{"mnemonic 12", "seed: " + mn + ".", RuleMnemonic},
		{"mnemonic 24", `{"m":"` + mn24 + `"}`, RuleMnemonic},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := findFinancial([]byte(tc.text))
			if len(got) != 1 || got[0].Rule != tc.rule {
				t.Fatalf("findFinancial(%q) = %+v, want one %s", tc.text, got, tc.rule)
			}
		})
	}
}

func TestFinancialIgnores(t *testing.T) {
	for _, text := range []string{
		"4111111111111112",       // Luhn fails
		"1733551937123",          // a millisecond timestamp
		"order 9111111111111111", // no issuer
		"v1.4111111111111111",    // part of a version
		"41111111111111110000",   // too long
		"DE89370400440532013001", // mod-97 fails
		"XX89370400440532013000", // no such country
		"5HueCGU8rMjxEXxiPuD5BDku4MkFqeZyd4dZ1jvhTVqvbTLvyTj", // checksum fails
		"1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb",
		"bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5",
		"3b18e512dba79e4c8300dd08aeb37f8e728b8dad",                                             // git object id
		"550e8400-e29b-41d4-a716-446655440000",                                                 // UUID
		"abandon ability able about above absent absorb abstract absurd abuse access accident", // list words, bad checksum
		"sha512-9Qv1p0Ps2Tk1oPtg2m+zyLwGhvNj3Bx6JdOMCzmtOjXJ5t0dlvXe1qpJHtiPFsDGvMsd5kvA5d2w1R7RUqS1jQ==",
	} {
		if got := findFinancial([]byte(text)); len(got) != 0 {
			t.Errorf("findFinancial(%q) = %+v, want none", text, got)
		}
	}
}

// TestIsBIP39 checks the prefix-table lookup against the list itself:
// every word is found, and nothing else (near misses of every word: one
// letter changed, cut, or longer).
func TestIsBIP39(t *testing.T) {
	list := map[string]bool{}
	for _, w := range wordlists.English {
		list[w] = true
	}
	check := func(w string) {
		if len(w) < 3 || len(w) > 8 || strings.ToLower(w) != w || strings.IndexFunc(w, func(r rune) bool { return r < 'a' || r > 'z' }) >= 0 {
			return
		}
		if got := isBIP39([]byte(w)); got != list[w] {
			t.Fatalf("isBIP39(%q) = %v, the list says %v", w, got, list[w])
		}
	}
	for _, w := range wordlists.English {
		check(w)
		check(w[:len(w)-1])
		check(w + "s")
		for i := range len(w) {
			for c := byte('a'); c <= 'z'; c++ {
				b := []byte(w)
				b[i] = c
				check(string(b))
			}
		}
	}
}
