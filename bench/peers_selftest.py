"""Self-test for bench/peers.py: run each peer proxy against a local TLS 1.3
origin and check interception, header injection, keep-alive, streaming
uploads, upstream certificate verification and clean shutdown.

    /usr/bin/python3 bench/peers_selftest.py [--keep] [--no-hey] [mitmproxy|squid]...

Also runs hey (-n 200 -c 4) through each peer unless --no-hey.

Prints TAP-like 'ok - ...' / 'not ok - ...' lines; exit status 0 iff all ok.
"""

import http.server
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402

HEADER = "X-Bench-Key"
SECRET = "bench-secret-123"
PREFIX = ["taskset", "-c", "0"]
HOSTS = [f"h{i:04d}.bench.test" for i in range(1000)]
UPLOAD = 20 * 1024 * 1024

failures = 0


def report(ok, what, detail=""):
    global failures
    if not ok:
        failures += 1
    line = ("ok - " if ok else "not ok - ") + what
    if detail and not ok:
        line += "\n    " + detail.strip().replace("\n", "\n    ")
    elif detail:
        line += f"  [{detail.strip()}]"
    print(line, flush=True)


def sh(*cmd, **kw):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, **kw)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------
# PKI with the openssl CLI

def make_ca(d, name, cn):
    key, crt = os.path.join(d, name + ".key"), os.path.join(d, name + ".crt")
    sh("openssl", "req", "-x509", "-new", "-newkey", "ec",
       "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "30",
       "-subj", f"/CN={cn}", "-keyout", key, "-out", crt,
       "-addext", "basicConstraints=critical,CA:TRUE",
       "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return crt, key


def make_leaf(d, name, ca_crt, ca_key,
              names=("*.bench.test", "origin.bench.test")):
    key, csr = os.path.join(d, name + ".key"), os.path.join(d, name + ".csr")
    crt, ext = os.path.join(d, name + ".crt"), os.path.join(d, name + ".ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=" + ",".join("DNS:" + n for n in names) + "\n"
                "extendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n")
    sh("openssl", "req", "-new", "-newkey", "ec",
       "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
       "-subj", f"/CN={names[-1]}", "-keyout", key, "-out", csr)
    sh("openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key,
       "-CAcreateserial", "-days", "30", "-extfile", ext, "-out", crt)
    return crt, key


# --------------------------------------------------------------------------
# origin

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, code, body):
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.server.requests += 1
        if self.path != "/small":
            return self.reply(404, b"not found\n")
        if self.headers.get(HEADER) == SECRET:
            self.server.authorised += 1
            return self.reply(200, b"ok\n")
        return self.reply(401, b"missing key\n")

    def do_PUT(self):
        self.server.requests += 1
        n = int(self.headers.get("Content-Length", "0"))
        got = 0
        while got < n:
            chunk = self.rfile.read(min(1 << 20, n - got))
            if not chunk:
                break
            got += len(chunk)
        if self.path != "/upload" or self.headers.get(HEADER) != SECRET:
            return self.reply(401, b"missing key\n")
        self.reply(200, f"{got}\n".encode())


