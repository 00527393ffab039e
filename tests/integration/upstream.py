#!/usr/bin/env python3
"""A local TLS upstream for the proxy integration tests (python3 stdlib only).

    upstream.py --cert C --key K --port P [--port-file F] [--host 127.0.0.1] [--name N] [--log F]
                [--lenient]
    upstream.py --plain --port P ...    # plain HTTP (no TLS), for the proxy's http:// forwarding
    upstream.py --pattern-sha256 N      # sha256 of the first N bytes of /bytes, then exit

HTTP/1.1 with keep-alive, one thread per connection. Endpoints:
  /echo[/...]          any method: 200 JSON {method, path, query, version, headers: [[name, value], ...]
                       in order as received, body_sha256, body_len, connection_id, request_index, sni,
                       upstream: the --name this upstream was started with}
  /sse?n=10&interval_ms=100
                       text/event-stream, one event per interval, each flushed on its own;
                       data is JSON {"i": i, "t": time.time() at send}
  /bytes?n=N           N bytes of a deterministic pattern, Content-Length set, streamed
  /upload              POST body (chunked or Content-Length) -> JSON {len, sha256}, hashed streaming
  /ws                  WebSocket: handshake, then echo every frame; a text frame
                       "airlock-test:headers" is answered with the upgrade request as JSON;
                       accepts permessage-deflate when offered (compressed frames echo as sent)
  /status/NNN          that status
  /auth-required       401 unless x-api-key equals $UPSTREAM_EXPECT_KEY
  /close-soon          JSON {connection_id}; the connection closes 0.2 s later (idle timeout)
  /drop-next           JSON {connection_id}; the next request on the connection is not answered
  /malformed?case=C    a response with broken framing, written raw (see MALFORMED)
/echo's JSON also has "body": the first 4 KiB of the body, latin-1 decoded.

--lenient: lines may end in a bare LF (in heads, chunk-size lines and trailers), the way
nginx and many other servers read them: the upstream a request-smuggling attack needs.
--log F appends every request head it receives to F as one JSON line {upstream, method, target,
headers} (what the far side saw, for the credential-routing and smuggling tests); otherwise it
records nothing to disk. Runs until killed.
"""
import argparse
import base64
import hashlib
import itertools
import json
import os
import socket
import ssl
import struct
import sys
import threading
import time
import urllib.parse
from http import HTTPStatus

NAME = None      # --name
LOG = None       # --log: an open file, appended under LOG_LOCK
LOG_LOCK = threading.Lock()

BLOCK = 256 * 1024
MAX_HEAD = 64 * 1024
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

