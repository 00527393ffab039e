#!/usr/bin/env python3
"""Run INSIDE a session's container (docker exec -i C python3 - < reach_probe.py TARGETS-JSON):
tries every target directly, never through a proxy, and prints one JSON object
{name: {"reached": bool, "detail": str}}.

A target is {"name", "kind", ...}:
  tcp      {"host", "port"}: reached when a TCP connection opens (the first bytes the server
           sends, if any, are the detail: the test's servers answer with a marker)
  resolve  {"host"}: reached when getaddrinfo finds an address (/etc/hosts or DNS)
  dns      {"host", "port"}: reached when a DNS query sent over UDP to host:port is answered
  ifaces   {}: reached when the container has a network interface other than lo (the detail
           lists them and every IPv6 address)
"""
import json
import os
import socket
import struct
import sys

TIMEOUT = 3


def tcp(t):
    try:
        infos = socket.getaddrinfo(t["host"], t["port"], type=socket.SOCK_STREAM)
    except OSError as e:
        return False, "no address: %s" % e
    last = ""
    for family, kind, proto, _, addr in infos:
        s = socket.socket(family, kind, proto)
        s.settimeout(TIMEOUT)
        try:
            s.connect(addr)
        except OSError as e:
            last = "%s: %s" % (addr[0], e)
            s.close()
            continue
        try:
            s.sendall(b"GET / HTTP/1.0\r\nHost: probe\r\n\r\n")
            data = s.recv(300)
        except OSError as e:
            data = ("(connected; then %s)" % e).encode()
        s.close()
        return True, "connected to %s: %r" % (addr[0], data[:120])
    return False, last


def resolve(t):
    try:
        infos = socket.getaddrinfo(t["host"], 443)
        return True, "resolved to %s" % sorted({i[4][0] for i in infos})
    except OSError as e:
        return False, str(e)


def dns(t):
    query = struct.pack(">HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0)
    for label in "exfil.airlock-test.example".split("."):
        query += bytes([len(label)]) + label.encode()
    query += b"\x00" + struct.pack(">HH", 1, 1)
    try:
        infos = socket.getaddrinfo(t["host"], t["port"], type=socket.SOCK_DGRAM)
        family, kind, proto, _, addr = infos[0]
        s = socket.socket(family, kind, proto)
        s.settimeout(TIMEOUT)
        s.sendto(query, addr)
        data, _ = s.recvfrom(512)
        return True, "answered %d bytes" % len(data)
    except OSError as e:
        return False, str(e)


def ifaces(_):
    names = sorted(os.listdir("/sys/class/net"))
    v6 = []
    try:
        with open("/proc/net/if_inet6") as f:
            v6 = [line.split()[0] + "%" + line.split()[-1] for line in f]
    except OSError:
        pass
    return any(n != "lo" for n in names), "interfaces %s; IPv6 addresses %s" % (names, v6)


def main():
    targets = json.loads(sys.argv[1])
    out = {}
    for t in targets:
        reached, detail = {"tcp": tcp, "resolve": resolve, "dns": dns, "ifaces": ifaces}[t["kind"]](t)
        out[t["name"]] = {"reached": reached, "detail": detail}
    print(json.dumps(out))


main()
