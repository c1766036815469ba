package plan

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/bot-bottle/bot-bottle/internal/ca"
)

// AgentTrustStore is the agent's Java trust store: the bottle CA alone, in
// PKCS#12, beside ca.pem.
const AgentTrustStore = AgentCADir + "/truststore.p12"

// javaTrust is what every JVM needs to trust the bottle CA and to use the
// proxy, through JAVA_TOOL_OPTIONS (the one variable every JVM reads; the
// JVM ignores HTTPS_PROXY).
var javaTrust = "-Djavax.net.ssl.trustStore=" + AgentTrustStore +
	" -Djavax.net.ssl.trustStoreType=PKCS12 -Djavax.net.ssl.trustStorePassword=" + ca.TrustStorePassword +
	javaProxy()

// javaProxy names the proxy of DefaultProxyURL for http and https, and the
// sidecar services the agent reaches directly (NoProxy).
func javaProxy() string {
	u, err := url.Parse(DefaultProxyURL)
	if err != nil {
		panic(err)
	}
	nonProxy := strings.ReplaceAll(NoProxy, ",", "|")
	var b strings.Builder
	for _, scheme := range []string{"http", "https"} {
		fmt.Fprintf(&b, " -D%s.proxyHost=%s -D%s.proxyPort=%s", scheme, u.Hostname(), scheme, u.Port())
	}
	return b.String() + " -Dhttp.nonProxyHosts=" + nonProxy
}

// CAEnv is every variable a toolchain reads for the CA file it trusts,
// each set to the bottle CA, so that each one's ordinary client trusts the
// proxy with no flag (docs/ca-trust.md lists which reads which). The
// system store the image ships is patched too (the backend's installCA);
// these cover the clients that read only their own variable.
func CAEnv() map[string]string {
	f := AgentCADir + "/ca.pem"
	return map[string]string{
		"SSL_CERT_FILE":                    f, // OpenSSL (curl, git, Ruby, PHP, Python ssl), Go
		"SSL_CERT_DIR":                     AgentCADir,
		"CURL_CA_BUNDLE":                   f,
		"GIT_SSL_CAINFO":                   f,
		"REQUESTS_CA_BUNDLE":               f, // Python requests
		"PIP_CERT":                         f,
		"NODE_EXTRA_CA_CERTS":              f, // node, npm
		"AWS_CA_BUNDLE":                    f,
		"DENO_CERT":                        f,
		"CARGO_HTTP_CAINFO":                f,
		"GRPC_DEFAULT_SSL_ROOTS_FILE_PATH": f,
		"CODEX_CA_CERTIFICATE":             f,
		"JAVA_TOOL_OPTIONS":                javaTrust,
	}
}

// withJavaTrust keeps a bottle's own JVM options after the trust store
// settings: JAVA_TOOL_OPTIONS also carries heap sizes and the like.
func withJavaTrust(own string) string {
	if own == "" {
		return javaTrust
	}
	return javaTrust + " " + own
}