class TLSOrigin(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port, crt, key):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        self.ctx.load_cert_chain(crt, key)
        self.requests = self.authorised = self.connections = 0
        self.snis = set()
        self.ctx.sni_callback = lambda sock, name, ctx: self.snis.add(name)
        super().__init__(("127.0.0.1", port), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def finish_request(self, request, client_address):
        # TLS handshake in the per-connection thread, not the accept loop.
        self.connections += 1
        try:
            tls = self.ctx.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        except (OSError, ssl.SSLError):
            pass
        finally:
            try:
                tls.close()
            except OSError:
                pass


# --------------------------------------------------------------------------

def curl(proxy_port, ca, *args, timeout=60):
    cmd = ["curl", "-sS", "--cacert", ca, "-x",
           f"http://127.0.0.1:{proxy_port}", "--max-time", str(timeout)]
    cmd += list(args)
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def leaf_key_type(proxy_port, origin_port, ca):
    r = subprocess.run(
        ["openssl", "s_client", "-proxy", f"127.0.0.1:{proxy_port}",
         "-connect", f"h0042.bench.test:{origin_port}",
         "-servername", "h0042.bench.test", "-CAfile", ca,
         "-verify_return_error"],
        input=b"", stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        timeout=30)
    out = r.stdout.decode(errors="replace")
    pem = out[out.find("-----BEGIN CERTIFICATE-----"):
              out.find("-----END CERTIFICATE-----") + 25]
    t = subprocess.run(["openssl", "x509", "-noout", "-text"],
                       input=pem.encode(), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT).stdout.decode()
    alg = [l.strip() for l in t.splitlines()
           if "Public Key Algorithm" in l or "Public-Key:" in l
           or "ASN1 OID" in l or "Subject:" in l or "DNS:" in l]
    verified = "Verify return code: 0 (ok)" in out
    pub = lambda pem_bytes: subprocess.run(
        ["openssl", "x509", "-noout", "-pubkey"], input=pem_bytes,
        stdout=subprocess.PIPE).stdout
    with open(ca, "rb") as f:
        same = pub(pem.encode()) == pub(f.read())
    alg.append("leaf key == CA key" if same else "own leaf key")
    return "; ".join(alg), verified


def leftovers(pattern):
    r = subprocess.run(["pgrep", "-af", pattern], stdout=subprocess.PIPE)
    # not this test's own command line (or a wrapper's) nor pgrep itself
    return [l for l in r.stdout.decode().splitlines()
            if "peers_selftest" not in l and "pgrep" not in l]


def run_hey(proxy_port, origin_port, ca):
    if not shutil.which("hey"):
        return None
    env = dict(os.environ, SSL_CERT_FILE=ca)
    r = subprocess.run(
        ["hey", "-n", "200", "-c", "4", "-x", f"http://127.0.0.1:{proxy_port}",
         f"https://origin.bench.test:{origin_port}/small"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    out = r.stdout.decode(errors="replace")
    i = out.find("Status code distribution:")
    dist = out[i:].split("\n\n")[0] if i >= 0 else out[-1500:]
    j = out.find("Error distribution:")
    if j >= 0:
        dist += "\n" + out[j:].strip()
    return dist


def test_peer(name, start, tmp, pki, origin, bad_origins, do_hey):
    ca_crt, ca_key, test_ca, icpt_ca = pki
    op = origin.server_address[1]
    port = free_port()
    workdir = os.path.join(tmp, name)
    os.mkdir(workdir)
    t0 = time.monotonic()
    try:
        proc = start(workdir, port, op)
    except Exception as e:  # noqa: BLE001
        report(False, f"{name}: starts and listens", str(e))
        return
    report(True, f"{name}: starts and listens on 127.0.0.1:{port}",
           f"{time.monotonic() - t0:.2f}s, pid {proc.pid}")
    try:
        aff = open(f"/proc/{proc.pid}/status").read()
        aff = [l for l in aff.splitlines() if l.startswith("Cpus_allowed_list")]
        comm = open(f"/proc/{proc.pid}/comm").read().strip()
        report(aff and aff[0].split()[-1] == "0" and comm in ("squid", "mitmdump"),
               f"{name}: Popen pid is the peer itself, pinned by the prefix",
               f"comm={comm} {aff[0] if aff else ''}")

        for host in ("origin.bench.test", "h0007.bench.test"):
            a0 = origin.authorised
            r = curl(port, icpt_ca, f"https://{host}:{op}/small")
            ok = r.returncode == 0 and r.stdout == b"ok\n" and origin.authorised == a0 + 1
            report(ok, f"{name}: GET https://{host}:{op}/small -> 200 ok (header added)",
                   "" if ok else f"rc={r.returncode} out={r.stdout!r} err={r.stderr.decode()!r}")

        c0 = origin.connections
        url = f"https://origin.bench.test:{op}/small"
        r = curl(port, icpt_ca, url, url, "-w", "%{http_code} %{num_connects}\n")
        out = r.stdout.decode()
        ok = r.returncode == 0 and out == "ok\n200 1\nok\n200 0\n"
        report(ok, f"{name}: keep-alive, two requests over one client connection",
               f"curl new conns per request: {out.split()[2]},{out.split()[5]}; "
               f"origin TLS conns opened: {origin.connections - c0}"
               if ok else f"rc={r.returncode} out={out!r} err={r.stderr.decode()!r}")

        c0 = origin.connections
        many = [f"https://h0001.bench.test:{op}/small"] * 5
        r = curl(port, icpt_ca, *many, "-w", "%{http_code} %{num_connects}\n")
        out = r.stdout.decode().split()
        report(r.returncode == 0 and out.count("200") == 5 and origin.connections - c0 == 1,
               f"{name}: upstream keep-alive, 5 requests -> 1 origin connection",
               f"origin TLS conns opened: {origin.connections - c0}")

        data = os.path.join(tmp, "upload.bin")
        if not os.path.exists(data):
            with open(data, "wb") as f:
                f.write(os.urandom(UPLOAD))
        t0 = time.monotonic()
        r = curl(port, icpt_ca, "-T", data, f"https://origin.bench.test:{op}/upload",
                 timeout=120)
        ok = r.returncode == 0 and r.stdout == f"{UPLOAD}\n".encode()
        report(ok, f"{name}: PUT 20 MiB upload arrives complete",
               f"{time.monotonic() - t0:.2f}s" if ok else
               f"rc={r.returncode} out={r.stdout[:200]!r} err={r.stderr.decode()!r}")

        kt, verified = leaf_key_type(port, op, icpt_ca)
        report(verified and bool(kt), f"{name}: leaf certificate verifies against the interception CA",
               f"leaf key: {kt}")

        if do_hey:
            dist = run_hey(port, op, icpt_ca)
            print(f"# {name}: hey -n 200 -c 4:\n#   " +
                  (dist or "hey not installed").replace("\n", "\n#   "), flush=True)
            if dist is not None:
                report("[200]\t200 responses" in dist and "Error" not in dist,
                       f"{name}: hey 200 requests all 200", dist)
    finally:
        pid = proc.pid
        peers.stop(proc)
    time.sleep(0.3)
    left = leftovers("squid") + leftovers("mitmdump") + leftovers("security_file_certgen")
    print(f"# {name}: SNI names the origin saw so far: {sorted(origin.snis)}")
    report(not left and not os.path.exists(f"/proc/{pid}"),
           f"{name}: stopped, no processes left", "\n".join(left))

    # Upstream verification: another instance pointed at an origin whose
    # certificate must not verify (issued by a different CA with the same
    # CN; issued by the test CA for the wrong name) must refuse it.
    for i, (why, bad) in enumerate(bad_origins):
        bad_wd = os.path.join(tmp, f"{name}-bad{i}")
        os.mkdir(bad_wd)
        port = free_port()
        bp = bad.server_address[1]
        proc = start(bad_wd, port, bp)
        try:
            req0 = bad.requests
            r = curl(port, icpt_ca, "-w", "%{http_code}",
                     f"https://origin.bench.test:{bp}/small")
            refused = bad.requests == req0 and b"ok\n" not in r.stdout
            report(refused, f"{name}: refuses an origin whose cert is {why}",
                   f"curl rc={r.returncode} "
                   f"http_code={r.stdout[-3:].decode(errors='replace')}, "
                   f"origin saw {bad.requests - req0} requests")
        finally:
            peers.stop(proc)
        time.sleep(0.3)
        left = (leftovers("squid") + leftovers("mitmdump")
                + leftovers("security_file_certgen"))
        report(not left, f"{name} (bad-origin instance {i}): stopped, "
               f"no processes left", "\n".join(left))


def main():
    keep = "--keep" in sys.argv
    do_hey = "--no-hey" not in sys.argv
    only = [a for a in sys.argv[1:] if not a.startswith("--")]
    # squid works in its workdir as user 'proxy': parent must be searchable.
    tmp = tempfile.mkdtemp(prefix="peers-selftest-")
    os.chmod(tmp, 0o755)
    try:
        print(f"# versions: {peers.peer_versions()}", flush=True)
        pki = os.path.join(tmp, "pki")
        os.mkdir(pki)
        test_ca, test_ca_key = make_ca(pki, "test_ca", "Bench Test CA")
        origin_crt, origin_key = make_leaf(pki, "origin", test_ca, test_ca_key)
        evil_ca, evil_key = make_ca(pki, "evil_ca", "Bench Test CA")  # same CN!
        evil_crt, evil_leaf_key = make_leaf(pki, "evil", evil_ca, evil_key)
        icpt_crt, icpt_key = make_ca(pki, "icpt_ca", "Bench Interception CA")

        origin = TLSOrigin(free_port(), origin_crt, origin_key)
        bad = TLSOrigin(free_port(), evil_crt, evil_leaf_key)
        wrong_crt, wrong_key = make_leaf(pki, "wrong", test_ca, test_ca_key,
                                         names=("wrong.example",))
        wrong = TLSOrigin(free_port(), wrong_crt, wrong_key)
        bad_origins = [("from a different CA", bad),
                       ("from the test CA but for another name", wrong)]

        r = subprocess.run(["curl", "-sS", "--cacert", test_ca, "--resolve",
                            f"origin.bench.test:{origin.server_address[1]}:127.0.0.1",
                            f"https://origin.bench.test:{origin.server_address[1]}/small"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        report(r.stdout == b"missing key\n", "origin answers 401 without the header (direct)")

        pkit = (icpt_crt, icpt_key, test_ca, icpt_crt)

        def mitm(wd, port, op):
            return peers.start_mitmproxy(wd, port, op, icpt_crt, icpt_key, test_ca,
                                         HEADER, SECRET, PREFIX)

        def squid(wd, port, op):
            return peers.start_squid(wd, port, op, icpt_crt, icpt_key, test_ca,
                                     HEADER, SECRET, HOSTS, PREFIX)

        for name, fn in (("mitmproxy", mitm), ("squid", squid)):
            if only and name not in only:
                continue
            test_peer(name, fn, tmp, pkit, origin, bad_origins, do_hey)
    finally:
        if keep:
            print(f"# kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"# {'all ok' if failures == 0 else f'{failures} failed'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
