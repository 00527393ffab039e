#!/usr/bin/env python3
"""Single exchanges through the proxy whose exact bytes matter (for proxy_core.sh).

    core_checks.py expect100 --proxy H:P --ca CA --client NAME:TOKEN --host HOST [--plain] [--chunked]
        A POST with "Expect: 100-continue" whose body is held back until the proxy relays
        the upstream's 100 (at most 3 s); then the body; then the final response must be the
        upstream's 200 for the whole body. Twice on one connection (keep-alive framing).
    core_checks.py trace --proxy H:P --ca CA --client NAME:TOKEN --host HOST METHOD
        METHOD /echo inside an intercepted tunnel; prints the status line.
Prints one line of JSON or a reason; exits 1 when the exchange went wrong.
"""
import argparse
import base64
import json
import socket
import sys

import routing


def plain_connection(args):
    host, port = args.proxy.rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=20)


def expect100(args):
    auth = base64.b64encode(args.client.encode()).decode()
    if args.plain:
        sock = plain_connection(args)
        target, extra = "http://%s/upload" % args.host, "Proxy-Authorization: Basic %s\r\n" % auth
    else:
        sock = routing.Tunnel(args, args.client, args.host).sock
        target, extra = "/upload", ""
    results = []
    for i in range(2):
        if args.plain and i:  # the upstream's answer said Connection: close
            sock.close()
            sock = plain_connection(args)
        body = (b"%d-" % i) * 700
        framing = "Transfer-Encoding: chunked" if args.chunked else "Content-Length: %d" % len(body)
        sock.sendall(("POST %s HTTP/1.1\r\nHost: %s\r\n%s%s\r\nExpect: 100-continue\r\n\r\n"
                      % (target, args.host, extra, framing)).encode())
        sock.settimeout(3)
        try:
            status, _, _ = routing.read_response(sock)
        except socket.timeout:
            print("no 100 Continue within 3 s while the body was held back (request %d)" % (i + 1))
            return 1
        if status != 100:
            print("the first answer to an Expect: 100-continue request was %d, not 100" % status)
            return 1
        sock.settimeout(20)
        sock.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body) if args.chunked else body)
        status, _, answer = routing.read_response(sock)
        e = json.loads(answer) if status == 200 else {}
        if status != 200 or e.get("len") != len(body):
            print("final response %d: %r" % (status, answer[:200]))
            return 1
        results.append({"status": status, "len": e["len"]})
    print(json.dumps(results))
    return 0


def trace(args):
    t = routing.Tunnel(args, args.client, args.host)
    t.sock.sendall(("%s /echo HTTP/1.1\r\nHost: %s\r\n\r\n" % (args.method, args.host)).encode())
    status, headers, body = routing.read_response(t.sock)
    print(json.dumps({"status": status, "error": headers.get("x-airlock-error"), "body": body.decode()}))
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("check", choices=["expect100", "trace"])
    ap.add_argument("method", nargs="?")
    ap.add_argument("--proxy", required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--client", required=True)
    ap.add_argument("--host", required=True)
    ap.add_argument("--plain", action="store_true")
    ap.add_argument("--chunked", action="store_true")
    args = ap.parse_args()
    args.unix = None
    sys.exit(expect100(args) if args.check == "expect100" else trace(args))


if __name__ == "__main__":
    main()
