#!/usr/bin/env python3
"""airlock-relay on this machine, no engine needed: a Unix socket server stands in for the
proxy. Run against the shipped static binary (AIRLOCK_RELAY) and against the same source
built with the project's flags (AIRLOCK_RELAY_CHECKED: the sanitizers, under scripts/test).

Checks: bytes pass unchanged both ways (1 MiB each way at once, both sides writing before
reading), half-close in both directions, 40 concurrent connections, a 502 naming the problem
when the socket is missing (and again once it is back, no restart), a proxy restart that
recreates the socket, exec mode (the command runs with the listener already up, keeps the
PID, its exit code, 127 for a missing command), and bad arguments.
"""
import hashlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

failures = 0


def check(ok, what, detail=""):
    global failures
    print(("ok - " if ok else "not ok - ") + what + ("" if ok or not detail else ": " + detail[:400]))
    sys.stdout.flush()
    if not ok:
        failures += 1


class UnixServer:
    """Echo until EOF, then "BYE" and close: shows what arrived and that EOF was passed on."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(path)
        self.sock.listen(128)
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        with c:
            while True:
                d = c.recv(65536)
                if not d:
                    break
                c.sendall(d)
            c.sendall(b"BYE")

    def close(self):
        self.sock.close()
        os.unlink(self.path)


def exchange(port, payload, timeout=30):
    """Send payload (while reading), half-close, read to EOF."""
    c = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    got = bytearray()

    def reader():
        while True:
            d = c.recv(65536)
            if not d:
                return
            got.extend(d)

    t = threading.Thread(target=reader)
    t.start()
    c.sendall(payload)
    c.shutdown(socket.SHUT_WR)
    t.join(timeout)
    c.close()
    return bytes(got)


def http_via(port):
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    c.sendall(b"CONNECT api.anthropic.com:443 HTTP/1.1\r\nHost: api.anthropic.com:443\r\n\r\n")
    data = b""
    while True:
        d = c.recv(4096)
        if not d:
            break
        data += d
    c.close()
    return data


def wait_port(path):
    for _ in range(100):
        if os.path.exists(path) and open(path).read().strip():
            return int(open(path).read())
        time.sleep(0.05)
    raise SystemExit("Bail out! the relay did not write its port")


def run(relay, label, tmp):
    sock = os.path.join(tmp, label + ".sock")
    port_file = os.path.join(tmp, label + ".port")
    server = UnixServer(sock)
    proc = subprocess.Popen([relay, "serve", "--port", "0", "--socket", sock, "--port-file", port_file],
                            stderr=subprocess.PIPE)
    try:
        port = wait_port(port_file)
        blob = os.urandom(1 << 20)
        got = exchange(port, blob)
        check(got == blob + b"BYE", "%s: 1 MiB each way at once arrives unchanged, EOF passed on, the answer after it" % label,
              "got %d bytes" % len(got))
        check(exchange(port, b"") == b"BYE", "%s: an immediate half-close reaches the socket, its answer comes back" % label)

        results = [None] * 40
        def one(i):
            data = hashlib.sha256(b"%d" % i).digest() * 2000
            results[i] = exchange(port, data) == data + b"BYE"
        threads = [threading.Thread(target=one, args=(i,)) for i in range(40)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        check(all(results), "%s: 40 concurrent connections each get their own bytes back" % label,
              "%d failed" % results.count(False))

        server.close()
        reply = http_via(port)
        check(reply.startswith(b"HTTP/1.1 502 ") and b"X-Airlock-Error: proxy-unreachable" in reply
              and sock.encode() in reply and b"airlock proxy start" in reply,
              "%s: with the socket gone a client gets a 502 naming the socket and the fix" % label, repr(reply[:300]))
        server = UnixServer(sock)  # the proxy restarted: a new socket file at the same path
        check(exchange(port, b"again") == b"againBYE", "%s: a recreated socket is used at once, no relay restart" % label)
        check(proc.poll() is None, "%s: the relay is still running" % label)
    finally:
        proc.kill()
        proc.wait()
        server.close()

    # exec mode: the listener is up before the command starts; the command keeps the PID.
    server = UnixServer(sock)
    script = ("import os, socket, sys; c = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=5); "
              "c.sendall(b'x'); c.shutdown(socket.SHUT_WR); d = b''.join(iter(lambda: c.recv(10), b'')); "
              "print(os.getpid(), d.decode()); sys.exit(9)")
    # The command must know the port: a free one, fixed.
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    free = s.getsockname()[1]
    s.close()
    p = subprocess.Popen([relay, "exec", "--port", str(free), "--socket", sock, "--", sys.executable, "-c", script, str(free)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = p.communicate(timeout=30)
    fields = out.decode().split()
    check(p.returncode == 9, "%s: exec: the command's exit code is the relay's (9)" % label, "%s %r" % (p.returncode, err))
    check(fields[:1] == [str(p.pid)], "%s: exec: the command runs as the relay's own PID" % label, out.decode())
    check(fields[1:] == ["xBYE"], "%s: exec: the relay listens before the command starts" % label, out.decode())
    gone = False
    for _ in range(100):  # the relay's listener closes when the command's process is gone
        try:
            socket.create_connection(("127.0.0.1", free), timeout=1).close()
        except OSError:
            gone = True
            break
        time.sleep(0.05)
    check(gone, "%s: exec: the relay ends with the command (no relay left listening on the port)" % label)
    server.close()

    r = subprocess.run([relay, "exec", "--port", "0", "--socket", sock, "--", "/nonexistent/agent"], capture_output=True)
    check(r.returncode == 127 and b"cannot run '/nonexistent/agent'" in r.stderr,
          "%s: exec: a missing command exits 127 and says so" % label, "%d %r" % (r.returncode, r.stderr))
    for args, why in [([], "no mode"), (["serve"], "no port or socket"), (["serve", "--port", "70000", "--socket", sock], "bad port"),
                      (["exec", "--port", "0", "--socket", sock], "no command"), (["dance"], "unknown mode"),
                      (["serve", "--port", "0", "--socket", "/" + "a" * 120], "socket path too long")]:
        r = subprocess.run([relay] + args, capture_output=True, timeout=10)
        check(r.returncode != 0 and (r.stderr.startswith(b"airlock-relay: ") or r.stderr.startswith(b"usage: ")),
              "%s: bad arguments (%s): non-zero exit and a message" % (label, why), "%d %r" % (r.returncode, r.stderr))


def has_interpreter(path):
    """Whether the ELF64 file has a PT_INTERP program header (a dynamic loader)."""
    import struct
    with open(path, "rb") as f:
        elf = f.read()
    (phoff,) = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    return any(struct.unpack_from("<I", elf, phoff + i * phentsize)[0] == 3 for i in range(phnum))


def main():
    relays = [("static", os.environ.get("AIRLOCK_RELAY")), ("checked", os.environ.get("AIRLOCK_RELAY_CHECKED"))]
    relays = [(label, path) for label, path in relays if path]
    if not relays:
        print("Bail out! set AIRLOCK_RELAY (and AIRLOCK_RELAY_CHECKED)")
        sys.exit(1)
    static = dict(relays).get("static")
    if static:
        check(not has_interpreter(static), "the shipped relay is statically linked (no ELF interpreter: it runs in any image)")
    with tempfile.TemporaryDirectory() as tmp:
        for label, path in relays:
            run(path, label, tmp)
    sys.exit(1 if failures else 0)


main()
