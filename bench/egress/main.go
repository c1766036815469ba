// Command egress-bench compares the bot-bottle egress proxy with mitmproxy
// and with a direct connection, in one run on one machine: small HTTPS
// requests over keep-alive, a fresh connection per request, 1 MiB
// responses, 64 KiB POST bodies (DLP on in bot-bottle), and time to the
// first event of an SSE stream; plus each proxy's resident memory.
//
// Run it with bench/egress/run.sh, which builds bot-bottle first.
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
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

func main() {
	if len(os.Args) > 1 && os.Args[1] == "idle" { // idle.go
		idleMain(os.Args[2:])
		return
	}
	bin := flag.String("bot-bottle", "bot-bottle", "bot-bottle binary")
	mitm := flag.String("mitmdump", "mitmdump", "mitmdump binary (empty: skip mitmproxy)")
	dur := flag.Duration("duration", 5*time.Second, "time per scenario")
	conc := flag.Int("c", 8, "concurrency")
	only := flag.String("only", "", "comma-separated scenarios to run (small,small1,fresh,resume,big,post,sse); empty: all")
	memLimit := flag.String("gomemlimit", "", "GOMEMLIMIT for the bot-bottle process (empty: unset, so bot-bottle's own 32 MiB soft limit; off: none)")
	flag.StringVar(&profileDir, "profile-dir", "", "write bot-bottle's CPU and allocation profiles (cpu.pprof, mem.pprof) here")
	flag.Parse()
	if err := run(*bin, *mitm, *dur, *conc, *only, *memLimit); err != nil {
		fmt.Fprintln(os.Stderr, "egress-bench:", err)
		os.Exit(1)
	}
}

// prompt is prompt-like text with no secrets, for the POST bodies.
func prompt(n int) []byte {
	words := strings.Fields(`Please refactor the function below so that it returns an error instead of
panicking when the configuration file is missing, and add a table test that covers
the empty file, a file with unknown keys, and a file whose token_ref names a variable
that is not set. Keep the public API unchanged and explain the change briefly.`)
	var b []byte
	for i := 0; len(b) < n; i++ {
		b = append(b, words[i%len(words)]...)
		b = append(b, ' ')
		if i%17 == 16 {
			b = append(b, '\n')
		}
	}
	return b[:n]
}

// profileDir, when set, receives egress serve's pprof profiles.
var profileDir string

type target struct {
	name   string
	proxy  *url.URL
	roots  *x509.CertPool
	pid    int
	peakKB atomic.Int64
}

