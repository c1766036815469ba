package main

// `egress-bench idle` measures what parked connections cost a real
// `bot-bottle egress serve`: it opens N connections of one kind (silent,
// keep-alive after a request, TLS tunnels with and without a request, a
// POST whose body stalls), holds them, and records the proxy's resident
// memory (/proc/PID/status) and the latency of a normal HTTPS request
// beside them. A second pass with short timeouts counts how many the proxy
// closed by itself. Run it with bench/egress/idle.sh.

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func idleMain(args []string) {
	fs := flag.NewFlagSet("idle", flag.ExitOnError)
	bin := fs.String("bot-bottle", "bot-bottle", "bot-bottle binary")
	counts := fs.String("n", "1000,10000", "connection counts")
	kinds := fs.String("kinds", "silent,keepalive,tls,tls-used,slowbody", "kinds of parked connection")
	hold := fs.Duration("hold", 3*time.Second, "how long the connections are held before measuring")
	short := fs.Duration("short", 10*time.Second, "timeouts of the second pass (0: skip it)")
	fs.Parse(args)
	b, err := newBench(*bin)
	if err != nil {
		idleFail(err)
	}
	defer b.close()
	var ns []int
	for _, s := range strings.Split(*counts, ",") {
		n, err := strconv.Atoi(s)
		if err != nil {
			idleFail(err)
		}
		ns = append(ns, n)
	}
	ks := strings.Split(*kinds, ",")
	fmt.Println("| parked connections | opened | proxy RSS MB before | with them held | peak (VmHWM) | after they hang up | normal GET beside, p50 / max ms |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|")
	for _, n := range ns {
		for _, k := range ks {
			r, err := b.scenario(k, n, *hold, 0)
			if err != nil {
				idleFail(err)
			}
			fmt.Printf("| %d %s | %d | %.1f | %.1f | %.1f | %.1f | %.1f / %.1f |\n", n, label[k], r.opened, mb(r.before), mb(r.held), mb(r.peak), mb(r.after), r.p50, r.max)
		}
	}
	if *short <= 0 {
		return
	}
	fmt.Println()
	fmt.Printf("Timeouts set to %s (`--idle-timeout --header-timeout --body-timeout`), %d of each kind, held %s past the timeout:\n\n", *short, ns[0], *short/2)
	fmt.Println("| parked connections | opened | closed by the proxy | proxy RSS MB held | after the timeout |")
	fmt.Println("|---|---:|---:|---:|---:|")
	for _, k := range ks {
		r, err := b.scenario(k, ns[0], *short+*short/2, *short)
		if err != nil {
			idleFail(err)
		}
		fmt.Printf("| %d %s | %d | %d | %.1f | %.1f |\n", ns[0], label[k], r.opened, r.closed, mb(r.held), mb(r.late))
	}
}

var label = map[string]string{
	"silent":    "plain, connected, no byte sent",
	"keepalive": "plain keep-alive, idle after one GET",
	"tls":       "TLS tunnels, idle after the handshake",
	"tls-used":  "TLS tunnels (HTTP/1.1), idle after one GET",
	"slowbody":  "slow-body POSTs (10 of 1,000,000 bytes sent)",
}

func idleFail(err error) {
	fmt.Fprintln(os.Stderr, "egress-bench idle:", err)
	os.Exit(1)
}

func mb(kb int64) float64 { return float64(kb) / 1024 }

// bench is the upstreams (plain and TLS, in this process) and what a
// proxy run needs.
type idleBench struct {
	bin, tmp, policy, upCA string
	plain, tlsUp           *httptest.Server
	plainPort, tlsPort     string
}

