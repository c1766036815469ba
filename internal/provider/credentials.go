package provider

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// Secret is a credential value. It never prints: String, GoString, JSON
// and slog all show a redaction. Reveal is the only way to the value.
type Secret struct{ v string }

// NewSecret wraps v.
func NewSecret(v string) Secret { return Secret{v: v} }

// Reveal returns the value, for the one place that hands it to the sidecar.
func (s Secret) Reveal() string { return s.v }

func (s Secret) String() string               { return "[redacted]" }
func (s Secret) GoString() string             { return "provider.Secret([redacted])" }
func (s Secret) LogValue() slog.Value         { return slog.StringValue("[redacted]") }
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"[redacted]"`), nil }

// HostCredentials is a forwarded login as the launch needs it: secret
// values for the sidecar's environment, and placeholder files for the
// agent.
type HostCredentials struct {
	// SidecarEnv maps sidecar variable names to secret values.
	SidecarEnv map[string]Secret
	// Files are written into the agent instead of the real credentials.
	Files []File
}

// placeholderToken stands in for a refresh token in the agent.
const placeholderToken = "bot-bottle-placeholder"

// ReadHostCredentials reads the credential file hc names under home, at
// launch. now stamps the placeholder's last refresh so the agent does not
// try to refresh a token it does not have.
func ReadHostCredentials(hc HostCredentialsSpec, home string, now time.Time) (HostCredentials, error) {
	file := filepath.Join(home, hc.File)
	data, err := readSmall(file)
	if err != nil {
		return HostCredentials{}, fmt.Errorf("reading host credentials %s: %w", file, err)
	}
	switch hc.Kind {
	case Codex:
		// The agent's copy sits where the host's does, under its home.
		c, err := codexCredentials(data, path.Join(AgentHome, filepath.ToSlash(hc.File)), now)
		if err != nil {
			return HostCredentials{}, fmt.Errorf("reading host credentials %s: %w", file, err)
		}
		return c, nil
	}
	return HostCredentials{}, fmt.Errorf("reading host credentials: unknown kind %q", hc.Kind)
}

// codexAuth is ~/.codex/auth.json.
type codexAuth struct {
	APIKey *string      `json:"OPENAI_API_KEY"`
	Tokens *codexTokens `json:"tokens"`
}

type codexTokens struct {
	IDToken      string `json:"id_token"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	AccountID    string `json:"account_id,omitempty"`
}

// codexCredentials forwards a ChatGPT sign-in: the sidecar gets the access
// token; the agent gets auth.json with every token replaced. The JWTs keep
// their claims (Codex reads the plan and account from them) but lose their
// signatures, so they are worth nothing outside.
func codexCredentials(data []byte, agentPath string, now time.Time) (HostCredentials, error) {
	var a codexAuth
	if err := json.Unmarshal(data, &a); err != nil {
		return HostCredentials{}, fmt.Errorf("parsing codex auth.json: %w", err)
	}
	if a.Tokens == nil || a.Tokens.AccessToken == "" {
		if a.APIKey != nil && *a.APIKey != "" {
			return HostCredentials{}, errors.New("codex is signed in with an API key: set agent_provider.auth_token to the variable that holds it instead")
		}
		return HostCredentials{}, errors.New("codex is not signed in (run `codex login` on the host)")
	}
	id, err := unsigned(a.Tokens.IDToken)
	if err != nil {
		return HostCredentials{}, fmt.Errorf("codex id_token: %w", err)
	}
	access, err := unsigned(a.Tokens.AccessToken)
	if err != nil {
		return HostCredentials{}, fmt.Errorf("codex access_token: %w", err)
	}
	placeholder := map[string]any{
		"OPENAI_API_KEY": nil,
		"tokens": codexTokens{
			IDToken:      id,
			AccessToken:  access,
			RefreshToken: placeholderToken,
			AccountID:    a.Tokens.AccountID,
		},
		"last_refresh": now.UTC().Format(time.RFC3339Nano),
	}
	b, err := json.MarshalIndent(placeholder, "", "  ")
	if err != nil {
		return HostCredentials{}, err
	}
	return HostCredentials{
		SidecarEnv: map[string]Secret{CodexAccessTokenEnv: NewSecret(a.Tokens.AccessToken)},
		Files:      []File{{Path: agentPath, Content: string(b) + "\n", Mode: 0o600}},
	}, nil
}

// unsigned keeps a JWT's payload and drops its signature ("alg": "none").
func unsigned(jwt string) (string, error) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return "", errors.New("not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || !json.Valid(payload) {
		return "", errors.New("not a JWT")
	}
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	return header + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString([]byte(placeholderToken)), nil
}
