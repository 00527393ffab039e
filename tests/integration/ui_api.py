#!/usr/bin/env python3
"""The dashboard's HTTP/WebSocket API (airlock ui) against a real Docker engine.

Starts `airlock ui --port 0` in a fresh home with a credential rule for api.anthropic.com
routed to a local TLS upstream (session_helpers.py upstream), then, as a plain HTTP client
(python3 stdlib, a WebSocket client written here):
  - sign-in: no cookie -> 401 JSON, a wrong / reused / rebound token -> 401 / 403, the
    token -> 303 with an HttpOnly SameSite=Strict cookie; a second `airlock ui` prints a new link;
  - attacks: a forged Host (DNS rebinding), a cross-site Origin or none on POST / DELETE and on
    WebSocket upgrades, a form's text/plain body: refused, and the session is untouched;
  - every action on a real session (create through POST, list, show, stop, start, refresh,
    sync, diff, delete with the uncommitted-work check), errors as JSON with a message;
  - the terminal WebSocket: type a command, see its output, resize the TTY; the logs WebSocket;
  - live updates: /api/events pushes the session's state change without a reload;
  - the request timeline shows the agent's intercepted request with the credential rule;
  - no response ever contains the secret.

Prints "ok - ..." / "not ok - ..." per check. Exits 77 without an engine (1 with CI=true).
"""

import base64
import hashlib
import http.client
import json
import os
import re
import secrets
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.environ.get("AIRLOCK_BIN") or sys.exit("set AIRLOCK_BIN to the airlock binary")
ROOT = os.environ.get("AIRLOCK_SOURCE_ROOT") or os.path.dirname(os.path.dirname(HERE))
AGENT_IMAGE = "airlock-test/agent:latest"
failures = 0
bodies = []  # every response body, searched for the secret at the end


def check(ok, what, detail=""):
    global failures
    print(("ok - " if ok else "not ok - ") + what)
    if not ok:
        failures += 1
        for line in str(detail).splitlines()[-12:]:
            print("#   " + line)
    sys.stdout.flush()
    return ok


def require_engine():
    try:
        up = subprocess.run(["docker", "info"], capture_output=True, timeout=15).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        up = False
    if up:
        return
    if os.environ.get("CI") == "true":
        print("###  FAIL: no Docker engine, and CI=true", file=sys.stderr)
        sys.exit(1)
    print("###  SKIPPED: no Docker engine (run scripts/ensure-docker); the ui_api test did NOT run", file=sys.stderr)
    sys.exit(77)


# ---- HTTP ----------------------------------------------------------------------------------

class Client:
    def __init__(self, port):
        self.port = port
        self.host = f"127.0.0.1:{port}"
        self.origin = f"http://127.0.0.1:{port}"
        self.cookie = ""

    def request(self, method, path, body=None, headers=None, origin=True, cookie=True, timeout=300):
        h = {"Host": self.host}
        if cookie and self.cookie:
            h["Cookie"] = self.cookie
        if origin and method not in ("GET", "HEAD"):
            h["Origin"] = self.origin
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        h = {k: v for k, v in h.items() if v is not None}
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for k, v in h.items():
                conn.putheader(k, v)
            if data is not None:
                raw = data.encode() if isinstance(data, str) else data
                conn.putheader("Content-Length", str(len(raw)))
                conn.endheaders(raw)
            else:
                conn.endheaders()
            r = conn.getresponse()
            text = r.read().decode(errors="replace")
            bodies.append(text)
            return r.status, {k.lower(): v for k, v in r.getheaders()}, text
        finally:
            conn.close()

    def json(self, method, path, body=None, **kw):
        status, headers, text = self.request(method, path, body, **kw)
        try:
            return status, json.loads(text) if text else None
        except ValueError:
            return status, {"_not_json": text}


def is_error(doc):
    return isinstance(doc, dict) and isinstance(doc.get("error"), str) and doc["error"] and "\n" not in doc["error"]


# ---- WebSocket (RFC 6455, client side) ------------------------------------------------------

