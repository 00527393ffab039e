#!/usr/bin/python3
"""airlock's benchmarks, side by side with mitmproxy and Squid in one run (bench/run).

Every proxy under test runs pinned to core 0; the clients (hey, curl, airlock-bench) and
the origin (airlock-bench origin, TLS 1.3) share core 1. Each measurement starts the proxy
fresh, measures, and stops it; targets run in random order within each repetition, and
the tables report medians over the repetitions. Nothing here fails on a figure: the
targets of docs/performance.md are printed beside the results.

Figures that carry across machines are CPU time per request and per connection, read from
/proc/PID/stat (utime + stime over the proxy's whole process tree). Rates and latencies
depend on this machine.
"""

import argparse
import datetime
import json
import os
import random
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import peers  # noqa: E402

HEADER = "X-Bench-Key"
SECRET = "bench-secret-" + os.urandom(8).hex()
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
TARGETS = ["direct", "airlock", "mitmproxy", "squid"]
PROXIES = ["airlock", "mitmproxy", "squid"]


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


# ---- /proc ------------------------------------------------------------------------------

def tree(pid):
    """pid and all its descendants."""
    out, pending = [], [pid]
    while pending:
        p = pending.pop()
        out.append(p)
        try:
            for t in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{t}/children") as f:
                    pending += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return out


def cpu_seconds(pid):
    total = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except OSError:
            pass
    return total / TICK