func run(bin, mitm string, dur time.Duration, conc int, only, memLimit string) error {
	want := func(name string) bool { return only == "" || slices.Contains(strings.Split(only, ","), name) }
	tmp, err := os.MkdirTemp("", "egress-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte('a' + i%26)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/small", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true,"model":"bench","text":"hello from the upstream"}`)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(big)
	})
	mux.HandleFunc("/post", func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"received":%d}`, n)
	})
	mux.HandleFunc("/sse", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		io.WriteString(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		time.Sleep(200 * time.Millisecond)
		io.WriteString(w, "data: second\n\n")
	})
	up := httptest.NewUnstartedServer(mux)
	up.EnableHTTP2 = true
	up.StartTLS()
	defer up.Close()
	upCA := filepath.Join(tmp, "upstream-ca.pem")
	os.WriteFile(upCA, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: up.Certificate().Raw}), 0o600)
	upURL, _ := url.Parse(up.URL)
	upRoots := x509.NewCertPool()
	upRoots.AddCert(up.Certificate())

	targets := []*target{{name: "direct", roots: upRoots}}

	// bot-bottle egress, as its own process.
	policy := filepath.Join(tmp, "policy.yaml")
	os.WriteFile(policy, []byte(`egress:
  log: 1
  routes:
    - host: 127.0.0.1
      auth: {scheme: Bearer, token_ref: BENCH_TOKEN}
      dlp: {outbound_on_match: block}
`), 0o600)
	bbAddr := freeAddr()
	logf, _ := os.Create(filepath.Join(tmp, "egress.log"))
	defer logf.Close()
	bb := exec.Command(bin, "egress", "serve", "--policy", policy, "--listen", bbAddr,
		"--state-dir", filepath.Join(tmp, "ca"), "--upstream-ca", upCA,
		"--unsafe-allow-private-ranges", "--allow-port", upURL.Port())
	if profileDir != "" {
		bb.Args = append(bb.Args, "--cpu-profile", filepath.Join(profileDir, "cpu.pprof"), "--mem-profile", filepath.Join(profileDir, "mem.pprof"))
	}
	bb.Env = []string{"BENCH_TOKEN=bench-token-value-0123456789abcdef", "PATH=" + os.Getenv("PATH")}
	if memLimit != "" {
		bb.Env = append(bb.Env, "GOMEMLIMIT="+memLimit)
	}
	bb.Stderr = logf
	if err := bb.Start(); err != nil {
		return fmt.Errorf("starting bot-bottle: %w", err)
	}
	defer func() { bb.Process.Signal(os.Interrupt); bb.Wait() }()
	if err := waitPort(bbAddr); err != nil {
		return fmt.Errorf("bot-bottle egress: %w", err)
	}
	bbRoots, err := rootsFrom(filepath.Join(tmp, "ca", "ca.pem"))
	if err != nil {
		return err
	}
	targets = append(targets, &target{name: "bot-bottle", proxy: &url.URL{Scheme: "http", Host: bbAddr}, roots: bbRoots, pid: bb.Process.Pid})

	if mitm != "" {
		if _, err := exec.LookPath(mitm); err != nil {
			fmt.Fprintf(os.Stderr, "mitmproxy skipped: %v\n", err)
		} else {
			mAddr := freeAddr()
			host, port, _ := net.SplitHostPort(mAddr)
			conf := filepath.Join(tmp, "mitm")
			m := exec.Command(mitm, "-q", "--listen-host", host, "--listen-port", port,
				"--set", "confdir="+conf, "--set", "ssl_verify_upstream_trusted_ca="+upCA, "--set", "flow_detail=0")
			m.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + tmp}
			if err := m.Start(); err != nil {
				return fmt.Errorf("starting mitmdump: %w", err)
			}
			defer func() { m.Process.Signal(os.Interrupt); m.Wait() }()
			if err := waitPort(mAddr); err != nil {
				return fmt.Errorf("mitmdump: %w", err)
			}
			mRoots, err := rootsFrom(filepath.Join(conf, "mitmproxy-ca-cert.pem"))
			if err != nil {
				return err
			}
			targets = append(targets, &target{name: "mitmproxy", proxy: &url.URL{Scheme: "http", Host: mAddr}, roots: mRoots, pid: m.Process.Pid})
		}
	}

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	for _, t := range targets {
		if t.pid != 0 {
			go sampleRSS(ctx, t)
		}
	}

	base := "https://" + upURL.Host
	body := prompt(64 << 10)
	fmt.Printf("concurrency %d, %s per scenario; upstream %s (HTTP/2 on offer); bot-bottle GOMEMLIMIT=%q\n\n", conc, dur, base, memLimit)
	fmt.Println("| scenario | target | req/s | p50 ms | p99 ms | MB/s | peak RSS MB |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|")
	type scen struct {
		id, name  string
		keepAlive bool
		conc      int
		method    string
		path      string
		body      []byte
		bodyBytes bool // MB/s of request bodies instead of responses
		resume    bool // the client keeps TLS sessions (tickets) to resume
	}
	for _, s := range []scen{
		{"small", "small GET, keep-alive", true, conc, "GET", "/small", nil, false, false},
		{"small1", "small GET, keep-alive, 1 client", true, 1, "GET", "/small", nil, false, false},
		{"fresh", "small GET, new connection each", false, conc, "GET", "/small", nil, false, false},
		{"resume", "small GET, new connection each, TLS resumed", false, conc, "GET", "/small", nil, false, true},
		{"big", "1 MiB response", true, conc, "GET", "/big", nil, false, false},
		{"post", "64 KiB POST (DLP on in bot-bottle)", true, conc, "POST", "/post", body, true, false},
	} {
		if !want(s.id) {
			continue
		}
		for _, t := range targets {
			t.peakKB.Store(0)
			c := client(t, s.keepAlive, s.conc, s.resume)
			r := load(c, s.conc, dur, func() (int64, error) {
				var rd io.Reader
				if s.body != nil {
					rd = strings.NewReader(string(s.body))
				}
				req, _ := http.NewRequest(s.method, base+s.path, rd)
				req.Header.Set("Content-Type", "text/plain")
				resp, err := c.Do(req)
				if err != nil {
					return 0, err
				}
				n, err := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					return 0, fmt.Errorf("status %s", resp.Status)
				}
				if s.bodyBytes {
					n = int64(len(s.body))
				}
				return n, err
			})
			c.CloseIdleConnections()
			rss := ""
			if t.pid != 0 {
				rss = fmt.Sprintf("%.1f", float64(t.peakKB.Load())/1024)
			}
			fmt.Printf("| %s | %s | %s | %s |\n", s.name, t.name, r, rss)
		}
	}
	fmt.Println()
	if want("sse") {
		if err := sse(targets, base); err != nil {
			return err
		}
	}
	stop()
	fmt.Println()
	fmt.Println("| resident memory | RSS after the run (MB) |")
	fmt.Println("|---|---:|")
	for _, t := range targets {
		if t.pid != 0 {
			fmt.Printf("| %s | %.1f |\n", t.name, float64(readStatusKB(t.pid, "VmRSS:"))/1024)
		}
	}
	return nil
}

