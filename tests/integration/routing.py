#!/usr/bin/env python3
"""The credential-routing invariant, as an attack: a credential never reaches another host.

    routing.py --proxy HOST:PORT --ca CA --client NAME:TOKEN ... --host NAME=SECRET ...
               [--seed S] [--steps N] [--unix PATH]

Every --client runs in its own threads; each thread performs a random interleaving of steps
over the --host names: open a new CONNECT tunnel, send a request on an open tunnel
(keep-alive), close one, or send a last request with "Connection: close". Every response
must come from the host that was asked (the upstream's name in /echo) and carry exactly
that host's credential; the secret of any other host must never appear. The seed is printed
first so that a failure can be replayed (--seed). Prints "ok - ..." / "not ok - ..." lines
and exits 1 on any violation.
"""
import argparse
import base64
import json
import random
import socket
import ssl
import sys
import threading


def read_response(sock):
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed before a response head (%r)" % buf[:200])
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "0"))
    while len(rest) < n:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed inside a response body")
        rest += chunk
    return status, headers, rest[:n]


class Tunnel:
    def __init__(self, args, client, host):
        self.host = host
        if args.unix:
            raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            raw.settimeout(20)
            raw.connect(args.unix)
        else:
            phost, pport = args.proxy.rsplit(":", 1)
            raw = socket.create_connection((phost, int(pport)), timeout=20)
        auth = base64.b64encode(client.encode()).decode()
        raw.sendall(("CONNECT %s:443 HTTP/1.1\r\nHost: %s:443\r\nProxy-Authorization: Basic %s\r\n\r\n"
                     % (host, host, auth)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = raw.recv(1)
            if not chunk:
                raise EOFError("proxy closed the CONNECT")
            head += chunk
        if b" 200 " not in head.split(b"\r\n")[0]:
            raise RuntimeError("CONNECT %s: %r" % (host, head[:200]))
        ctx = ssl.create_default_context(cafile=args.ca)
        self.sock = ctx.wrap_socket(raw, server_hostname=host)
        self.requests = 0

    def request(self, path, close=False):
        self.requests += 1
        req = "GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer placeholder\r\n%s\r\n" % (
            path, self.host, "Connection: close\r\n" if close else "")
        self.sock.sendall(req.encode())
        return read_response(self.sock)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def run_client(args, client, secrets, rng, steps, out, lock):
    hosts = sorted(secrets)
    name = client.split(":", 1)[0]
    tunnels = []
    done = 0

    def violation(msg):
        with lock:
            out["violations"].append("%s: %s" % (name, msg))

    def send(t, close):
        nonlocal done
        tag = "%s-%d" % (name, done)
        status, _, body = t.request("/echo/%s" % tag, close)
        done += 1
        text = body.decode("utf-8", "replace")
        for other, secret in secrets.items():
            if other != t.host and secret in text:
                violation("a request to %s carried the secret of %s" % (t.host, other))
        if status != 200:
            violation("request to %s: status %d: %s" % (t.host, status, text[:200]))
            return
        e = json.loads(text)
        if e.get("upstream") != t.host:
            violation("a request to %s was answered by upstream %s" % (t.host, e.get("upstream")))
        if not e.get("path", "").endswith(tag):
            violation("a request to %s got the answer to %s" % (t.host, e.get("path")))
        auth = [v for k, v in e["headers"] if k.lower() == "authorization"]
        if auth != ["Bearer " + secrets[t.host]]:
            violation("a request to %s carried Authorization %r, not its own secret" % (t.host, auth))
        with lock:
            out["requests"] += 1

    try:
        for _ in range(steps):
            r = rng.random()
            if not tunnels or (r < 0.3 and len(tunnels) < 4):
                tunnels.append(Tunnel(args, client, rng.choice(hosts)))
                with lock:
                    out["tunnels"] += 1
                send(tunnels[-1], False)
            elif r < 0.8:
                send(rng.choice(tunnels), False)
            elif r < 0.9:
                t = tunnels.pop(rng.randrange(len(tunnels)))
                send(t, True)
                t.close()
            else:
                tunnels.pop(rng.randrange(len(tunnels))).close()
    except Exception as e:  # a broken exchange is a failure too, never a silent pass
        violation("%s: %s" % (type(e).__name__, e))
    finally:
        for t in tunnels:
            t.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--proxy", required=True)
    ap.add_argument("--unix")
    ap.add_argument("--ca", required=True)
    ap.add_argument("--client", action="append", required=True)
    ap.add_argument("--host", action="append", required=True)
    ap.add_argument("--seed", type=int)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--threads-per-client", type=int, default=2)
    ap.add_argument("--label", default="")
    args = ap.parse_args()
    secrets = dict(h.split("=", 1) for h in args.host)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 30)
    print("# routing seed %d (replay with --seed %d)" % (seed, seed))
    master = random.Random(seed)
    out = {"violations": [], "requests": 0, "tunnels": 0}
    lock = threading.Lock()
    threads = []
    for client in args.client:
        for _ in range(args.threads_per_client):
            rng = random.Random(master.randrange(1 << 30))
            threads.append(threading.Thread(target=run_client,
                                            args=(args, client, secrets, rng, args.steps, out, lock)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    label = args.label
    summary = "%d requests over %d tunnels, %d clients, seed %d" % (out["requests"], out["tunnels"],
                                                                     len(args.client), seed)
    if out["violations"]:
        for v in out["violations"][:10]:
            print("# " + v)
        print("not ok - %severy response comes from the host asked, with only its own secret "
              "(%d violations; %s)" % (label, len(out["violations"]), summary))
        sys.exit(1)
    print("ok - %severy response comes from the host asked, with only its own secret (%s)" % (label, summary))


if __name__ == "__main__":
    main()