def memory_kib(pid, field):
    """Sum of a /proc/PID/status field (VmRSS, VmHWM) over the tree, in KiB."""
    total = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith(field + ":"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


# ---- the world: certificates, origin, hosts ---------------------------------------------

class World:
    def __init__(self, work, tool, airlock_bin, quick):
        self.work, self.tool, self.airlock_bin, self.quick = work, tool, airlock_bin, quick
        self.origin_port = free_port()
        self.hosts = ["origin.bench.test"]
        # Fresh names for every distinct-host run: a leaf is minted for each, once.
        self.name_sets = [[f"r{r}-h{i:04d}.bench.test" for i in range(1000)] for r in range(8)]
        self.all_hosts = self.hosts + [h for s in self.name_sets for h in s]
        self.next_set = 0
        self.make_certs()
        self.origin = None

    def make_certs(self):
        d = self.work
        ext = os.path.join(d, "origin.ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=DNS:origin.bench.test,DNS:*.bench.test,IP:127.0.0.1\n"
                    "extendedKeyUsage=serverAuth\n")
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        for name, cn in (("test-ca", "bench origin test CA"), ("mitm-ca", "bench interception CA")):
            run(["openssl", "req", "-x509", *ec, "-keyout", f"{d}/{name}.key", "-out", f"{d}/{name}.pem",
                 "-days", "2", "-subj", f"/CN={cn}", "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        run(["openssl", "req", *ec, "-keyout", f"{d}/origin.key", "-out", f"{d}/origin.csr",
             "-subj", "/CN=origin.bench.test"])
        run(["openssl", "x509", "-req", "-in", f"{d}/origin.csr", "-CA", f"{d}/test-ca.pem", "-CAkey",
             f"{d}/test-ca.key", "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", f"{d}/origin.pem"])
        self.test_ca = f"{d}/test-ca.pem"
        self.mitm_ca, self.mitm_key = f"{d}/mitm-ca.pem", f"{d}/mitm-ca.key"

    def start_origin(self):
        self.origin = subprocess.Popen(
            ["taskset", "-c", "1", self.tool, "origin", "--port", str(self.origin_port), "--cert",
             f"{self.work}/origin.pem", "--key", f"{self.work}/origin.key", "--header", HEADER,
             "--secret", SECRET], stdout=subprocess.PIPE, text=True)
        line = self.origin.stdout.readline()
        if not line.startswith("listening"):
            raise RuntimeError("the bench origin did not start")

    def stop_origin(self):
        if self.origin:
            self.origin.terminate()
            self.origin.wait()

    def fresh_names(self):
        s = self.name_sets[self.next_set % len(self.name_sets)]
        self.next_set += 1
        path = os.path.join(self.work, f"names-{self.next_set}.txt")
        with open(path, "w") as f:
            f.write("\n".join(s) + "\n")
        return path


# ---- targets ----------------------------------------------------------------------------

class Target:
    """A proxy under test (or the direct connection). start() returns once it listens."""
    name = ""

    def __init__(self, world):
        self.w = world
        self.proc = None
        self.port = None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def url(self):  # for hey / curl -x
        return f"http://127.0.0.1:{self.port}"

    def client_args(self):  # for airlock-bench
        return ["--proxy", f"127.0.0.1:{self.port}"]

    def ca(self):  # what a client must trust for *.bench.test through this target
        return self.w.mitm_ca

    def stop(self):
        if self.proc:
            peers.stop(self.proc)
            self.proc = None


class Direct(Target):
    name = "direct"

    def start(self, **_):
        pass

    def client_args(self):
        return ["--direct", f"127.0.0.1:{self.w.origin_port}", "--send-header", f"{HEADER}: {SECRET}"]

    def ca(self):
        return self.w.test_ca

    def stop(self):
        pass


class Airlock(Target):
    name = "airlock"

    def __init__(self, world):
        super().__init__(world)
        self.home = os.path.join(world.work, "airlock-home")
        os.makedirs(os.path.join(self.home, "secrets"), exist_ok=True)
        self.env = dict(os.environ, AIRLOCK_HOME=self.home)
        secret = os.path.join(self.home, "secrets", "bench")
        with open(secret, "w") as f:
            f.write(SECRET + "\n")
        os.chmod(secret, 0o600)
        run([world.airlock_bin, "ca", "init"], env=self.env)
        self.write_config(free_port())
        url = run([world.airlock_bin, "proxy", "client", "add", "bench"], env=self.env).stdout.strip()
        m = re.match(r"http://([^:]+):([^@]+)@", url)
        self.auth = f"{m.group(1)}:{m.group(2)}"

    def write_config(self, port, max_connections=6000):
        self.port = port
        op = self.w.origin_port
        resolve = "\n".join(f'"{h}:{op}" = "127.0.0.1:{op}"' for h in self.w.all_hosts)
        with open(os.path.join(self.home, "config.toml"), "w") as f:
            f.write(f"""[proxy]
port = {port}
listen = ["127.0.0.1"]
ports = [{op}]
upstream_ca = "{self.w.test_ca}"
threads = 1
max_connections = {max_connections}
max_connections_per_client = {max_connections}

[proxy.resolve]
{resolve}

[[credential]]
name = "bench"
hosts = ["*.bench.test"]
header = "{HEADER}"
template = "{{secret}}"
secret = {{ file = "secrets/bench" }}
""")

    def start(self, max_connections=6000):
        self.write_config(free_port(), max_connections)
        logf = open(os.path.join(self.w.work, "airlock-proxy.log"), "a")
        self.proc = subprocess.Popen(["taskset", "-c", "0", self.w.airlock_bin, "proxy", "run"], env=self.env,
                                     stdout=logf, stderr=logf, start_new_session=True)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("airlock proxy exited at start; see airlock-proxy.log")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("airlock proxy did not listen within 20 s")

    def url(self):
        return f"http://{self.auth}@127.0.0.1:{self.port}"

    def client_args(self):
        return ["--proxy", f"127.0.0.1:{self.port}", "--auth", self.auth]

    def ca(self):
        return os.path.join(self.home, "ca", "ca.pem")


class Mitmproxy(Target):
    name = "mitmproxy"

    def start(self, **_):
        self.port = free_port()
        wd = tempfile.mkdtemp(prefix="mitm-", dir=self.w.work)
        self.proc = peers.start_mitmproxy(wd, self.port, self.w.origin_port, self.w.mitm_ca, self.w.mitm_key,
                                          self.w.test_ca, HEADER, SECRET, ["taskset", "-c", "0"])


class Squid(Target):
    name = "squid"

    def start(self, **_):
        self.port = free_port()
        wd = tempfile.mkdtemp(prefix="squid-", dir=self.w.work)
        self.proc = peers.start_squid(wd, self.port, self.w.origin_port, self.w.mitm_ca, self.w.mitm_key,
                                      self.w.test_ca, HEADER, SECRET, self.w.all_hosts, ["taskset", "-c", "0"])


# ---- clients ----------------------------------------------------------------------------

def tool(w, t, mode, *args, stdin=None):
    cmd = ["taskset", "-c", "1", w.tool, mode, "--ca", t.ca(), "--port", str(w.origin_port), *t.client_args(), *args]
    out = subprocess.run(cmd, capture_output=True, text=True, stdin=stdin)
    line = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else "{}"
    result = json.loads(line)
    if out.returncode != 0:
        log(f"{t.name} {mode}: exit {out.returncode} {out.stderr.strip()[:200]} {line}")
    return result


def origin_url(w, t, path):
    host = "127.0.0.1" if t.name == "direct" else "origin.bench.test"
    return f"https://{host}:{w.origin_port}{path}"


def hey(w, t, concurrency, seconds):
    cmd = ["taskset", "-c", "1", "hey", "-z", f"{seconds}s", "-c", str(concurrency)]
    if t.name == "direct":
        cmd += ["-H", f"{HEADER}: {SECRET}"]
    else:
        cmd += ["-x", t.url()]
    cmd.append(origin_url(w, t, "/small"))
    out = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, SSL_CERT_FILE=t.ca()))
    ok = sum(int(n) for n in re.findall(r"\[200\]\s+(\d+) responses", out.stdout))
    other = sum(int(n) for code, n in re.findall(r"\[(\d+)\]\s+(\d+) responses", out.stdout) if code != "200")
    errors = sum(int(n) for n in re.findall(r"^\s+\[(\d+)\]\s+Get", out.stdout, re.M))
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out.stdout)
    return {"ok": ok, "not_ok": other + errors, "rps": float(rps.group(1)) if rps else 0.0}