// sse measures the time to the first event of a stream whose second event
// comes 200 ms later: a proxy that buffers the stream shows it here.
func sse(targets []*target, base string) error {
	fmt.Println("| SSE time to first event | target | p50 ms | p99 ms |")
	fmt.Println("|---|---|---:|---:|")
	for _, t := range targets {
		c := client(t, true, 1, false)
		var lat []time.Duration
		for i := 0; i < 30; i++ {
			start := time.Now()
			resp, err := c.Get(base + "/sse")
			if err != nil {
				return err
			}
			line, err := bufio.NewReader(resp.Body).ReadString('\n')
			if err != nil || line != "data: first\n" {
				return fmt.Errorf("%s sse: %q %v", t.name, line, err)
			}
			lat = append(lat, time.Since(start))
			resp.Body.Close()
		}
		slices.Sort(lat)
		fmt.Printf("| | %s | %.2f | %.2f |\n", t.name, ms(lat[len(lat)/2]), ms(lat[len(lat)*99/100]))
		c.CloseIdleConnections()
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

type result struct {
	n     int
	errs  int
	bytes int64
	dur   time.Duration
	lat   []time.Duration
	first error
}

func (r result) String() string {
	if r.n == 0 {
		return fmt.Sprintf("failed: %v | | | |", r.first)
	}
	slices.Sort(r.lat)
	s := fmt.Sprintf("%.0f | %.2f | %.2f | %.1f", float64(r.n)/r.dur.Seconds(), ms(r.lat[len(r.lat)/2]),
		ms(r.lat[len(r.lat)*99/100]), float64(r.bytes)/r.dur.Seconds()/1e6)
	if r.errs > 0 {
		s += fmt.Sprintf(" (%d errors: %v)", r.errs, r.first)
	}
	return s
}

// load runs fn from conc workers for dur.
func load(c *http.Client, conc int, dur time.Duration, fn func() (int64, error)) result {
	var mu sync.Mutex
	var res result
	deadline := time.Now().Add(dur)
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < conc; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			var n, errs int
			var bytes int64
			var first error
			for time.Now().Before(deadline) {
				t0 := time.Now()
				b, err := fn()
				if err != nil {
					errs++
					if first == nil {
						first = err
					}
					continue
				}
				lat = append(lat, time.Since(t0))
				n++
				bytes += b
			}
			mu.Lock()
			res.lat = append(res.lat, lat...)
			res.n += n
			res.errs += errs
			res.bytes += bytes
			if res.first == nil {
				res.first = first
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.dur = time.Since(start)
	return res
}

// client speaks HTTP/1.1, as agents talk to a proxy.
func client(t *target, keepAlive bool, conc int, resume bool) *http.Client {
	tc := &tls.Config{RootCAs: t.roots}
	if resume {
		tc.ClientSessionCache = tls.NewLRUClientSessionCache(64)
	}
	tr := &http.Transport{
		TLSClientConfig:     tc,
		TLSNextProto:        map[string]func(string, *tls.Conn) http.RoundTripper{},
		MaxIdleConnsPerHost: conc,
		DisableKeepAlives:   !keepAlive,
	}
	if t.proxy != nil {
		tr.Proxy = http.ProxyURL(t.proxy)
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

func rootsFrom(path string) (*x509.CertPool, error) {
	var b []byte
	var err error
	for i := 0; i < 100; i++ {
		if b, err = os.ReadFile(path); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return nil, err
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		return nil, errors.New("no certificates in " + path)
	}
	return p, nil
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitPort(addr string) error {
	for i := 0; i < 300; i++ {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s never listened", addr)
}

func sampleRSS(ctx context.Context, t *target) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if kb := readStatusKB(t.pid, "VmRSS:"); kb > t.peakKB.Load() {
			t.peakKB.Store(kb)
		}
	}
}

func readStatusKB(pid int, key string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, key); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}
