package audit

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func entry(i int) Entry {
	return Entry{
		Time:       time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Bottle:     "impl-k3x9q",
		ProposalID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i),
		Tool:       "egress-allow",
		Action:     "approved",
		Notes:      fmt.Sprintf("note %d", i),
		BeforeHash: "aa",
		AfterHash:  "bb",
	}
}

func appendN(t *testing.T, path string, n int) {
	t.Helper()
	for i := range n {
		if err := Append(path, entry(i)); err != nil {
			t.Fatal(err)
		}
	}
}

func mustVerify(t *testing.T, path string) Report {
	t.Helper()
	r, err := Verify(path)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestPath(t *testing.T) {
	if got, want := Path("/home/u", "impl-k3x9q"), "/home/u/.bot-bottle/audit/impl-k3x9q.jsonl"; got != want {
		t.Errorf("Path = %q, want %q", got, want)
	}
}

func TestAppendChainsAndVerifies(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit", "b.jsonl")
	appendN(t, path, 5)
	r := mustVerify(t, path)
	if !r.OK || r.Lines != 5 {
		t.Fatalf("Verify = %+v, want OK with 5 lines", r)
	}
	got, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 || got[0].PrevHash != "" || got[4].Notes != "note 4" {
		t.Fatalf("Read = %+v", got)
	}
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if got[3].PrevHash != HashLine([]byte(lines[2])) {
		t.Errorf("line 4 prev_hash %q is not the hash of line 3", got[3].PrevHash)
	}
	for _, p := range []string{path, checkpointPath(path)} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", p, fi.Mode().Perm())
		}
	}
}

// rewrite replaces the log's lines through edit and writes it back.
func rewrite(t *testing.T, path string, edit func([]string) []string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	lines = edit(lines)
	out := strings.Join(lines, "\n")
	if len(lines) > 0 {
		out += "\n"
	}
	if err := os.WriteFile(path, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyFindsTampering(t *testing.T) {
	tests := []struct {
		name     string
		tamper   func(t *testing.T, path string)
		wantLine int
		wantWord string
	}{
		{"edited note", func(t *testing.T, p string) {
			rewrite(t, p, func(l []string) []string {
				l[2] = strings.Replace(l[2], "note 2", "note X", 1)
				return l
			})
		}, 4, "edited"},
		{"edited last line", func(t *testing.T, p string) {
			rewrite(t, p, func(l []string) []string {
				l[4] = strings.Replace(l[4], "approved", "rejected", 1)
				return l
			})
		}, 5, "checkpoint"},
		{"line removed from the middle", func(t *testing.T, p string) {
			rewrite(t, p, func(l []string) []string { return append(l[:1], l[2:]...) })
		}, 2, "removed"},
		{"first line removed", func(t *testing.T, p string) {
			rewrite(t, p, func(l []string) []string { return l[1:] })
		}, 1, "start"},
		{"lines swapped", func(t *testing.T, p string) {
			rewrite(t, p, func(l []string) []string { l[1], l[2] = l[2], l[1]; return l })
		}, 2, "chain"},
		{"cut short", func(t *testing.T, p string) {
			rewrite(t, p, func(l []string) []string { return l[:3] })
		}, 0, "cut short"},
		{"emptied", func(t *testing.T, p string) {
			rewrite(t, p, func(l []string) []string { return nil })
		}, 0, "cut short"},
		{"half line at the end", func(t *testing.T, p string) {
			b, _ := os.ReadFile(p)
			os.WriteFile(p, b[:len(b)-10], 0o600)
		}, 5, "cut off"},
		{"unknown key added", func(t *testing.T, p string) {
			rewrite(t, p, func(l []string) []string {
				l[1] = strings.Replace(l[1], `{"time"`, `{"x":1,"time"`, 1)
				return l
			})
		}, 2, "not a valid entry"},
		{"checkpoint removed", func(t *testing.T, p string) {
			os.Remove(checkpointPath(p))
		}, 0, "missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "b.jsonl")
			appendN(t, path, 5)
			tt.tamper(t, path)
			r := mustVerify(t, path)
			if r.OK || r.Line != tt.wantLine || !strings.Contains(r.Problem, tt.wantWord) {
				t.Errorf("Verify = %+v, want a problem at line %d mentioning %q", r, tt.wantLine, tt.wantWord)
			}
		})
	}
}

// A crash after the line was written but before the checkpoint leaves the
// log one line ahead: that is not tampering.
func TestVerifyAcceptsCheckpointOneBehind(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.jsonl")
	appendN(t, path, 3)
	old, _ := os.ReadFile(checkpointPath(path))
	appendN(t, path, 1)
	os.WriteFile(checkpointPath(path), old, 0o600)
	if r := mustVerify(t, path); !r.OK {
		t.Fatalf("Verify = %+v, want OK", r)
	}
	appendN(t, path, 1)
	os.WriteFile(checkpointPath(path), old, 0o600)
	if r := mustVerify(t, path); r.OK {
		t.Fatalf("Verify = %+v, want a stale checkpoint reported", r)
	}
}

// A crash mid-write leaves a half line; the next Append closes it and goes
// on, and Verify keeps pointing at the broken line.
func TestCrashMidWriteThenAppend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.jsonl")
	appendN(t, path, 2)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"time":"2026-01-02T03:04:05Z","bottle":"impl`)
	f.Close()
	r := mustVerify(t, path)
	if r.OK || r.Line != 3 || r.Lines != 3 {
		t.Fatalf("after crash Verify = %+v, want line 3 reported", r)
	}
	appendN(t, path, 2)
	r = mustVerify(t, path)
	if r.OK || r.Line != 3 || r.Lines != 5 {
		t.Fatalf("after append Verify = %+v, want line 3 still reported", r)
	}
	got, err := Read(path)
	if len(got) != 4 || err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("Read = %d entries, %v; want 4 and an error naming line 3", len(got), err)
	}
}