def curl_bulk(w, t, direction, size, upload_file=None):
    cmd = ["taskset", "-c", "1", "curl", "-sS", "--cacert", t.ca(), "-o", "/dev/null",
           "-w", "%{http_code} %{speed_download} %{speed_upload} %{size_download}"]
    if t.name == "direct":
        cmd += ["-H", f"{HEADER}: {SECRET}"]
    else:
        cmd += ["-x", t.url()]
    if direction == "download":
        cmd.append(origin_url(w, t, f"/bytes/{size}"))
    else:
        cmd += ["-T", upload_file, origin_url(w, t, "/upload")]
    out = subprocess.run(cmd, capture_output=True, text=True)
    fields = out.stdout.split()
    if out.returncode != 0 or len(fields) < 4 or fields[0] != "200":
        log(f"{t.name} {direction}: curl failed: {out.stdout} {out.stderr.strip()[:200]}")
        return None
    speed = float(fields[1] if direction == "download" else fields[2])
    return speed / 1e6  # MB/s


# ---- measurements -----------------------------------------------------------------------
# Each returns a dict of figures for one target with the target freshly started.

def m_keepalive(w, t):
    r = {}
    secs = 2 if w.quick else 4
    hey(w, t, 4, 1)  # warm: leaf, connections
    for c in (1, 16, 64):
        c0 = cpu_seconds(t.pid) if t.pid else 0
        h = hey(w, t, c, secs)
        c1 = cpu_seconds(t.pid) if t.pid else 0
        r[f"rps_c{c}"] = h["rps"]
        if h["not_ok"]:
            r[f"errors_c{c}"] = h["not_ok"]
        if t.pid and h["ok"]:
            r[f"cpu_us_per_req_c{c}"] = (c1 - c0) / h["ok"] * 1e6
    return r