# /bytes: block i is the 8-byte big-endian i followed by BASE[8:], so every block differs
# and a dropped, repeated or reordered block changes the digest.
BASE = b"".join(hashlib.sha256(b"airlock-pattern-%d" % j).digest() for j in range(BLOCK // 32))


def pattern_blocks(n):
    i = 0
    while n > 0:
        block = struct.pack(">Q", i) + BASE[8:]
        if n < BLOCK:
            block = block[:n]
        yield block
        n -= len(block)
        i += 1


def pattern_sha256(n):
    h = hashlib.sha256()
    for block in pattern_blocks(n):
        h.update(block)
    return h.hexdigest()


class BadRequest(Exception):
    pass


LENIENT = False

# /malformed?case=NAME: raw responses whose framing a strict proxy must refuse (502) or cut
# off; "injected" must never reach the client.
MALFORMED = {
    "cl-comma": b"HTTP/1.1 200 OK\r\nContent-Length: ,5\r\n\r\nhello",
    "cl-list": b"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello",
    "cl-differing": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 13\r\n\r\nhelloinjected",
    "te-and-cl": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 13\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "te-identity": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: identity, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "te-http10": b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    # Response splitting through the trailer section: a reader that accepts bare LF sees a
    # second response.
    "trailer-lf": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
                  b"0\r\nX: y\n\nHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\ninjected",
    "chunk-size-lf": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\ninjected",
    "trailer-nul": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX: a\x00injected\r\n\r\n",
}


class Reader:
    """Buffered reads over a (TLS) socket; large bodies go through recv_into on 256 KiB."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()
        self.pos = 0
        self.scratch = bytearray(BLOCK)
        self.view = memoryview(self.scratch)

    def avail(self):
        return len(self.buf) - self.pos

    def fill(self):
        if self.pos == len(self.buf):
            self.buf.clear()
            self.pos = 0
        elif self.pos > BLOCK:
            del self.buf[: self.pos]
            self.pos = 0
        n = self.sock.recv_into(self.view)
        if n == 0:
            raise EOFError
        self.buf += self.view[:n]

    def read_until(self, delim, limit):
        scanned = 0  # bytes after self.pos already searched (fill() may move self.pos)
        while True:
            i = self.buf.find(delim, self.pos + scanned)
            if i >= 0:
                out = bytes(self.buf[self.pos : i + len(delim)])
                self.pos = i + len(delim)
                return out
            if self.avail() > limit:
                raise BadRequest("line or head too long")
            scanned = max(0, self.avail() - len(delim) + 1)
            self.fill()

    def read_exact(self, n):
        while self.avail() < n:
            self.fill()
        out = bytes(self.buf[self.pos : self.pos + n])
        self.pos += n
        return out

    def stream(self, n, sink):
        """Consume exactly n bytes, handing them to sink in pieces."""
        if self.avail():
            take = min(n, self.avail())
            sink(self.buf[self.pos : self.pos + take])
            self.pos += take
            n -= take
        while n > 0:
            k = self.sock.recv_into(self.view, min(n, BLOCK))
            if k == 0:
                raise EOFError
            sink(self.view[:k])
            n -= k


class Request:
    def __init__(self, method, target, version, headers):
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers  # [(name, value)] in order
        parsed = urllib.parse.urlsplit(target)
        self.path = parsed.path or target
        self.query = parsed.query
        self.params = dict(urllib.parse.parse_qsl(parsed.query))

    def get_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def get(self, name, default=None):
        values = self.get_all(name)
        return values[0] if values else default

    def tokens(self, name):
        return [t.strip().lower() for v in self.get_all(name) for t in v.split(",") if t.strip()]


def parse_head(raw):
    text = raw.decode("latin-1")
    lines = [l.rstrip("\r") for l in text.split("\n")] if LENIENT else text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadRequest("bad request line")
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        if ":" not in line or line[0] in " \t":
            raise BadRequest("bad header line")
        name, value = line.split(":", 1)
        headers.append((name, value.strip(" \t")))
    return Request(parts[0], parts[1], parts[2], headers)


def reason(status):
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Status"


class Connection:
    counter = itertools.count(1)
    counter_lock = threading.Lock()

    def __init__(self, sock):
        self.sock = sock
        with Connection.counter_lock:
            self.id = next(Connection.counter)
        self.reader = Reader(sock)
        self.requests = 0
        self.sni = getattr(sock, "_airlock_sni", None)

    # ---- responses ------------------------------------------------------------------

    def send_head(self, status, headers, keep_alive):
        lines = ["HTTP/1.1 %d %s" % (status, reason(status))]
        for k, v in headers:
            lines.append("%s: %s" % (k, v))
        if not keep_alive:
            lines.append("Connection: close")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def respond(self, req, status, body=b"", content_type="text/plain", extra=(), keep_alive=True):
        headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))] + list(extra)
        if status in (204, 304) or 100 <= status < 200:
            headers = [h for h in headers if h[0] != "Content-Length"]
            body = b""
        self.send_head(status, headers, keep_alive)
        if body and req.method != "HEAD":
            self.sock.sendall(body)

    def respond_json(self, req, obj, status=200, keep_alive=True):
        self.respond(req, status, (json.dumps(obj) + "\n").encode(), "application/json", keep_alive=keep_alive)

    # ---- request bodies ---------------------------------------------------------------

    def body_framing(self, req):
        te = req.tokens("Transfer-Encoding")
        cl = req.get_all("Content-Length")
        if te:
            if te[-1] != "chunked":
                raise BadRequest("unsupported transfer-encoding")
            return ("chunked", 0)
        if cl:
            if len(set(cl)) != 1 or not cl[0].isdigit():
                raise BadRequest("bad content-length")
            return ("length", int(cl[0]))
        return ("length", 0)

    def consume_body(self, req, sink):
        kind, n = self.body_framing(req)
        if (kind == "chunked" or n > 0) and "100-continue" in req.tokens("Expect") and req.version == "HTTP/1.1":
            self.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        if kind == "length":
            self.reader.stream(n, sink)
            return
        eol = b"\n" if LENIENT else b"\r\n"
        while True:
            line = self.reader.read_until(eol, 4096)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise BadRequest("bad chunk size")
            if size == 0:
                while self.reader.read_until(eol, MAX_HEAD).rstrip(b"\r\n"):
                    pass  # trailers
                return
            self.reader.stream(size, sink)
            if self.reader.read_exact(2) != b"\r\n":
                raise BadRequest("bad chunk end")

    def hash_body(self, req, keep=0):
        """(sha256 hex, length) of the body; with keep, also its first `keep` bytes."""
        h = hashlib.sha256()
        total = [0]
        head = bytearray()

        def sink(data):
            h.update(data)
            total[0] += len(data)
            if len(head) < keep:
                head.extend(bytes(data[: keep - len(head)]))

        self.consume_body(req, sink)
        if keep:
            return h.hexdigest(), total[0], bytes(head)
        return h.hexdigest(), total[0]

    # ---- the loop ---------------------------------------------------------------------

    def serve(self):
        while True:
            try:
                raw = self.read_head()
            except EOFError:
                return
            try:
                req = parse_head(raw)
            except BadRequest as e:
                self.respond(None, 400, (str(e) + "\n").encode(), keep_alive=False)
                return
            self.requests += 1
            if LOG is not None:
                line = json.dumps({"upstream": NAME, "method": req.method, "target": req.target,
                                   "headers": [[k, v] for k, v in req.headers]})
                with LOG_LOCK:
                    LOG.write(line + "\n")
                    LOG.flush()
            if getattr(self, "drop_next", False):
                return
            conn_tokens = req.tokens("Connection")
            if req.version == "HTTP/1.0":
                keep_alive = "keep-alive" in conn_tokens
            else:
                keep_alive = "close" not in conn_tokens
            try:
                keep_alive = self.route(req, keep_alive) and keep_alive
            except BadRequest as e:
                self.respond(req, 400, (str(e) + "\n").encode(), keep_alive=False)
                return
            if not keep_alive:
                return

    def read_head(self):
        """The head without its blank line; lenient: lines may end in a bare LF."""
        if not LENIENT:
            return self.reader.read_until(b"\r\n\r\n", MAX_HEAD)[:-4]
        lines = []
        while True:
            line = self.reader.read_until(b"\n", MAX_HEAD).rstrip(b"\r\n")
            if not line and lines:
                return b"\r\n".join(lines)
            if line:
                lines.append(line)

    def route(self, req, keep_alive):
        """Answers req; returns False when the connection must close afterwards."""
        path = req.path
        if path == "/echo" or path.startswith("/echo/"):
            digest, n, body = self.hash_body(req, keep=4096)
            self.respond_json(
                req,
                {
                    "body": body.decode("latin-1"),
                    "method": req.method,
                    "path": path,
                    "query": req.query,
                    "target": req.target,
                    "version": req.version,
                    "headers": [[k, v] for k, v in req.headers],
                    "body_sha256": digest,
                    "body_len": n,
                    "connection_id": self.id,
                    "request_index": self.requests,
                    "sni": self.sni,
                    "upstream": NAME,
                },
                keep_alive=keep_alive,
            )
            return True
        if path == "/upload":
            digest, n = self.hash_body(req)
            self.respond_json(req, {"len": n, "sha256": digest, "connection_id": self.id}, keep_alive=keep_alive)
            return True
        if path == "/bytes":
            self.hash_body(req)
            n = int(req.params.get("n", "0"))
            self.send_head(200, [("Content-Type", "application/octet-stream"), ("Content-Length", str(n))], keep_alive)
            if req.method != "HEAD":
                for block in pattern_blocks(n):
                    self.sock.sendall(block)
            return True
        if path == "/sse":
            self.hash_body(req)
            return self.sse(req, keep_alive)
        if path == "/ws":
            return self.websocket(req)
        if path.startswith("/status/"):
            self.hash_body(req)
            try:
                status = int(path[len("/status/") :])
            except ValueError:
                raise BadRequest("bad status")
            if not 200 <= status <= 599:
                raise BadRequest("status out of range")
            self.respond(req, status, b"status %d\n" % status, keep_alive=keep_alive)
            return True
        if path == "/close-soon":
            # Answers with keep-alive, then closes the idle connection 0.2 s later (a server's
            # idle timeout): whoever keeps it must notice before reusing it.
            self.hash_body(req)
            self.respond_json(req, {"connection_id": self.id}, keep_alive=keep_alive)
            threading.Timer(0.2, lambda: self.sock.shutdown(socket.SHUT_RDWR)).start()
            return True
        if path == "/drop-next":
            # Answers with keep-alive; the next request on this connection gets no answer:
            # the connection closes as the request arrives (a close racing the reuse).
            self.hash_body(req)
            self.drop_next = True
            self.respond_json(req, {"connection_id": self.id}, keep_alive=keep_alive)
            return True
        if path == "/malformed":
            self.hash_body(req)
            self.sock.sendall(MALFORMED[req.params.get("case", "")])
            return False
        if path == "/auth-required":
            self.hash_body(req)
            want = os.environ.get("UPSTREAM_EXPECT_KEY")
            got = req.get_all("x-api-key")
            if want and got == [want]:
                self.respond(req, 200, b'{"ok":true}\n', "application/json", keep_alive=keep_alive)
            else:
                self.respond(req, 401, b'{"error":"unauthorized"}\n', "application/json", keep_alive=keep_alive)
            return True
        self.hash_body(req)
        self.respond(req, 404, b"not found\n", keep_alive=keep_alive)
        return True

    def sse(self, req, keep_alive):
        n = int(req.params.get("n", "10"))
        interval = int(req.params.get("interval_ms", "100")) / 1000.0
        chunked = req.version == "HTTP/1.1"
        headers = [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")]
        if chunked:
            headers.append(("Transfer-Encoding", "chunked"))
        self.send_head(200, headers, keep_alive and chunked)
        for i in range(n):
            if i:
                time.sleep(interval)
            event = ("id: %d\ndata: %s\n\n" % (i, json.dumps({"i": i, "t": time.time()}))).encode()
            if chunked:
                event = b"%x\r\n" % len(event) + event + b"\r\n"
            self.sock.sendall(event)
        if chunked:
            self.sock.sendall(b"0\r\n\r\n")
            return True
        return False

    # ---- WebSocket ------------------------------------------------------------------

    def websocket(self, req):
        key = req.get("Sec-WebSocket-Key")
        if "websocket" not in req.tokens("Upgrade") or "upgrade" not in req.tokens("Connection") or not key:
            self.hash_body(req)
            self.respond(req, 400, b"not a websocket upgrade\n", keep_alive=False)
            return False
        accept = base64.b64encode(hashlib.sha1(key.encode() + WS_GUID).digest()).decode()
        # permessage-deflate (RFC 7692) is accepted when offered: compressed frames carry
        # RSV1, which the echo then keeps.
        offers = [o.split(";")[0].strip().lower() for o in ",".join(req.get_all("Sec-WebSocket-Extensions")).split(",")]
        deflate = "permessage-deflate" in offers
        self.send_head(
            101,
            [
                ("Upgrade", "websocket"),
                ("Connection", "Upgrade"),
                ("Sec-WebSocket-Accept", accept),
                ("X-Upstream-Connection-Id", str(self.id)),
            ]
            + ([("Sec-WebSocket-Extensions", "permessage-deflate")] if deflate else []),
            True,
        )
        upgrade = json.dumps({"headers": [[k, v] for k, v in req.headers], "connection_id": self.id}).encode()
        r = self.reader
        while True:
            try:
                b0, b1 = r.read_exact(2)
            except EOFError:
                return False
            fin_op = b0 & (0xCF if deflate else 0x8F)
            opcode = b0 & 0x0F
            length = b1 & 0x7F
            if length == 126:
                (length,) = struct.unpack(">H", r.read_exact(2))
            elif length == 127:
                (length,) = struct.unpack(">Q", r.read_exact(8))
            mask = r.read_exact(4) if b1 & 0x80 else None
            payload = r.read_exact(length) if length else b""
            if mask and payload:
                k = (mask * (length // 4 + 1))[:length]
                payload = (int.from_bytes(payload, "big") ^ int.from_bytes(k, "big")).to_bytes(length, "big")
            if opcode == 0x8:  # close: answer with the same code and stop
                self.send_frame(0x88, payload[:125])
                return False
            if opcode == 0x9:  # ping
                self.send_frame(0x8A, payload)
                continue
            if opcode == 0xA:  # pong
                continue
            if opcode == 0x1 and payload == b"airlock-test:headers":
                self.send_frame(0x81, upgrade)
                continue
            self.send_frame(fin_op, payload)

    def send_frame(self, first, payload):
        n = len(payload)
        if n < 126:
            head = struct.pack(">BB", first, n)
        elif n < 65536:
            head = struct.pack(">BBH", first, 126, n)
        else:
            head = struct.pack(">BBQ", first, 127, n)
        self.sock.sendall(head + payload)


def handle(raw_sock, ctx):
    try:
        raw_sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        raw_sock.settimeout(600)
        sock = ctx.wrap_socket(raw_sock, server_side=True) if ctx else raw_sock
    except (OSError, ssl.SSLError):
        raw_sock.close()
        return
    try:
        Connection(sock).serve()
    except (OSError, ssl.SSLError, EOFError, ValueError) as e:
        if os.environ.get("UPSTREAM_DEBUG"):
            import traceback
            traceback.print_exc()
    finally:
        try:
            sock.close()
        except OSError:
            pass


def make_tls_context(args):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    ctx.set_alpn_protocols(["http/1.1"])

    def remember_sni(sslsock, name, _ctx):
        try:
            sslsock._airlock_sni = name
        except AttributeError:
            pass

    ctx.sni_callback = remember_sni
    return ctx


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--pattern-sha256", type=int, metavar="N")
    ap.add_argument("--name")
    ap.add_argument("--plain", action="store_true")
    ap.add_argument("--log")
    ap.add_argument("--lenient", action="store_true")
    args = ap.parse_args()
    global NAME, LOG, LENIENT
    NAME = args.name
    LENIENT = args.lenient
    if args.log:
        LOG = open(args.log, "a")
    if args.pattern_sha256 is not None:
        print(pattern_sha256(args.pattern_sha256))
        return
    if args.plain:
        ctx = None
    elif not args.cert or not args.key:
        ap.error("--cert and --key are required")
    else:
        ctx = make_tls_context(args)

    listener = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((args.host, args.port))
    listener.listen(256)
    port = listener.getsockname()[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)
    print("upstream listening on %s:%d" % (args.host, port), file=sys.stderr, flush=True)
    while True:
        try:
            raw, _ = listener.accept()
        except InterruptedError:
            continue
        threading.Thread(target=handle, args=(raw, ctx), daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