func newBench(bin string) (*idleBench, error) {
	tmp, err := os.MkdirTemp("", "egress-idle-")
	if err != nil {
		return nil, err
	}
	b := &idleBench{bin: bin, tmp: tmp}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true}`)
	})
	b.plain = httptest.NewServer(h)
	b.tlsUp = httptest.NewTLSServer(h)
	b.upCA = filepath.Join(tmp, "upstream-ca.pem")
	os.WriteFile(b.upCA, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: b.tlsUp.Certificate().Raw}), 0o600)
	b.plainPort = portOf(b.plain.URL)
	b.tlsPort = portOf(b.tlsUp.URL)
	// DLP on: the proxy reads a request body itself before sending it, so
	// a stalled body waits in the proxy.
	b.policy = filepath.Join(tmp, "policy.yaml")
	os.WriteFile(b.policy, []byte("egress:\n  routes:\n    - host: 127.0.0.1\n      dlp: {outbound_on_match: block}\n"), 0o600)
	return b, nil
}

func portOf(u string) string {
	p, _ := url.Parse(u)
	return p.Port()
}

func (b *idleBench) close() {
	b.plain.Close()
	b.tlsUp.Close()
	os.RemoveAll(b.tmp)
}

// proxyRun is one `egress serve` process.
type proxyRun struct {
	cmd   *exec.Cmd
	addr  string
	roots *x509.CertPool
}

func (b *idleBench) start(timeout time.Duration) (*proxyRun, error) {
	addr := freeAddr()
	args := []string{"egress", "serve", "--policy", b.policy, "--listen", addr,
		"--state-dir", filepath.Join(b.tmp, "ca"), "--upstream-ca", b.upCA,
		"--unsafe-allow-private-ranges", "--allow-port", b.plainPort, "--allow-port", b.tlsPort}
	if timeout > 0 {
		d := timeout.String()
		args = append(args, "--idle-timeout", d, "--header-timeout", d, "--body-timeout", d)
	}
	cmd := exec.Command(b.bin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	logf, err := os.Create(filepath.Join(b.tmp, "egress.log"))
	if err != nil {
		return nil, err
	}
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proxyRun{cmd: cmd, addr: addr}
	if err := waitPort(addr); err != nil {
		p.stop()
		return nil, err
	}
	if p.roots, err = rootsFrom(filepath.Join(b.tmp, "ca", "ca.pem")); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

func (p *proxyRun) stop() {
	p.cmd.Process.Signal(os.Interrupt)
	p.cmd.Wait()
}

func (p *proxyRun) kb(key string) int64 { return readStatusKB(p.cmd.Process.Pid, key) }

type idleResult struct {
	opened, closed            int
	before, held, peak, after int64
	late                      int64
	p50, max                  float64
}

// scenario opens n connections of kind k against a fresh proxy, holds
// them, measures, then hangs up. With timeout > 0 the proxy runs with it
// and the hold is long enough for the timeouts to fire.
func (b *idleBench) scenario(k string, n int, hold, timeout time.Duration) (idleResult, error) {
	var r idleResult
	p, err := b.start(timeout)
	if err != nil {
		return r, err
	}
	defer p.stop()
	time.Sleep(time.Second)
	r.before = p.kb("VmRSS:")
	var closed atomic.Int64
	conns := b.open(p, k, n, &closed)
	r.opened = len(conns)
	time.Sleep(min(hold, 3*time.Second))
	r.held = p.kb("VmRSS:")
	if timeout == 0 {
		if r.p50, r.max, err = b.beside(p); err != nil {
			return r, err
		}
	}
	time.Sleep(hold - min(hold, 3*time.Second))
	r.late = p.kb("VmRSS:")
	r.peak = p.kb("VmHWM:")
	r.closed = int(closed.Load())
	for _, c := range conns {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0) // no TIME_WAIT left for the next scenario
		}
		c.Close()
	}
	time.Sleep(3 * time.Second)
	r.after = p.kb("VmRSS:")
	return r, nil
}

// open dials n connections 64 at a time from several loopback addresses
// (so the ports of one source address are not exhausted); each is watched
// by a goroutine that counts it when the proxy closes it.
func (b *idleBench) open(p *proxyRun, k string, n int, closed *atomic.Int64) []net.Conn {
	var mu sync.Mutex
	var conns []net.Conn
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	var errs atomic.Int64
	var firstErr atomic.Value
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			raw, watch, err := b.park(p, k, i)
			if err != nil {
				if errs.Add(1) == 1 {
					firstErr.Store(err)
				}
				return
			}
			mu.Lock()
			conns = append(conns, raw)
			mu.Unlock()
			go func() {
				watch.Read(make([]byte, 1)) // returns when the proxy hangs up
				io.Copy(io.Discard, watch)
				closed.Add(1)
			}()
		}()
	}
	wg.Wait()
	if e := errs.Load(); e > 0 {
		fmt.Fprintf(os.Stderr, "egress-bench idle: %s: %d of %d failed to open, first: %v\n", k, e, n, firstErr.Load())
	}
	return conns
}

// park opens one connection of kind k and leaves it idle; watch is what
// to read to see the proxy close it.
func (b *idleBench) park(p *proxyRun, k string, i int) (raw net.Conn, watch io.Reader, err error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i%32))}, Timeout: 30 * time.Second}
	raw, err = d.Dial("tcp", p.addr)
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		if err != nil {
			raw.Close()
		}
	}()
	raw.SetDeadline(time.Now().Add(60 * time.Second))
	defer raw.SetDeadline(time.Time{})
	br := bufio.NewReader(raw)
	plainURL := "http://127.0.0.1:" + b.plainPort + "/idle"
	switch k {
	case "silent":
		return raw, raw, nil
	case "keepalive":
		fmt.Fprintf(raw, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\n\r\n", plainURL, b.plainPort)
		if err = readOK(br); err != nil {
			return nil, nil, err
		}
		return raw, br, nil
	case "slowbody":
		fmt.Fprintf(raw, "POST %s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nContent-Type: text/plain\r\nContent-Length: 1000000\r\n\r\n0123456789", plainURL, b.plainPort)
		return raw, br, nil
	case "tls", "tls-used":
		hp := "127.0.0.1:" + b.tlsPort
		fmt.Fprintf(raw, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", hp, hp)
		resp, err := http.ReadResponse(br, &http.Request{Method: "CONNECT"})
		if err != nil {
			return nil, nil, err
		}
		if resp.StatusCode != 200 {
			return nil, nil, fmt.Errorf("CONNECT: %s", resp.Status)
		}
		tc := tls.Client(raw, &tls.Config{ServerName: "127.0.0.1", RootCAs: p.roots, NextProtos: []string{"http/1.1"}})
		if err = tc.Handshake(); err != nil {
			return nil, nil, err
		}
		if k == "tls" {
			return raw, tc, nil
		}
		tbr := bufio.NewReader(tc)
		fmt.Fprintf(tc, "GET /idle HTTP/1.1\r\nHost: %s\r\n\r\n", hp)
		if err = readOK(tbr); err != nil {
			return nil, nil, err
		}
		return raw, tbr, nil
	}
	return nil, nil, fmt.Errorf("unknown kind %q", k)
}

func readOK(br *bufio.Reader) error {
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET: %s", resp.Status)
	}
	return nil
}

// beside times 20 normal HTTPS GETs through the proxy, each on a new
// connection (CONNECT, the agent's handshake, the request).
func (b *idleBench) beside(p *proxyRun) (p50, max float64, err error) {
	var ms []float64
	for range 20 {
		tr := &http.Transport{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: p.addr}), TLSClientConfig: &tls.Config{RootCAs: p.roots}}
		c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
		t0 := time.Now()
		resp, err := c.Get("https://127.0.0.1:" + b.tlsPort + "/beside")
		if err != nil {
			return 0, 0, fmt.Errorf("a normal request beside the parked connections: %w", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		ms = append(ms, float64(time.Since(t0).Microseconds())/1000)
		tr.CloseIdleConnections()
		if resp.StatusCode != 200 {
			return 0, 0, fmt.Errorf("a normal request beside the parked connections: %s", resp.Status)
		}
	}
	slices.Sort(ms)
	return ms[len(ms)/2], ms[len(ms)-1], nil
}