def m_connections(w, t):
    r = {}
    secs = "2" if w.quick else "4"
    tool(w, t, "connections", "--concurrency", "8", "--seconds", "1")  # warm the leaf cache
    c0 = cpu_seconds(t.pid) if t.pid else 0
    x = tool(w, t, "connections", "--concurrency", "16", "--seconds", secs)
    c1 = cpu_seconds(t.pid) if t.pid else 0
    r["conn_rate"] = x.get("rate", 0)
    if x.get("failed"):
        r["conn_failed"] = x["failed"]
    if t.pid and x.get("ok"):
        r["cpu_us_per_conn"] = (c1 - c0) / x["ok"] * 1e6
    names = w.fresh_names()
    c0 = cpu_seconds(t.pid) if t.pid else 0
    x = tool(w, t, "connections", "--concurrency", "16", "--seconds", "120", "--count", "1000", "--hosts", names)
    c1 = cpu_seconds(t.pid) if t.pid else 0
    r["conn_rate_1000_names"] = x.get("rate", 0)
    if x.get("failed"):
        r["conn_1000_failed"] = x["failed"]
    if t.pid and x.get("ok"):
        r["cpu_us_per_conn_1000_names"] = (c1 - c0) / x["ok"] * 1e6
    return r


def m_latency(w, t):
    warm = tool(w, t, "latency", "--count", "1000" if w.quick else "3000")
    cold = tool(w, t, "latency", "--count", "200" if w.quick else "500", "--cold")
    return {"warm_p50_us": warm.get("ttfb_p50_us"), "warm_p99_us": warm.get("ttfb_p99_us"),
            "cold_p50_us": cold.get("ttfb_p50_us"), "cold_p99_us": cold.get("ttfb_p99_us")}


def m_bulk(w, t):
    r = {}
    gib = (256 if w.quick else 1024) * 1024 * 1024
    small = 64 * 1024 * 1024
    curl_bulk(w, t, "download", small)
    curl_bulk(w, t, "upload", small, w.upload_small)
    hwm_small = memory_kib(t.pid, "VmHWM") if t.pid else 0
    c0 = cpu_seconds(t.pid) if t.pid else 0
    r["download_MBps"] = curl_bulk(w, t, "download", gib)
    c1 = cpu_seconds(t.pid) if t.pid else 0
    r["upload_MBps"] = curl_bulk(w, t, "upload", gib, w.upload_big)
    c2 = cpu_seconds(t.pid) if t.pid else 0
    if t.pid:
        # What one core of the proxy could carry: bytes over the proxy's own CPU time (the
        # client and origin share the other core and may be the bottleneck above).
        if r["download_MBps"] and c1 > c0:
            r["download_MBps_per_core"] = gib / (c1 - c0) / 1e6
        if r["upload_MBps"] and c2 > c1:
            r["upload_MBps_per_core"] = gib / (c2 - c1) / 1e6
        hwm_big = memory_kib(t.pid, "VmHWM")
        r["peak_rss_MiB"] = hwm_big / 1024
        r["peak_rss_growth_MiB"] = (hwm_big - hwm_small) / 1024
    return r


def m_sse(w, t):
    x = tool(w, t, "sse", "--events", "100" if w.quick else "250", "--interval-ms", "20")
    return {"sse_p50_us": x.get("delay_p50_us"), "sse_p99_us": x.get("delay_p99_us"),
            "sse_max_us": x.get("delay_max_us")}


def open_idle(w, t, count):
    """Starts `airlock-bench idle`: returns the process (holding its connections until its
    stdin closes) and its report {open, refused, failed}."""
    cmd = ["taskset", "-c", "1", w.tool, "idle", "--ca", t.ca(), "--port", str(w.origin_port), *t.client_args(),
           "--count", str(count)]
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    return p, json.loads(p.stdout.readline() or "{}")


def close_idle(p):
    p.stdin.close()
    p.wait()


