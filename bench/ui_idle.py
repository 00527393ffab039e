"""What the dashboard costs when nothing happens (airlock ui, issue 15: under 2% of one core
with 20 sessions).  Python 3.11 stdlib only.

    run_ui_idle(airlock_bin, workdir, sessions=20, seconds=60, log=print) -> dict
    markdown(result) -> str
    python3 bench/ui_idle.py --airlock build/src/airlock [--sessions 20] [--seconds 60]

Creates N sessions of the busybox test image (`--agent shell --prompt 'sleep 3600'`,
network none, pull policy never) in a fresh home, starts `airlock ui`, signs in, and then
holds what an open dashboard holds: the live-update stream (/api/events), the open
session's terminal and logs WebSockets, and GET /api/stats every 10 s (the page's polling
while visible). After 10 s of settling, the CPU time of the `airlock ui` process
(utime + stime from /proc/PID/stat) over `seconds` is the figure, in percent of one core;
a second figure has the stream only (no page polling, no WebSockets).
"""

import argparse
import base64
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

IMAGE = "airlock-test/busybox:latest"


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime (fields 14, 15)


class Page:
    """What a browser tab with the dashboard holds open."""

    def __init__(self, port, cookie):
        self.port, self.cookie, self.socks = port, cookie, []

    def events(self):
        s = socket.create_connection(("127.0.0.1", self.port))
        s.sendall(f"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nCookie: {self.cookie}\r\n\r\n".encode())
        self.socks.append(s)

    def websocket(self, path):
        s = socket.create_connection(("127.0.0.1", self.port))
        key = base64.b64encode(os.urandom(16)).decode()
        s.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1:{self.port}\r\n"
                   f"Cookie: {self.cookie}\r\n\r\n").encode())
        self.socks.append(s)

    def drain(self):
        for s in self.socks:
            s.setblocking(False)
            try:
                while s.recv(65536):
                    pass
            except (BlockingIOError, OSError):
                pass

    def get(self, path):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        c.request("GET", path, headers={"Cookie": self.cookie})
        r = c.getresponse()
        body = r.read()
        c.close()
        return r.status, body

    def close(self):
        for s in self.socks:
            s.close()
        self.socks = []


def run_ui_idle(airlock, workdir, sessions=20, seconds=60, log=print):
    os.makedirs(workdir, exist_ok=True)
    home = os.path.join(workdir, "home")
    os.makedirs(home, exist_ok=True)
    with open(os.path.join(home, "config.toml"), "w") as f:
        f.write(f'[docker]\nimage = "{IMAGE}"\npull_policy = "never"\nnetwork = "none"\nmax_containers = 64\n')
    env = dict(os.environ, AIRLOCK_HOME=home, GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="b@airlock.invalid",
               GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="b@airlock.invalid")
    repo = os.path.join(workdir, "repo")
    subprocess.run(["git", "init", "-q", "-b", "main", repo], check=True, env=env)
    subprocess.run(["git", "-C", repo, "commit", "-q", "--allow-empty", "-m", "initial"], check=True, env=env)
    names = [f"idle-{i:02d}" for i in range(sessions)]
    ui = None
    result = {"sessions": sessions, "seconds": seconds}
    try:
        log(f"ui idle: creating {sessions} sessions")
        for n in names:
            r = subprocess.run([airlock, "create", "--agent", "shell", "--name", n, "--repo", repo, "--prompt",
                                "sleep 3600"], capture_output=True, text=True, env=env)
            if r.returncode != 0:
                raise RuntimeError(f"create {n}: {r.stderr.strip()}")
        ui = subprocess.Popen([airlock, "ui", "--port", "0", "--repo", repo], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True, env=env)
        head = "".join(ui.stdout.readline() for _ in range(3))
        m = re.search(r"http://127\.0\.0\.1:(\d+)/\?token=([0-9a-f]{64})", head)
        port = int(m.group(1))
        c = http.client.HTTPConnection("127.0.0.1", port)
        c.request("GET", "/?token=" + m.group(2))
        r = c.getresponse()
        cookie = r.getheader("Set-Cookie").split(";")[0]
        c.close()
        page = Page(port, cookie)
        status, body = page.get("/api/sessions")
        running = sum(1 for s in json.loads(body)["sessions"] if s["state"] == "running")
        result["running"] = running

        def measure(label, poll_stats):
            time.sleep(10)  # settle: the first list, stats, the WebSockets' attach
            page.drain()
            t0, c0 = time.monotonic(), cpu_seconds(ui.pid)
            next_poll = t0
            while time.monotonic() - t0 < seconds:
                if poll_stats and time.monotonic() >= next_poll:
                    page.get("/api/stats")
                    next_poll += 10
                time.sleep(0.5)
                page.drain()
            used = cpu_seconds(ui.pid) - c0
            pct = 100.0 * used / (time.monotonic() - t0)
            log(f"ui idle: {label}: {used:.2f} s CPU in {seconds} s = {pct:.2f}% of one core")
            return pct

        page.events()
        page.websocket(f"/api/sessions/{names[0]}/terminal")
        page.websocket(f"/api/sessions/{names[0]}/logs?tail=500")
        result["page_pct"] = measure("page open (events + terminal + logs + stats every 10 s)", True)
        page.close()
        page.events()
        result["stream_pct"] = measure("events stream only", False)
        page.close()
        with open(f"/proc/{ui.pid}/status") as f:
            result["rss_kib"] = int(next(l.split()[1] for l in f if l.startswith("VmRSS:")))
    finally:
        if ui:
            ui.terminate()
            ui.wait(timeout=10)
        for n in names:
            subprocess.run([airlock, "delete", "--force", "--delete-branch", n], capture_output=True, env=env)
        subprocess.run([airlock, "proxy", "stop", "--grace", "1"], capture_output=True, env=env)
    return result


def markdown(r):
    return "\n".join([
        "### Dashboard at rest (airlock ui)",
        "",
        f"{r['sessions']} sessions of the busybox test image ({r.get('running', '?')} running), `airlock ui` "
        f"measured over {r['seconds']} s after 10 s of settling (utime + stime of its process):",
        "",
        "| what is connected | CPU, % of one core |",
        "|---|---:|",
        f"| a dashboard tab: live-update stream, one session's terminal and logs WebSockets, /api/stats every 10 s "
        f"| {r['page_pct']:.2f} |",
        f"| the live-update stream only | {r['stream_pct']:.2f} |",
        "",
        f"Resident memory of `airlock ui` afterwards: {r['rss_kib'] / 1024:.1f} MiB. Target: under 2% of one core.",
        "",
    ])


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # still remove the sessions
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--airlock", required=True)
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--seconds", type=int, default=60)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="airlock-ui-idle-")
    try:
        r = run_ui_idle(os.path.abspath(args.airlock), work, args.sessions, args.seconds,
                        log=lambda m: print(m, file=sys.stderr, flush=True))
        print(markdown(r))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
