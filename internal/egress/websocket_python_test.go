package egress

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/bot-bottle/bot-bottle/internal/testenv"
)

// wsPyClient is Python's websockets library (10.x has no proxy support,
// so the script CONNECTs through HTTPS_PROXY itself and hands the socket
// over). It sends each argument as a text message and prints the replies
// and the close code and reason.
const wsPyClient = `
import asyncio, os, socket, ssl, sys, urllib.parse, websockets
async def main(url, msgs):
    u, p = urllib.parse.urlparse(url), urllib.parse.urlparse(os.environ["HTTPS_PROXY"])
    s = socket.create_connection((p.hostname, p.port), timeout=20)
    s.sendall(f"CONNECT {u.hostname}:{u.port} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    assert b" 200" in head.split(b"\r\n")[0], head
    ctx = ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    async with websockets.connect(url, sock=s, ssl=ctx, server_hostname=u.hostname, extra_headers={"Authorization": "Bearer placeholder"}) as ws:
        try:
            for m in msgs:
                await ws.send(m)
                print("got:" + await asyncio.wait_for(ws.recv(), 20))
            await ws.close()
        except (websockets.ConnectionClosed, asyncio.TimeoutError):
            pass
        print(f"close:{ws.close_code}:{ws.close_reason}")
asyncio.run(main(sys.argv[1], sys.argv[2:]))
`

func TestPythonWebSocketsThroughProxy(t *testing.T) {
	py := "/usr/bin/python3"
	err := exec.Command(py, "-c", "import websockets").Run()
	testenv.Require(t, "python3-websockets", err == nil, "Debian's python3-websockets is not installed")
	up := newWSUpstream(t)
	p := startProxy(t, up.upstream, wsPolicy, nil)
	run := func(msgs ...string) string {
		cmd := exec.Command(py, append([]string{"-c", wsPyClient, "wss://up.example.com:" + up.port + "/ws/chat"}, msgs...)...)
		cmd.Env = append(cleanEnv(t.TempDir()), "HTTPS_PROXY="+p.url.String(), "SSL_CERT_FILE="+p.caFile(t))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("python websockets: %v\n%s", err, out)
		}
		return string(out)
	}
	if out := run("hello", "world"); !strings.Contains(out, "got:hello\ngot:world\n") || !strings.Contains(out, "close:1000") {
		t.Fatalf("frames did not pass:\n%s", out)
	}
	out := run(`{"note":"` + heldToken + `"}`)
	if !strings.Contains(out, "close:1008:") || !strings.Contains(out, "dlp") || strings.Contains(out, heldToken) {
		t.Fatalf("secret frame did not close with 1008 and a reason:\n%s", out)
	}
	if testing.Verbose() {
		t.Logf("python saw: %s", strings.TrimSpace(out))
	}
	id := out[strings.LastIndex(out, "(dlp) ")+len("(dlp) "):]
	id = strings.TrimSpace(id)
	if !strings.HasPrefix(id, "rf-") || !strings.Contains(p.logText(), `"refusal_id":"`+id+`"`) {
		t.Errorf("close reason has no refusal ID the log knows: %q", id)
	}
	if strings.Contains(string(up.received()), heldToken) {
		t.Errorf("upstream received the secret")
	}
}