def m_idle(w, t, count):
    if not t.pid:
        return {}
    tool(w, t, "latency", "--count", "20")  # leaf and first allocations
    rss0 = memory_kib(t.pid, "VmRSS")
    p, res = open_idle(w, t, count)
    time.sleep(1.0)
    rss1 = memory_kib(t.pid, "VmRSS")
    close_idle(p)
    opened = res.get("open", 0)
    r = {f"idle{count}_open": opened}
    if res.get("failed") or res.get("refused"):
        r[f"idle{count}_failed"] = res.get("failed", 0) + res.get("refused", 0)
    if opened:
        r[f"idle{count}_kib_per_conn"] = (rss1 - rss0) / opened
    return r


def limit_check(w, a):
    """airlock with max_connections = 500: 600 attempts give 500 open and 100 refused (503)."""
    a.start(max_connections=500)
    try:
        p, res = open_idle(w, a, 600)
        close_idle(p)
        return res
    finally:
        a.stop()


# ---- driver -----------------------------------------------------------------------------

MEASURES = {
    "keepalive": m_keepalive,
    "connections": m_connections,
    "latency": m_latency,
    "bulk": m_bulk,
    "sse": m_sse,
}


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, digits=0):
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    return f"{v:,}"


def ratio(a, b, digits=2):
    if a is None or b is None or b == 0:
        return "–"
    return f"{a / b:.{digits}f}×"