func TestVerifyMissingLog(t *testing.T) {
	if _, err := Verify(filepath.Join(t.TempDir(), "none.jsonl")); err == nil {
		t.Fatal("Verify of a missing log: want an error")
	}
}

func TestConcurrentGoroutines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.jsonl")
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				if err := Append(path, entry(g*100+i)); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if r := mustVerify(t, path); !r.OK || r.Lines != 160 {
		t.Fatalf("Verify = %+v, want OK with 160 lines", r)
	}
}

// TestConcurrentProcesses runs this test binary as several writer processes
// at once (see TestHelperAppend).
func TestConcurrentProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.jsonl")
	const procs, each = 4, 25
	var cmds []*exec.Cmd
	for p := range procs {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperAppend$")
		cmd.Env = append(os.Environ(), "AUDIT_HELPER_PATH="+path,
			"AUDIT_HELPER_N="+strconv.Itoa(each), "AUDIT_HELPER_BASE="+strconv.Itoa(p*1000))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if t.Failed() {
				t.Log(out.String())
			}
		})
		cmds = append(cmds, cmd)
	}
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("writer process: %v", err)
		}
	}
	if r := mustVerify(t, path); !r.OK || r.Lines != procs*each {
		t.Fatalf("Verify = %+v, want OK with %d lines", r, procs*each)
	}
}

func TestHelperAppend(t *testing.T) {
	path := os.Getenv("AUDIT_HELPER_PATH")
	if path == "" {
		t.Skip("helper process for TestConcurrentProcesses")
	}
	n, _ := strconv.Atoi(os.Getenv("AUDIT_HELPER_N"))
	base, _ := strconv.Atoi(os.Getenv("AUDIT_HELPER_BASE"))
	for i := range n {
		if err := Append(path, entry(base+i)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSlugs(t *testing.T) {
	home := t.TempDir()
	appendN(t, Path(home, "b-22222"), 1)
	appendN(t, Path(home, "a-11111"), 1)
	got, err := Slugs(home)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "a-11111,b-22222" {
		t.Errorf("Slugs = %v", got)
	}
	none, err := Slugs(t.TempDir())
	if err != nil || none != nil {
		t.Errorf("Slugs of an empty home = %v, %v", none, err)
	}
}

// Damage found at append time is written into the chain, so appending on
// cannot hide it by moving the checkpoint.
func TestAppendAfterTamperingKeepsItVisible(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(t *testing.T, path string)
		want   string
	}{
		{"cut short", func(t *testing.T, p string) {
			rewrite(t, p, func(l []string) []string { return l[:3] })
		}, "cut short"},
		{"emptied", func(t *testing.T, p string) {
			rewrite(t, p, func(l []string) []string { return nil })
		}, "cut short"},
		{"checkpoint removed", func(t *testing.T, p string) { os.Remove(checkpointPath(p)) }, "missing"},
		{"last line edited", func(t *testing.T, p string) {
			rewrite(t, p, func(l []string) []string {
				l[4] = strings.Replace(l[4], "note 4", "note X", 1)
				return l
			})
		}, "edited"},
		{"checkpoint replaced", func(t *testing.T, p string) {
			os.WriteFile(checkpointPath(p), []byte(`{"lines":1,"hash":"x"}`), 0o600)
		}, "replaced"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "b.jsonl")
			appendN(t, path, 5)
			tt.tamper(t, path)
			appendN(t, path, 2)
			r := mustVerify(t, path)
			if r.OK || !strings.Contains(r.Problem, tt.want) {
				t.Fatalf("Verify after appending on = %+v, want the damage (%q) reported", r, tt.want)
			}
			es, _ := Read(path)
			n := 0
			for _, e := range es {
				if e.Action == ActionDamaged {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%d damage entries, want 1", n)
			}
		})
	}
}
