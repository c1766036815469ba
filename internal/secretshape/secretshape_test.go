package secretshape

import "testing"

func TestRedact(t *testing.T) {
	cases := map[string]string{
		"Bearer abc123def456":                           "Bearer ***",
		"token ghp_" + "aB3aB3aB3aB3aB3aB3aB3aB3":       "token ***",
		"see sk_live_x7Yx7Yx7Yx7Yx7Yx7Y":                "see ***",
		"npm_" + "a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6": "***",
		"Basic authentication is supported":             "Basic authentication is supported",
		"plain text":                                    "plain text",
	}
	for in, want := range cases {
		if got := Redact(in, "***"); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}