def table(rows, header):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def report(res, idle, limit, sessions, meta):
    R = lambda t, k: res.get(t, {}).get(k)  # noqa: E731
    lines = [f"# airlock benchmark — {meta['date']}", "",
             f"Machine: {meta['cpu']}, {meta['cores']} cores; proxy pinned to core 0, clients and origin to core 1. "
             f"Medians of {meta['reps']} repetitions (idle connections: one run). Versions: {meta['versions']}.",
             f"Command: `{meta['command']}`", ""]

    lines += ["## 1. Warm keep-alive (`hey -z`, /small, 3-byte body)", ""]
    rows = []
    for t in TARGETS:
        rows.append([t] + [fmt(R(t, f"rps_c{c}")) for c in (1, 16, 64)] +
                    [fmt(R(t, f"cpu_us_per_req_c{c}"), 1) for c in (1, 16, 64)])
    lines += [table(rows, ["target", "req/s c=1", "req/s c=16", "req/s c=64", "proxy CPU µs/req c=1",
                           "c=16", "c=64"]), ""]
    a, m, s = (R(t, "cpu_us_per_req_c16") for t in PROXIES)
    lines += [f"airlock CPU per request (c=16) against mitmproxy: **{ratio(a, m, 3)}** (target ≤ 0.1×); "
              f"against Squid: **{ratio(a, s)}** (target ≤ 0.5×).", ""]

    lines += ["## 2. New intercepted connections (CONNECT + TLS both sides + one request each, 16 at a time)", ""]
    rows = [[t, fmt(R(t, "conn_rate")), fmt(R(t, "cpu_us_per_conn")), fmt(R(t, "conn_rate_1000_names")),
             fmt(R(t, "cpu_us_per_conn_1000_names"))] for t in TARGETS]
    lines += [table(rows, ["target", "conn/s (warm leaf)", "proxy CPU µs/conn", "conn/s (1,000 new names)",
                           "proxy CPU µs/conn"]), ""]
    cpu = R("airlock", "cpu_us_per_conn")
    lines += [f"airlock on one core: {fmt(1e6 / cpu if cpu else None)} connections/s of CPU "
              f"(1 s / CPU per connection; target ≥ 800).", ""]

    lines += ["## 3. Added latency (time to first byte through the proxy minus direct)", ""]
    rows = []
    for t in PROXIES:
        row = [t]
        for k in ("warm_p50_us", "warm_p99_us", "cold_p50_us", "cold_p99_us"):
            v, d = R(t, k), R("direct", k)
            row.append(fmt(v - d if v is not None and d is not None else None, 1))
        rows.append(row)
    rows.append(["(direct, absolute)"] + [fmt(R("direct", k), 1) for k in
                                          ("warm_p50_us", "warm_p99_us", "cold_p50_us", "cold_p99_us")])
    lines += [table(rows, ["target", "warm p50 µs", "warm p99 µs", "cold p50 µs", "cold p99 µs"]),
              "", "Target: airlock warm p50 under 200 µs added.", ""]

    lines += [f"## 4. Bulk ({meta['bulk']} through interception, curl)", ""]
    rows = [[t, fmt(R(t, "download_MBps")), fmt(R(t, "upload_MBps")), fmt(R(t, "download_MBps_per_core")),
             fmt(R(t, "upload_MBps_per_core")), fmt(R(t, "peak_rss_MiB"), 1),
             fmt(R(t, "peak_rss_growth_MiB"), 1)] for t in TARGETS]
    lines += [table(rows, ["target", "download MB/s", "upload MB/s", "download MB/s per proxy CPU second",
                           "upload MB/s per proxy CPU second", "proxy peak RSS MiB",
                           "peak RSS growth 64 MiB → full size"]), "",
              "The first two columns are wall-clock rates (curl and the origin share one core and can be the "
              "limit, see the direct row); the next two divide the bytes by the proxy's own CPU time, what one "
              "core of it could carry. Target: airlock ≥ 1,000 MB/s on one core; flat peak RSS.", ""]

    lines += ["## 5. Server-sent events (event every 20 ms; delay added to each event)", ""]
    rows = []
    for t in PROXIES:
        row = [t]
        for k in ("sse_p50_us", "sse_p99_us", "sse_max_us"):
            v, d = R(t, k), R("direct", k)
            row.append(fmt(v - d if v is not None and d is not None else None, 1))
        rows.append(row)
    rows.append(["(direct, absolute)"] + [fmt(R("direct", k), 1) for k in ("sse_p50_us", "sse_p99_us", "sse_max_us")])
    lines += [table(rows, ["target", "added p50 µs", "added p99 µs", "added max µs"]), "",
              "Target: airlock added p99 under 1,000 µs.", ""]

    lines += ["## 6. Idle intercepted connections (one request each, then held open)", ""]
    counts = sorted({int(k[4:].split("_")[0]) for t in idle for k in idle[t] if k.startswith("idle")})
    rows = []
    for t in PROXIES:
        row = [t]
        for c in counts:
            row += [fmt(idle.get(t, {}).get(f"idle{c}_open")), fmt(idle.get(t, {}).get(f"idle{c}_kib_per_conn"), 1)]
        rows.append(row)
    hdr = ["target"]
    for c in counts:
        hdr += [f"open of {c:,}", f"RSS KiB/conn at {c:,}"]
    lines += [table(rows, hdr), "", "Target: airlock under 64 KiB per idle connection."]
    if limit:
        lines += ["", f"Connection limit (airlock, `max_connections = 500`, 600 attempts): {limit.get('open')} open, "
                      f"{limit.get('refused')} refused with 503, {limit.get('failed')} failed otherwise."]
    lines.append("")

    if sessions:
        lines += ["## 7. Sessions (airlock against the same steps done by hand)", "", sessions,
                  "Targets: `airlock create` within 1.15× of the raw steps; `airlock list` with 1,000 sessions "
                  "under 50 ms.", ""]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--airlock", required=True)
    ap.add_argument("--tool", required=True)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="smaller sizes and shorter runs (a smoke run)")
    ap.add_argument("--only", default="", help="comma-separated measures: " + ",".join(MEASURES) + ",idle,sessions,ui")
    ap.add_argument("--targets", default=",".join(TARGETS))
    ap.add_argument("--out", default="")
    args = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if (os.cpu_count() or 1) < 2:
        log("warning: fewer than 2 cores; proxy and clients share a core")

    only = [m for m in args.only.split(",") if m] or list(MEASURES) + ["idle", "sessions", "ui"]
    names = [t for t in args.targets.split(",") if t]
    work = tempfile.mkdtemp(prefix="airlock-bench-")
    os.chmod(work, 0o755)  # squid runs as 'proxy' and must reach its workdir
    w = World(work, args.tool, args.airlock, args.quick)
    w.upload_small = os.path.join("/dev/shm", f"airlock-bench-{os.getpid()}-64m")
    w.upload_big = os.path.join("/dev/shm", f"airlock-bench-{os.getpid()}-big")
    started = time.time()
    targets = {}
    try:
        with open(w.upload_small, "wb") as f:
            f.truncate(64 * 1024 * 1024)
        with open(w.upload_big, "wb") as f:
            f.truncate((256 if args.quick else 1024) * 1024 * 1024)
        w.start_origin()
        classes = {"direct": Direct, "airlock": Airlock, "mitmproxy": Mitmproxy, "squid": Squid}
        targets = {n: classes[n](w) for n in names}
        raw = {n: [] for n in names}
        measures = [m for m in only if m in MEASURES]
        for rep in range(args.reps):
            order = [(m, n) for m in measures for n in names]
            random.shuffle(order)
            results = {n: {} for n in names}
            for m, n in order:
                t = targets[n]
                log(f"rep {rep + 1}/{args.reps}: {m} via {n}")
                t.start()
                try:
                    results[n].update(MEASURES[m](w, t))
                finally:
                    t.stop()
            for n in names:
                raw[n].append(results[n])
        res = {n: {k: median([r.get(k) for r in raw[n]]) for k in set().union(*raw[n])} for n in names}

        idle, limit = {}, None
        if "idle" in only:
            counts = (200, 1000) if args.quick else (1000, 5000)
            for n in [n for n in names if n != "direct"]:
                idle[n] = {}
                for c in counts:
                    log(f"idle {c} via {n}")
                    t = targets[n]
                    t.start()
                    try:
                        idle[n].update(m_idle(w, t, c))
                    finally:
                        t.stop()
            if "airlock" in targets:
                log("connection limit check")
                limit = limit_check(w, targets["airlock"])

        sessions_md = None
        if "sessions" in only:
            import sessions
            log("sessions")
            sres = sessions.run_sessions(args.airlock, os.path.join(work, "sessions"), reps=args.reps, log=log)
            sessions_md = sessions.markdown(sres)

        ui_md = None
        if "ui" in only:
            import ui_idle
            log("ui idle")
            ui_md = ui_idle.markdown(ui_idle.run_ui_idle(args.airlock, os.path.join(work, "ui"), log=log))

        versions = peers.peer_versions()
        meta = {
            "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
            "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?"),
            "cores": os.cpu_count(),
            "reps": args.reps,
            "versions": ", ".join([f"airlock {git_rev()}"] + [f"{k} {v}" for k, v in versions.items()] +
                                  [f"OpenSSL {openssl_version()}"]),
            "command": "bench/run" + (" --quick" if args.quick else "") +
                       (f" --only {args.only}" if args.only else ""),
            "bulk": "256 MiB" if args.quick else "1 GiB",
        }
        md = report(res, idle, limit, sessions_md, meta)
        if ui_md:
            md += "\n" + ui_md
        md += f"\nTotal bench time: {time.time() - started:.0f} s.\n"
        print(md)
        out = args.out or os.path.join(HERE, "results", datetime.datetime.now().strftime("%Y%m%d-%H%M%S") + ".md")
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with open(out, "w") as f:
            f.write(md)
        with open(out[:-3] + ".json", "w") as f:
            json.dump({"results": res, "raw": raw, "idle": idle, "limit": limit, "meta": meta}, f, indent=1)
        log(f"wrote {out}")
    finally:
        for t in targets.values():
            try:
                t.stop()
            except Exception:  # noqa: BLE001
                pass
        w.stop_origin()
        for p in (getattr(w, "upload_small", None), getattr(w, "upload_big", None)):
            if p and os.path.exists(p):
                os.unlink(p)
        shutil.rmtree(work, ignore_errors=True)


def git_rev():
    try:
        return run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"]).stdout.strip()
    except Exception:  # noqa: BLE001
        return "?"


def openssl_version():
    try:
        return run(["openssl", "version"]).stdout.split()[1]
    except Exception:  # noqa: BLE001
        return "?"


if __name__ == "__main__":
    main()
