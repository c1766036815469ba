#!/usr/bin/env python3
"""bench/tty-start.py BIN [ARGS...]: run `BIN start --rm ARGS` on a
pseudo-terminal that answers like a terminal emulator (the background
colour query OSC 11 and the cursor position query CSI 6n, which Bubble
Tea's init sends on every bot-bottle process with a terminal and waits up
to 5 s for), type `date +%s.%N; exit` at the agent's prompt once it shows,
and print the agent's answer. stderr of the start goes to $STDERR_FILE."""
import os, pty, re, select, subprocess, sys, time

bin_, args = sys.argv[1], sys.argv[2:]
err = open(os.environ.get("STDERR_FILE", "/dev/null"), "w")
master, slave = pty.openpty()
p = subprocess.Popen([bin_, "start", "--rm"] + args, stdin=slave, stdout=slave, stderr=err, close_fds=True, start_new_session=True)
os.close(slave)
buf, typed, deadline = b"", False, time.time() + 120
while time.time() < deadline:
    r, _, _ = select.select([master], [], [], 0.01)
    if not r:
        if p.poll() is not None:
            break
        continue
    try:
        chunk = os.read(master, 4096)
    except OSError:
        break
    if not chunk:
        break
    buf += chunk
    if b"\x1b]11;?" in chunk:
        os.write(master, b"\x1b]11;rgb:0000/0000/0000\x1b\\")
    if b"\x1b[6n" in chunk:
        os.write(master, b"\x1b[1;1R")
    if not typed and b"agent@" in buf:
        os.write(master, b"date +%s.%N; exit\n")
        typed = True
    m = re.search(rb"\b(\d{10}\.\d{9})\b", buf)
    if m:
        print(m.group(1).decode())
        break
p.wait(timeout=120)
sys.exit(0 if re.search(rb"\d{10}\.\d{9}", buf) else 1)
