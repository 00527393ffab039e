#!/usr/bin/env python3
"""Request-smuggling and framing checks through the real proxy, raw bytes, one tunnel per case.

Env: PROXY_URL (http://NAME:TOKEN@127.0.0.1:PORT), AIRLOCK_CA (the airlock CA certificate),
SMUGGLING_HOST (default api.anthropic.com, a host with a credential rule), SMUGGLING_SECRET
(the credential the proxy injects for it), UPSTREAM_REQUEST_LOG (the upstream's
--request-log; the upstream runs with --lenient, reading bare LF as a line end like nginx).
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
SECRET = os.environ["SMUGGLING_SECRET"].encode()
REQUEST_LOG = os.environ["UPSTREAM_REQUEST_LOG"]
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
    # Finding 7 of issue 9: ambiguous framing. Unknown codings before chunked are refused;
    # Content-Length lists that agree are forwarded as one plain field (checked below).
    ("TE identity, chunked", "POST /echo HTTP/1.1\r\n" + H + "Transfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n", 400),
    ("Content-Length list with an empty element that differs",
     "POST /echo HTTP/1.1\r\n" + H + "Content-Length: ,5, 6\r\n\r\nhello!", 400),
    ("Content-Length of commas only", "POST /echo HTTP/1.1\r\n" + H + "Content-Length: ,\r\n\r\n", 400),
    # Finding 2: the chunked body is checked piece by piece; the refusal closes the connection.
    ("bare LF after a chunk size", "POST /echo HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n", 400),
    ("chunk extension with a control character",
     "POST /echo HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n5;a=\"\x01\"\r\nhello\r\n0\r\n\r\n", 400),
    ("obs-fold in the trailer section",
     "POST /echo HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n0\r\nX: a\r\n b\r\n\r\n", 400),
    ("trailer line without a colon",
     "POST /echo HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n0\r\nX y\r\n\r\n", 400),
    ("NUL in a trailer value",
     "POST /echo HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n0\r\nX: a\x00b\r\n\r\n", 400),
    ("Content-Length as a trailer",
     "POST /echo HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n0\r\nContent-Length: 5\r\n\r\n", 400),
    ("a valid trailer passes",
     "POST /echo HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n5;ext=\"v\"\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\n", 200),
]

# The same request framing, as the upstream must receive it: (name, raw request, header,
# the one value the upstream must see).
NORMALISED = [
    ("Content-Length: ,5", "POST /echo HTTP/1.1\r\n" + H + "Content-Length: ,5\r\n\r\nhello", "content-length", "5"),
    ("Content-Length: 5, 5", "POST /echo HTTP/1.1\r\n" + H + "Content-Length: 5, 5\r\n\r\nhello", "content-length", "5"),
    ("Content-Length twice", "POST /echo HTTP/1.1\r\n" + H + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
     "content-length", "5"),
    ("Transfer-Encoding in two fields", "POST /echo HTTP/1.1\r\n" + H + "Transfer-Encoding: gzip\r\n"
     "Transfer-Encoding: CHUNKED\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "transfer-encoding", "gzip, chunked"),
]

# Responses with ambiguous framing from the upstream (upstream.py's MALFORMED): (case, 502
# or None when the head has left already, bytes the client must never receive).
MALFORMED = [
    ("cl-comma", 502, b",5"), ("cl-list", 502, b"5, 5"), ("cl-differing", 502, b"injected"),
    ("te-and-cl", 502, b"Content-Length: 13"), ("te-identity", 502, b"Transfer-Encoding: identity"),
    ("te-http10", 502, b"HTTP/1.0 200"),
    # the second "response" a bare-LF reader would see, and the line that splits it off
    ("trailer-lf", None, b"X: y\n"), ("trailer-lf", None, b"Content-Length: 8"),
    ("chunk-size-lf", None, b"5\nhello"), ("trailer-nul", None, b"\x00"),
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


def recv_all(sock, seconds):
    """Everything the proxy sends until it closes or `seconds` of silence."""
    data = b""
    sock.settimeout(seconds)
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, ssl.SSLError, ConnectionError):
        pass
    return data


def upstream_requests():
    try:
        with open(REQUEST_LOG) as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def trailer_smuggling_attack():
    """Finding 2 of issue 9, the attacker's exact bytes: a trailer line ending in a bare LF
    ends the body early for a lenient upstream, and what follows is a second request whose
    200-byte body swallows the proxy's next request on that upstream connection, credential
    included, to be echoed back to the container. Returns a list of failures."""
    smuggled = ("POST /echo HTTP/1.1\r\nHost: %s\r\nX-Smuggled: yes\r\nContent-Length: 200\r\n\r\n" % HOST)
    # /upload answers without reflecting the request: only a smuggled /echo can.
    attack = ("POST /upload HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n"
              "0\r\nX: y\n\n" + smuggled).encode("latin-1")
    # The next request, on the same tunnel (and the same upstream connection) when the proxy
    # keeps it open, else on a new one: its head, with the injected credential, is what the
    # smuggled request's body would swallow. /upload does not reflect headers.
    body = b"z" * 150
    following = ("POST /upload HTTP/1.1\r\n" + H + "Content-Length: %d\r\n\r\n" % len(body)).encode() + body
    received = b""
    failures = []
    sock = tunnel()
    try:
        sock.sendall(attack)
        received += recv_all(sock, 3)
        try:
            sock.sendall(following)
            received += recv_all(sock, 3)
        except (OSError, ssl.SSLError):
            pass
    finally:
        sock.close()
    for _ in range(2):  # and on new tunnels (the proxy's pool)
        sock = tunnel()
        try:
            sock.sendall(following)
            received += recv_all(sock, 3)
        finally:
            sock.close()
    if SECRET in received:
        failures.append("the injected credential came back to the client: %r" %
                        received[received.find(SECRET) - 120:received.find(SECRET) + 40])
    seen = [r for r in upstream_requests() if any(k.lower() == "x-smuggled" for k, _ in r["headers"])]
    if seen:
        failures.append("the upstream saw the smuggled request: %s" % json.dumps(seen[0])[:300])
    first = received.split(b"\r\n", 1)[0]
    if not first.startswith(b"HTTP/1.1 400"):
        failures.append("the attack request was answered %r, want 400" % first[:60])
    return failures


def normalised_case(name, raw, header, want):
    sock = tunnel()
    try:
        sock.sendall(raw.encode("latin-1"))
        status, headers, body = read_response(sock)
        if status != 200:
            return "status %s (X-Airlock-Error: %s; %r)" % (status, headers.get("x-airlock-error"), body[:200])
        echo = json.loads(body)
        got = [v for k, v in echo["headers"] if k.lower() == header]
        if got != [want]:
            return "upstream saw %s %r, want exactly [%r]" % (header, got, want)
        if echo["body"] != "hello":
            return "upstream saw body %r" % echo["body"]
        return ""
    finally:
        sock.close()


def malformed_case(case, want, never):
    sock = tunnel()
    try:
        sock.sendall(("GET /malformed?case=%s HTTP/1.1\r\n" % case + H + "\r\n").encode())
        data = recv_all(sock, 5)
    finally:
        sock.close()
    if never in data or b"injected" in data:
        return "the client received %r: %r" % (never, data[:300])
    status = data.split(b"\r\n", 1)[0]
    if want == 502:
        if not status.startswith(b"HTTP/1.1 502"):
            return "got %r, want 502" % data[:300]
        if b"ambiguous response" not in data:
            return "502 without the reason: %r" % data[:300]
    return ""


def main():
    failed = 0

    def report(good, name, why=""):
        nonlocal failed
        if good:
            print("ok - smuggling: %s" % name, flush=True)
        else:
            failed += 1
            print("not ok - smuggling: %s: %s" % (name, why), flush=True)

    for name, raw, want in CASES:
        good, why = run_case(name, raw, want)
        report(good, "%s -> %d" % (name, want), why)
    for name, raw, header, want in NORMALISED:
        why = normalised_case(name, raw, header, want)
        report(not why, "%s is forwarded as %s: %s" % (name, header, want), why)
    for case, want, never in MALFORMED:
        why = malformed_case(case, want, never)
        what = "502" if want == 502 else "the response is cut off before the bad bytes"
        report(not why, "upstream response %s -> %s, the client never gets %r" % (case, what, never), why)
    failures = trailer_smuggling_attack()
    report(not failures, "a bare-LF trailer never smuggles a request: the next request's credential never comes back "
           "to the client and the upstream never sees the smuggled request", "; ".join(failures))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
