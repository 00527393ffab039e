#!/usr/bin/env python3
"""Request-smuggling and framing checks through the real proxy, raw bytes, one tunnel per case.

Env: PROXY_URL (http://NAME:TOKEN@127.0.0.1:PORT), AIRLOCK_CA (the airlock CA certificate),
SMUGGLING_HOST (default api.anthropic.com, a host with a credential rule).
Prints one "ok - ..." / "not ok - ..." line per case; exits 1 if any failed.
"""
import base64
import json
import os
import socket
import ssl
import sys
import urllib.parse

PROXY = urllib.parse.urlsplit(os.environ["PROXY_URL"])
CA = os.environ["AIRLOCK_CA"]
HOST = os.environ.get("SMUGGLING_HOST", "api.anthropic.com")
TIMEOUT = float(os.environ.get("SMUGGLING_TIMEOUT", "10"))


def tunnel():
    raw = socket.create_connection((PROXY.hostname, PROXY.port), timeout=TIMEOUT)
    auth = base64.b64encode(
        ("%s:%s" % (urllib.parse.unquote(PROXY.username), urllib.parse.unquote(PROXY.password))).encode()
    ).decode()
    raw.sendall(
        ("CONNECT %s:443 HTTP/1.1\r\nHost: %s:443\r\nProxy-Authorization: Basic %s\r\n\r\n" % (HOST, HOST, auth)).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = raw.recv(4096)
        if not chunk:
            raise RuntimeError("proxy closed during CONNECT")
        head += chunk
    status = head.split(b"\r\n", 1)[0]
    if b" 200" not in status:
        raise RuntimeError("CONNECT answered %r" % status)
    ctx = ssl.create_default_context(cafile=CA)
    return ctx.wrap_socket(raw, server_hostname=HOST)


def read_response(sock):
    """(status, headers dict lowercased, body bytes) of one response; Content-Length bodies only."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            if not data:
                return None, {}, b""
            raise RuntimeError("connection closed inside the response head: %r" % data[:200])
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "0"))
    while len(body) < n:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, headers, body[:n]


def closed_after(sock):
    """True if the proxy closes the connection (EOF or reset) within the timeout."""
    try:
        sock.settimeout(5)
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return True
    except (ssl.SSLError, ConnectionError):
        return True
    except socket.timeout:
        return False


H = "Host: %s\r\n" % HOST
CASES = [
    # (name, raw request, expected status)
    ("TE chunked, identity", "POST /echo HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", 400),
    ("TE identity", "POST /echo HTTP/1.1\r\n" + H + "Transfer-Encoding: identity\r\n\r\n", 400),
    ("TE and Content-Length together",
     "POST /echo HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400),
    ("TE on HTTP/1.0", "POST /echo HTTP/1.0\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("obs-fold", "GET /echo HTTP/1.1\r\n" + H + "X-A: b\r\n  c\r\n\r\n", 400),
    ("duplicate Host", "GET /echo HTTP/1.1\r\n" + H + H + "\r\n", 400),
    ("missing Host", "GET /echo HTTP/1.1\r\nX-A: b\r\n\r\n", 400),
    ("two different Content-Length values",
     "POST /echo HTTP/1.1\r\n" + H + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400),
    ("Content-Length list 5, 6", "POST /echo HTTP/1.1\r\n" + H + "Content-Length: 5, 6\r\n\r\nhello!", 400),
    ("space before the colon", "GET /echo HTTP/1.1\r\n" + H + "X-A : b\r\n\r\n", 400),
    ("space before the colon of Content-Length",
     "POST /echo HTTP/1.1\r\n" + H + "Content-Length : 3\r\n\r\nabc", 400),
    ("bare LF line endings", "GET /echo HTTP/1.1\n" + H.replace("\r\n", "\n") + "\n", 400),
    ("a bare LF inside a CRLF head", "GET /echo HTTP/1.1\r\n" + H + "X-A: b\nX-B: c\r\n\r\n", 400),
    ("Host mismatch", "GET /echo HTTP/1.1\r\nHost: other.example\r\n\r\n", 421),
    ("absolute-form to another host",
     "GET https://other.example/echo HTTP/1.1\r\nHost: other.example\r\n\r\n", 421),
    ("absolute-form to another host, Host right",
     "GET https://other.example/echo HTTP/1.1\r\n" + H + "\r\n", 421),
    ("good request", "GET /echo HTTP/1.1\r\n" + H + "\r\n", 200),
    ("absolute-form with the right host", "GET https://%s/echo HTTP/1.1\r\n" % HOST + H + "\r\n", 200),
]


def run_case(name, raw, want):
    try:
        sock = tunnel()
    except Exception as e:  # noqa: BLE001 - report any failure as this case's
        return False, "tunnel: %s" % e
    try:
        sock.sendall(raw.encode("latin-1"))
        status, headers, body = read_response(sock)
        if status is None:
            return False, "connection closed without a response"
        if status != want:
            return False, "status %s, want %s (X-Airlock-Error: %s; body %r)" % (
                status, want, headers.get("x-airlock-error"), body[:200])
        if want == 200:
            echo = json.loads(body)
            if echo["path"] != "/echo":
                return False, "upstream saw path %r (target %r), want origin-form /echo" % (echo["path"], echo.get("target"))
            keys = [v for k, v in echo["headers"] if k.lower() == "x-api-key"]
            if len(keys) != 1 or "placeholder" in keys[0]:
                return False, "upstream saw x-api-key %r" % keys
            return True, ""
        if not closed_after(sock):
            return False, "status %s but the connection stayed open" % status
        return True, ""
    except socket.timeout:
        return False, "timed out after %ss waiting for the proxy" % TIMEOUT
    except Exception as e:  # noqa: BLE001
        return False, "%s: %s" % (type(e).__name__, e)
    finally:
        try:
            sock.close()
        except OSError:
            pass


def main():
    failed = 0
    for name, raw, want in CASES:
        good, why = run_case(name, raw, want)
        if good:
            print("ok - smuggling: %s -> %d" % (name, want), flush=True)
        else:
            failed += 1
            print("not ok - smuggling: %s -> %d: %s" % (name, want, why), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
