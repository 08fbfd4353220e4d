#!/usr/bin/env python3
"""Drive a guest over its serial console (for roms/check-with-qemu.sh).

Runs COMMAND (an emulator with its COM1 on stdio), echoes its output with
timestamps relative to the start, waits for MARKER, then sends each --send
line (after waiting for the previous --expect, if given), and stops when
--done appears or the timeout passes. Prints "RESULT marker=<s> done=<s>"
and exits non-zero when the marker or the done string never appeared.
Does not model: terminals (output is raw bytes, input is plain lines).
"""
import argparse
import os
import selectors
import subprocess
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--marker", required=True)
    ap.add_argument("--send", action="append", default=[],
                    help="line to send; 'WAIT:text' waits for text instead")
    ap.add_argument("--done", required=True)
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--cr", action="store_true",
                    help="end sent lines with CR (DOS over CTTY COM1) instead of LF")
    ap.add_argument("command", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.command[1:] if a.command[:1] == ["--"] else a.command

    start = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    sel = selectors.DefaultSelector()
    sel.register(p.stdout, selectors.EVENT_READ)
    seen = ""          # all output so far
    scan_from = 0      # where the next wait starts looking
    marker_t = done_t = None
    pending = list(a.send)
    line = b""
    waiting_for = a.marker
    while time.monotonic() - start < a.timeout:
        for _key, _ in sel.select(timeout=0.2):
            chunk = os.read(p.stdout.fileno(), 4096)
            if not chunk:
                break
            seen += chunk.decode("latin-1")
            line += chunk
            while b"\n" in line:
                one, line = line.split(b"\n", 1)
                if not a.quiet:
                    t = time.monotonic() - start
                    sys.stdout.write("[%7.2f] %s\n" % (t, one.decode("latin-1").rstrip("\r")))
        if p.poll() is not None and not sel.select(timeout=0):
            break
        if waiting_for is not None:
            at = seen.find(waiting_for, scan_from)
            if at < 0:
                continue
            scan_from = at + len(waiting_for)
            if marker_t is None:
                marker_t = time.monotonic() - start
            waiting_for = None
        if waiting_for is None and done_t is None and a.done in seen[scan_from:]:
            done_t = time.monotonic() - start
            break
        while pending and waiting_for is None:
            item = pending.pop(0)
            if item.startswith("WAIT:"):
                waiting_for = item[5:]
            else:
                p.stdin.write((item + ("\r" if a.cr else "\n")).encode())
                p.stdin.flush()
    if line and not a.quiet:
        sys.stdout.write("[%7.2f] %s\n" % (time.monotonic() - start, line.decode("latin-1")))
    if p.poll() is None:
        p.kill()
    p.wait()
    fmt = lambda t: "%.2f" % t if t is not None else "never"
    print("RESULT marker=%s done=%s" % (fmt(marker_t), fmt(done_t)))
    return 0 if marker_t is not None and done_t is not None else 1


if __name__ == "__main__":
    sys.exit(main())