class WebSocket:
    def __init__(self, port, path, host, origin, cookie):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {path} HTTP/1.1", f"Host: {host}", "Upgrade: websocket", "Connection: Upgrade",
                 f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
        if origin:
            lines.append(f"Origin: {origin}")
        if cookie:
            lines.append(f"Cookie: {cookie}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            head += chunk
        head, _, self.buf = head.partition(b"\r\n\r\n")
        self.status = int(head.split(b" ")[1]) if head.startswith(b"HTTP/1.1 ") else 0
        self.head = head.decode(errors="replace")
        if self.status == 101:
            want = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
            self.accepted = want in self.head
        else:
            self.accepted = False
        self.closed = False

    def send(self, data, text=False):
        payload = data.encode() if isinstance(data, str) else data
        header = bytes([0x80 | (1 if text else 2)])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", n)
        mask = os.urandom(4)
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def _need(self, n, deadline):
        while len(self.buf) < n:
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk

    def recv(self, timeout=15):
        """(opcode, payload) of the next data or close frame; None on timeout."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                self._need(2, deadline)
                b0, b1 = self.buf[0], self.buf[1]
                n, at = b1 & 0x7F, 2
                if n == 126:
                    self._need(4, deadline)
                    n, at = struct.unpack("!H", self.buf[2:4])[0], 4
                elif n == 127:
                    self._need(10, deadline)
                    n, at = struct.unpack("!Q", self.buf[2:10])[0], 10
                self._need(at + n, deadline)
                payload, self.buf = self.buf[at:at + n], self.buf[at + n:]
                op = b0 & 0x0F
                if op == 9:
                    continue  # ping: the server's keep-alive; answered pongs are optional for this test
                if op == 8:
                    self.closed = True
                return op, payload
        except (socket.timeout, TimeoutError):
            return None
        except (EOFError, OSError):
            self.closed = True
            return (8, b"")

    def read_until(self, needle, timeout=20):
        got = b""
        deadline = time.monotonic() + timeout
        texts = []
        while needle.encode() not in got and time.monotonic() < deadline and not self.closed:
            f = self.recv(max(0.1, deadline - time.monotonic()))
            if f is None:
                continue
            op, payload = f
            if op == 2:
                got += payload
            elif op == 1:
                texts.append(payload.decode(errors="replace"))
        return needle.encode() in got, got.decode(errors="replace"), texts

    def close(self):
        try:
            self.sock.sendall(bytes([0x88, 0x80]) + os.urandom(4))
        except OSError:
            pass
        self.sock.close()


# ---- Server-Sent Events ---------------------------------------------------------------------

class Events:
    def __init__(self, client):
        self.sock = socket.create_connection(("127.0.0.1", client.port), timeout=30)
        self.sock.sendall(f"GET /api/events HTTP/1.1\r\nHost: {client.host}\r\nCookie: {client.cookie}\r\n"
                          "Accept: text/event-stream\r\n\r\n".encode())
        self.buf = b""

    def next_matching(self, event, predicate, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            while b"\n\n" in self.buf:
                block, self.buf = self.buf.split(b"\n\n", 1)
                text = block.decode(errors="replace")
                bodies.append(text)
                m = re.search(r"^event: (\S+)\ndata: (.*)$", text, re.M)
                if m and m.group(1) == event:
                    try:
                        doc = json.loads(m.group(2))
                    except ValueError:
                        continue
                    if predicate(doc):
                        return doc
            self.sock.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except (socket.timeout, TimeoutError):
                continue
            if not chunk:
                return None
            self.buf += chunk
        return None

    def close(self):
        self.sock.close()


def session_in(doc, name, state=None):
    for s in doc.get("sessions", []):
        if s.get("name") == name and (state is None or s.get("state") == state):
            return s
    return None


def wait_for(fn, timeout=30, step=0.3):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(step)
    return last


def main():
    require_engine()
    if subprocess.run(["docker", "image", "inspect", AGENT_IMAGE], capture_output=True).returncode != 0:
        if subprocess.run([os.path.join(ROOT, "tests/images/build-images")]).returncode != 0:
            print("Bail out! cannot build the test images")
            return 1

    tmp = os.path.realpath(tempfile.mkdtemp(prefix="airlock-ui-api."))
    home = os.path.join(tmp, "home")
    os.makedirs(os.path.join(home, "secrets"))
    hid = "u%09d" % (os.getpid() % 1000000000)
    with open(os.path.join(home, "home-id"), "w") as f:
        f.write(hid + "\n")
    env = dict(os.environ, AIRLOCK_HOME=home, GIT_AUTHOR_NAME="airlock test", GIT_AUTHOR_EMAIL="t@airlock.invalid",
               GIT_COMMITTER_NAME="airlock test", GIT_COMMITTER_EMAIL="t@airlock.invalid")
    procs = []
    run = "ui%d" % os.getpid()

    def airlock(*args, timeout=300):
        return subprocess.run([BIN, *args], capture_output=True, text=True, env=env, timeout=timeout)

    try:
        # Upstream: a local TLS server for api.anthropic.com with its own CA.
        sh = lambda *a: subprocess.run(a, capture_output=True, check=True, cwd=tmp)  # noqa: E731
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        sh("openssl", "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=ui-test-ca",
           "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        sh("openssl", "req", *ec, "-keyout", "api.key", "-out", "api.csr", "-subj", "/CN=api.anthropic.com")
        with open(os.path.join(tmp, "api.ext"), "w") as f:
            f.write("subjectAltName=DNS:api.anthropic.com\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n"
                    "extendedKeyUsage=serverAuth\n")
        sh("openssl", "x509", "-req", "-in", "api.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
           "-days", "2", "-out", "api.pem", "-extfile", "api.ext")
        placeholder = "sk-ant-api03-airlock-placeholder"
        up = subprocess.Popen([sys.executable, os.path.join(HERE, "session_helpers.py"), "upstream", "--log",
                               os.path.join(tmp, "upstream.jsonl"), "--placeholder", placeholder, "--cert",
                               os.path.join(tmp, "api.pem"), "--key", os.path.join(tmp, "api.key"), "--port", "0",
                               "--port-file", os.path.join(tmp, "upstream.port")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(up)
        port_file = os.path.join(tmp, "upstream.port")
        if not wait_for(lambda: os.path.exists(port_file) and open(port_file).read().strip(), 10, 0.1):
            print("Bail out! the upstream did not start")
            return 1
        upstream_port = int(open(port_file).read())
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        proxy_port = s.getsockname()[1]
        s.close()
        with open(os.path.join(home, "config.toml"), "w") as f:
            f.write(f"""[docker]
image = "{AGENT_IMAGE}"
pull_policy = "never"

[proxy]
port = {proxy_port}
upstream_ca = "{tmp}/ca.pem"

[proxy.resolve]
"api.anthropic.com:443" = "127.0.0.1:{upstream_port}"

[[credential]]
name = "anthropic"
preset = "anthropic"
secret = {{ file = "secrets/anthropic" }}
""")
        secret = "sk-ant-api03-UISECRET-" + secrets.token_hex(16)
        with open(os.path.join(home, "secrets/anthropic"), "w") as f:
            f.write(secret + "\n")
        os.chmod(os.path.join(home, "secrets/anthropic"), 0o600)

        repo = os.path.join(tmp, "repo")
        for cmd in (["git", "init", "-q", "-b", "main", repo], ["git", "-C", repo, "commit", "-q", "--allow-empty", "-m", "initial"]):
            subprocess.run(cmd, check=True, env=env, capture_output=True)

        # ---- the server ---------------------------------------------------------------------
        ui = subprocess.Popen([BIN, "ui", "--port", "0", "--repo", repo], stdout=subprocess.PIPE,
                              stderr=open(os.path.join(tmp, "ui.err"), "w"), text=True, env=env)
        procs.append(ui)
        lines = [ui.stdout.readline() for _ in range(3)]
        m = re.search(r"http://127\.0\.0\.1:(\d+)/\?token=([0-9a-f]{64})", "".join(lines))
        if not check(bool(m), "airlock ui prints a sign-in link with a 64-hex token", "".join(lines)):
            return 1
        port, token = int(m.group(1)), m.group(2)
        c = Client(port)

        # ---- sign-in and refusals -----------------------------------------------------------
        st, doc = c.json("GET", "/api/sessions")
        check(st == 401 and is_error(doc), "no cookie: GET /api/sessions -> 401 with a JSON error", (st, doc))
        st, h, text = c.request("GET", "/")
        check(st == 401 and "airlock ui" in text, "no cookie: GET / -> 401 page saying to run 'airlock ui'", (st, text))
        st, h, text = c.request("GET", "/?token=" + "0" * 64)
        check(st == 401 and "set-cookie" not in h, "a wrong token -> 401, no cookie", (st, h))
        # DNS rebinding: evil.example resolves to 127.0.0.1; the browser sends Host: evil.example:PORT.
        st, h, text = c.request("GET", "/?token=" + token, headers={"Host": f"evil.example:{port}"})
        check(st == 403 and "set-cookie" not in h, "the token with a forged Host (DNS rebinding) -> 403, no cookie", (st, h))
        st, h, text = c.request("GET", "/?token=" + token)
        cookie = h.get("set-cookie", "")
        check(st == 303 and h.get("location") == "/" and re.match(r"airlock_ui=[0-9a-f]{64}; ", cookie)
              and "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie,
              "the token -> 303 to / with an HttpOnly, SameSite=Strict cookie (the rebinding try did not spend it)", (st, h))
        c.cookie = cookie.split(";")[0]
        st, h, text = c.request("GET", "/?token=" + token, cookie=False)
        check(st == 401 and "set-cookie" not in h, "the token again (reused) -> 401", (st, h))
        st, doc = c.json("GET", "/api/sessions", headers={"Cookie": "airlock_ui=" + "a" * 64})
        check(st == 401, "a forged cookie -> 401", (st, doc))
        st, doc = c.json("GET", "/api/sessions", headers={"Host": "evil.example"})
        check(st == 403 and is_error(doc), "the cookie with Host: evil.example -> 403", (st, doc))
        st, h, text = c.request("GET", "/api/sessions")
        check(st == 200 and "default-src 'self'" in h.get("content-security-policy", "")
              and "script-src 'self';" in h.get("content-security-policy", "")
              and h.get("x-content-type-options") == "nosniff" and h.get("cache-control") == "no-store",
              "signed in: 200 with a strict CSP, nosniff, no-store", h)
        st, h, text = c.request("GET", "/")
        check(st == 200 and "<html" in text.lower() and h.get("content-type", "").startswith("text/html"),
              "GET / serves the page", (st, text[:200]))
        r = airlock("ui")
        m2 = re.search(r"http://127\.0\.0\.1:%d/\?token=([0-9a-f]{64})" % port, r.stdout)
        check(r.returncode == 0 and m2 and m2.group(1) != token, "'airlock ui' again prints a new link to the running one",
              r.stdout + r.stderr)
        if m2:
            c2 = Client(port)
            st, h, _ = c2.request("GET", "/?token=" + m2.group(1))
            check(st == 303 and "set-cookie" in h, "the new link signs in a second browser", (st, h))

        # ---- errors as JSON ---------------------------------------------------------------
        st, doc = c.json("GET", "/api/sessions/no-such-session")
        check(st == 404 and is_error(doc) and "no session" in doc["error"], "unknown session -> 404 JSON error", (st, doc))
        st, doc = c.json("GET", "/api/nope")
        check(st == 404 and is_error(doc), "unknown API path -> 404 JSON error", (st, doc))
        st, doc = c.json("PUT", "/api/sessions", {})
        check(st == 405 and is_error(doc), "PUT /api/sessions -> 405 JSON error", (st, doc))
        st, doc = c.json("POST", "/api/sessions", {"agent": "no-such-agent"})
        check(st == 400 and is_error(doc) and "unknown agent" in doc["error"], "an unknown agent -> 400 naming it", (st, doc))
        st, doc = c.json("POST", "/api/sessions", {"promtp": "x"})
        check(st == 400 and is_error(doc) and "promtp" in doc["error"], "an unknown field -> 400 naming it", (st, doc))
        st, doc = c.json("POST", "/api/sessions", {"memory": "4x", "agent": "shell"})
        check(st == 400 and is_error(doc) and "4x" in doc["error"], "a bad memory limit -> 400 naming it", (st, doc))
        st, doc = c.json("POST", "/api/sessions", "{not json")
        check(st == 400 and is_error(doc), "a body that is not JSON -> 400", (st, doc))

        # ---- create through the API -----------------------------------------------------------
        name = run + "-a"
        prompt = ('curl -sS --max-time 30 -H "x-api-key: $ANTHROPIC_API_KEY" -o /workspace/out.json '
                  'https://api.anthropic.com/echo/ui; echo agent-ready; exec sh')
        st, doc = c.json("POST", "/api/sessions", {"name": name, "agent": "shell", "prompt": prompt, "network": "open",
                                                   "pull_policy": "never", "credentials": ["anthropic"]})
        created = st == 201 and isinstance(doc, dict) and doc.get("session", {}).get("name") == name
        if not check(created and doc["session"]["state"] == "running", "POST /api/sessions creates a running session", (st, doc)):
            print(open(os.path.join(tmp, "ui.err")).read()[-2000:])
            return 1
        check(doc["session"]["branch"] == "airlock/" + name and doc["session"]["credentials"] == ["anthropic"],
              "the created session has its branch and credential scope", doc)
        r = airlock("list", "--json")
        check(r.returncode == 0 and any(s["name"] == name and s["state"] == "running" for s in json.loads(r.stdout or "[]")),
              "the CLI sees the session the dashboard created", r.stdout + r.stderr)

        # Live updates: the stream shows it, and later its state changes without a reload.
        ev = Events(c)
        first = ev.next_matching("sessions", lambda d: session_in(d, name) is not None, 15)
        check(first is not None, "/api/events sends the session table with the new session")

        # The agent's request, intercepted with the rule, in the session's timeline.
        def intercepted():
            st_, d = c.json("GET", f"/api/sessions/{name}/requests")
            if st_ != 200:
                return None
            return [r_ for r_ in d["records"] if r_["host"] == "api.anthropic.com" and r_["rule"] == "anthropic"
                    and r_["decision"] == "intercept" and r_["status"] == 200 and r_["path"] == "/echo/ui"] and d
        d = wait_for(intercepted, 40)
        check(bool(d), "the timeline shows the intercepted request with its credential rule (anthropic, 200)", d)
        if d:
            check(sum(d["series"]["requests"]) >= 1 and d["series"]["step_s"] == 10 and len(d["series"]["requests"]) == 360,
                  "the timeline's series counts it (360 buckets of 10 s)", d["series"]["step_s"])
        st, doc = c.json("GET", "/api/sessions")
        s_ = session_in(doc or {}, name)
        check(st == 200 and s_ and s_["requests"] >= 1 and s_["last_request"], "the table shows the request count and last activity", s_)
        reqs_ev = ev.next_matching("sessions", lambda d_: (session_in(d_, name) or {}).get("requests", 0) >= 1, 10)
        check(reqs_ev is not None, "/api/events pushed the session's new activity")
        st, doc = c.json("GET", "/api/proxy")
        rules = {r_["name"]: r_ for r_ in (doc or {}).get("rules", [])}
        check(st == 200 and doc["running"] and rules.get("anthropic", {}).get("source") == "file secrets/anthropic"
              and rules["anthropic"]["last_used"] and "api.anthropic.com" in rules["anthropic"]["hosts"],
              "/api/proxy: running, the rule with its secret's source (not its value) and last use", doc and {k: doc[k] for k in doc if k != "series"})
        st, doc = c.json("GET", "/api/config")
        check(st == 200 and "shell" in doc["agents"] and doc["credentials"] == ["anthropic"] and doc["repo"] == repo
              and doc["pull_policy"] == "never", "/api/config has the form's defaults", doc)
        st, doc = c.json("GET", "/api/stats")
        check(st == 200 and name in doc["stats"] and doc["stats"][name]["memory_bytes"] > 0,
              "/api/stats has the running session's memory", doc)

        # ---- the terminal ---------------------------------------------------------------------
        bad = WebSocket(port, f"/api/sessions/{name}/terminal", c.host, "http://evil.example", c.cookie)
        check(bad.status == 403, "a terminal WebSocket from a cross-site Origin -> 403 (no hijacking)", bad.head)
        bad.close()
        bad = WebSocket(port, f"/api/sessions/{name}/terminal", c.host, c.origin, None)
        check(bad.status == 401, "a terminal WebSocket without the cookie -> 401", bad.head)
        bad.close()
        ws = WebSocket(port, f"/api/sessions/{name}/terminal", c.host, c.origin, c.cookie)
        if check(ws.accepted, "the terminal WebSocket opens", ws.head):
            ws.send(json.dumps({"type": "resize", "cols": 123, "rows": 37}), text=True)
            time.sleep(0.5)
            ws.send(b"echo ui-$((6*7)); stty size\n")
            found, out, texts = ws.read_until("37 123", 20)
            check("ui-42" in out, "typing a command in the terminal runs it and shows its output", out[-500:])
            check(found, "the resize message set the container's TTY size (stty size: 37 123)", out[-500:])
            ws.send(b"echo uncommitted > /workspace/ui-file.txt; echo wrote-$((2+3))\n")
            found, out, _ = ws.read_until("wrote-5", 15)
            check(found, "the terminal writes a file into the work tree", out[-300:])
            ws.close()
        time.sleep(0.5)
        st, doc = c.json("GET", f"/api/sessions/{name}")
        check(st == 200 and doc["session"]["state"] == "running", "closing the terminal leaves the agent running", doc)
        lg = WebSocket(port, f"/api/sessions/{name}/logs?tail=200", c.host, c.origin, c.cookie)
        if check(lg.accepted, "the logs WebSocket opens", lg.head):
            found, out, _ = lg.read_until("ui-42", 15)
            check(found and "agent-ready" in out, "the logs WebSocket streams the agent's output", out[-300:])
            lg.close()

        # ---- attacks on state changes: refused, nothing happens ------------------------------
        for method, path in (("POST", f"/api/sessions/{name}/stop"), ("DELETE", f"/api/sessions/{name}?force=1")):
            st, doc = c.json(method, path, {} if method == "POST" else None, headers={"Origin": "http://evil.example"})
            check(st == 403 and is_error(doc), f"{method} {path.split('?')[0]} from a cross-site Origin -> 403", (st, doc))
            st, doc = c.json(method, path, {} if method == "POST" else None, origin=False)
            check(st == 403 and is_error(doc), f"{method} without an Origin -> 403", (st, doc))
        st, h, text = c.request("POST", f"/api/sessions/{name}/stop", "force=1",
                                headers={"Content-Type": "application/x-www-form-urlencoded"})
        check(st == 415, "a form-encoded POST (what a cross-site form sends) -> 415", (st, text))
        st, doc = c.json("GET", f"/api/sessions/{name}")
        check(st == 200 and doc["session"]["state"] == "running", "after the refused attacks the session still runs", doc)

        # ---- actions ----------------------------------------------------------------------------
        st, h, text = c.request("GET", f"/api/sessions/{name}/diff?worktree=1")
        check(st == 200 and "ui-file.txt" in text and "+uncommitted" in text and h["content-type"].startswith("text/plain"),
              "diff?worktree=1 shows the uncommitted file (libgit2, as airlock diff)", text[:300])
        st, doc = c.json("DELETE", f"/api/sessions/{name}")
        check(st == 409 and is_error(doc) and "uncommitted" in doc["error"],
              "DELETE without force refuses uncommitted work (409, the CLI's message)", (st, doc))
        st, doc = c.json("POST", f"/api/sessions/{name}/stop", {})
        check(st == 200 and doc["session"]["state"] != "running", "stop -> 200, not running", (st, doc))
        gone = ev.next_matching("sessions", lambda d_: (session_in(d_, name) or {}).get("state", "running") != "running", 20)
        check(gone is not None, "/api/events pushed the state change (no reload, no polling by the page)")
        st, doc = c.json("POST", f"/api/sessions/{name}/start", {})
        check(st == 200 and doc["session"]["state"] == "running", "start -> 200, running", (st, doc))
        # A change made outside the dashboard (the CLI) reaches the page too: the engine's events.
        ev.next_matching("sessions", lambda d_: (session_in(d_, name) or {}).get("state") == "running", 10)
        r = airlock("stop", name)
        outside = ev.next_matching("sessions", lambda d_: (session_in(d_, name) or {}).get("state", "running") != "running", 20)
        check(r.returncode == 0 and outside is not None,
              "'airlock stop' in a terminal: /api/events pushes the new state (engine events)", r.stderr)
        r = airlock("start", name)
        back = ev.next_matching("sessions", lambda d_: (session_in(d_, name) or {}).get("state") == "running", 20)
        check(r.returncode == 0 and back is not None, "'airlock start' in a terminal: pushed as running again", r.stderr)
        st, doc = c.json("POST", f"/api/sessions/{name}/sync", {"force": False})
        check(st == 200 and doc.get("action") in ("up_to_date", "create", "fast_forward") and doc.get("message"),
              "sync -> 200 with what it did", (st, doc))
        st, before = c.json("GET", f"/api/sessions/{name}")
        st, doc = c.json("POST", f"/api/sessions/{name}/refresh", {})
        check(st == 200 and doc["new_container_id"] and doc["new_container_id"] != doc["old_container_id"]
              and doc["session"]["state"] == "running", "refresh -> 200, a new container, running", (st, doc))
        st, doc = c.json("GET", f"/api/sessions/{name}")
        check(st == 200 and "commits" in doc and doc["commit_count"] == 0 and doc["proxy"] == "running",
              "GET /api/sessions/NAME: details, the branch's commits, the proxy's state", doc)
        st, doc = c.json("POST", "/api/sessions/no-such/stop", {})
        check(st == 404 and is_error(doc), "an action on an unknown session -> 404", (st, doc))
        st, doc = c.json("DELETE", f"/api/sessions/{name}?force=1")
        check(st == 200 and doc.get("deleted") == name, "DELETE ?force=1 -> 200", (st, doc))
        st, doc = c.json("GET", f"/api/sessions/{name}")
        check(st == 404, "the deleted session is gone", (st, doc))
        r = airlock("list", "--json")
        check(r.returncode == 0 and not any(s["name"] == name for s in json.loads(r.stdout or "[]")),
              "the CLI agrees it is gone", r.stdout)
        ev.close()

        # ---- the background mode -------------------------------------------------------------
        ui.terminate()
        ui.wait(timeout=10)
        r = airlock("ui", "--stop")
        check(r.returncode == 0 and "not running" in r.stdout, "'airlock ui --stop' with none running says so", r.stdout)
        with open(os.path.join(home, "ui.pid"), "w") as f:
            f.write(f"{os.getpid()}\n")  # a stale pid file naming another process
        r = airlock("ui", "--stop")
        check(r.returncode == 0 and "not running" in r.stdout, "--stop never signals a process that is not the dashboard",
              r.stdout)
        r = airlock("ui", "--background", "--port", "0", "--repo", repo, timeout=60)
        m3 = re.search(r"http://127\.0\.0\.1:(\d+)/\?token=([0-9a-f]{64})", r.stdout)
        if check(r.returncode == 0 and m3, "'airlock ui --background' prints a link and returns", r.stdout + r.stderr):
            bg = Client(int(m3.group(1)))
            st, h, _ = bg.request("GET", "/?token=" + m3.group(2))
            bg.cookie = h.get("set-cookie", "").split(";")[0]
            st, doc = bg.json("GET", "/api/sessions")
            check(st == 200 and doc["sessions"] == [], "the background dashboard serves the API", (st, doc))
            r = airlock("ui", "--stop")
            check(r.returncode == 0 and "stopped" in r.stdout, "'airlock ui --stop' stops it", r.stdout + r.stderr)
            try:
                socket.create_connection(("127.0.0.1", bg.port), timeout=2).close()
                down = False
            except OSError:
                down = True
            check(down, "after --stop nothing listens on its port")

        # ---- no secret anywhere ------------------------------------------------------------
        leaked = [b for b in bodies if secret in b]
        check(not leaked, f"no response or event among {len(bodies)} contains the secret", leaked[:1])
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        subprocess.run([BIN, "proxy", "stop", "--grace", "1"], capture_output=True, env=env)
        ids = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=dev.airlock.home={home}"],
                             capture_output=True, text=True).stdout.split()
        if ids:
            subprocess.run(["docker", "rm", "-f", *ids], capture_output=True)
        vols = subprocess.run(["docker", "volume", "ls", "-q", "--filter", f"label=dev.airlock.home={home}"],
                              capture_output=True, text=True).stdout.split()
        if vols:
            subprocess.run(["docker", "volume", "rm", "-f", *vols], capture_output=True)
        if os.environ.get("AIRLOCK_TEST_KEEP") == "1":
            print("# kept " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print(f"{failures} check(s) failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
