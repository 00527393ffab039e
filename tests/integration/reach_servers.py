#!/usr/bin/env python3
"""The servers network.sh tries to reach from inside a session (python3 stdlib only).

    reach_servers.py tcp MARKER PORT [--bind ADDR] [--port-file FILE]
        Accepts TCP connections on ADDR:PORT (default: every IPv4 and IPv6 address) and
        answers each with an HTTP response whose body is MARKER: a client that gets MARKER
        reached this server.
    reach_servers.py dns PORT [--port-file FILE]
        Answers every DNS query on UDP 0.0.0.0:PORT with one A record (192.0.2.53): a
        resolver the container can reach is a way to send data out in names.
"""
import socket
import struct
import sys
import threading


def write_port(args, port):
    if "--port-file" in args:
        with open(args[args.index("--port-file") + 1], "w") as f:
            f.write("%d\n" % port)


def tcp(args):
    marker, port = args[0], int(args[1])
    bind = args[args.index("--bind") + 1] if "--bind" in args else None
    if bind:
        family = socket.AF_INET6 if ":" in bind else socket.AF_INET
        s = socket.socket(family, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((bind, port))
    else:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.bind(("::", port))
    s.listen(64)
    write_port(args, s.getsockname()[1])
    body = marker.encode()
    reply = b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)

    def serve(c):
        try:
            c.settimeout(5)
            c.sendall(reply)
        except OSError:
            pass
        finally:
            c.close()

    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def dns(args):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", int(args[0])))
    write_port(args, s.getsockname()[1])
    while True:
        q, peer = s.recvfrom(512)
        if len(q) < 12:
            continue
        (qid,) = struct.unpack(">H", q[:2])
        answer = struct.pack(">HHHHHH", qid, 0x8180, 1, 1, 0, 0) + q[12:]
        answer += b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + socket.inet_aton("192.0.2.53")
        s.sendto(answer, peer)


if __name__ == "__main__":
    try:
        {"tcp": tcp, "dns": dns}[sys.argv[1]](sys.argv[2:])
    except KeyboardInterrupt:
        pass
