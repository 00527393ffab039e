#!/usr/bin/env python3
"""Clients that run INSIDE a session's container and go through $HTTPS_PROXY the way agents do
(python3 stdlib only; docker exec -i C python3 - CMD < proxy_clients.py). Each prints one
JSON line; the credential itself never appears in the output (only its sha256).

    urllib   GET https://api.anthropic.com/echo with urllib (honours HTTPS_PROXY)
    ws       CONNECT, TLS, a WebSocket upgrade to /ws; the upstream reports the upgrade's
             headers, of which x-api-key is reported as its sha256
"""
import base64
import hashlib
import json
import os
import socket
import ssl
import struct
import sys
import urllib.parse
import urllib.request

HOST = "api.anthropic.com"


def urllib_get():
    req = urllib.request.Request("https://%s/echo" % HOST, headers={"x-api-key": os.environ["ANTHROPIC_API_KEY"]})
    print(urllib.request.urlopen(req, timeout=30).read().decode())


def tunnel():
    p = urllib.parse.urlsplit(os.environ["HTTPS_PROXY"])
    s = socket.create_connection((p.hostname, p.port), timeout=30)
    auth = base64.b64encode(("%s:%s" % (urllib.parse.unquote(p.username), urllib.parse.unquote(p.password))).encode())
    s.sendall(b"CONNECT %s:443 HTTP/1.1\r\nHost: %s:443\r\nProxy-Authorization: Basic %s\r\n\r\n"
              % (HOST.encode(), HOST.encode(), auth))
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1)
        if not chunk:
            raise SystemExit("CONNECT: connection closed: %r" % head)
        head += chunk
    if b" 200 " not in head.split(b"\r\n")[0]:
        raise SystemExit("CONNECT refused: %r" % head)
    ctx = ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    return ctx.wrap_socket(s, server_hostname=HOST)


def need(sock, n):
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise EOFError
        out += chunk
    return out


def frame(opcode, payload):
    mask = os.urandom(4)
    n = len(payload)
    head = struct.pack(">BB", 0x80 | opcode, 0x80 | n) if n < 126 else struct.pack(">BBH", 0x80 | opcode, 0xFE, n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def read_frame(sock):
    b0, b1 = need(sock, 2)
    n = b1 & 0x7F
    if n == 126:
        (n,) = struct.unpack(">H", need(sock, 2))
    elif n == 127:
        (n,) = struct.unpack(">Q", need(sock, 8))
    return b0 & 0x0F, need(sock, n)


def ws():
    s = tunnel()
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nx-api-key: %s\r\n\r\n"
               % (HOST, key, os.environ["ANTHROPIC_API_KEY"])).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += need(s, 1)
    status = int(head.split(b" ")[1])
    res = {"status": status}
    if status == 101:
        s.sendall(frame(1, b"airlock-test:headers"))
        _, data = read_frame(s)
        headers = json.loads(data)["headers"]
        res["x_api_key_sha256"] = [hashlib.sha256(v.encode()).hexdigest() for k, v in headers if k.lower() == "x-api-key"]
        s.sendall(frame(1, b"hello through the relay"))
        op, data = read_frame(s)
        res["echo"] = data.decode(errors="replace")
        s.sendall(frame(8, struct.pack(">H", 1000)))
        res["close_opcode"] = read_frame(s)[0]
    print(json.dumps(res))


{"urllib": urllib_get, "ws": ws}[sys.argv[1]]()
