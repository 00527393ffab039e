#!/usr/bin/env python3
"""Helpers for session.sh (python3 stdlib only).

    session_helpers.py upstream --log FILE --placeholder P [upstream.py options...]
        upstream.py, but /echo answers with a redacted summary instead of the request's
        headers (so the real credential never travels back into the container, the worktree
        or the repository), and every /echo request is appended to FILE as one JSON line
        {path, sni, headers: [[name, value], ...]} (FILE lives outside $AIRLOCK_HOME).
        The answer: {"ok": true, "path", "sni", "user_agent", "x_api_key_sha256": [...],
        "x_api_key_is_placeholder": [...], "authorization_present": bool}.
    session_helpers.py json FILE EXPR
        Evaluates the python expression EXPR with e = the JSON document in FILE; exit 0 when
        true, else 1 with the document (shortened) on stderr.
    session_helpers.py sha256 TEXT
"""
import hashlib
import json
import os
import sys
import threading


def upstream(argv):
    log, placeholder, rest = None, None, []
    i = 0
    while i < len(argv):
        if argv[i] == "--log":
            log = argv[i + 1]
            i += 2
        elif argv[i] == "--placeholder":
            placeholder = argv[i + 1]
            i += 2
        else:
            rest.append(argv[i])
            i += 1
    if not log or not placeholder:
        sys.exit("upstream: --log and --placeholder are required")
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import upstream as up  # noqa: E402  (tests/integration/upstream.py)

    lock = threading.Lock()
    original = up.Connection.route

    def route(self, req, keep_alive):
        if not (req.path == "/echo" or req.path.startswith("/echo/")):
            return original(self, req, keep_alive)
        self.hash_body(req)
        with lock, open(log, "a") as f:
            f.write(json.dumps({"path": req.path, "sni": self.sni, "headers": [[k, v] for k, v in req.headers]}) + "\n")
        keys = req.get_all("x-api-key")
        self.respond_json(
            req,
            {
                "ok": True,
                "path": req.path,
                "sni": self.sni,
                "user_agent": req.get("user-agent", ""),
                "x_api_key_sha256": [hashlib.sha256(k.encode()).hexdigest() for k in keys],
                "x_api_key_is_placeholder": [k == placeholder for k in keys],
                "authorization_present": bool(req.get_all("authorization")),
            },
            keep_alive=keep_alive,
        )
        return True

    up.Connection.route = route
    sys.argv = ["upstream.py"] + rest
    up.main()


def json_check(path, expr):
    with open(path) as f:
        e = json.load(f)
    ok = eval(expr, {"e": e, "json": json})
    if not ok:
        print(json.dumps(e)[:1500], file=sys.stderr)
    sys.exit(0 if ok else 1)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "upstream":
        upstream(args)
    elif cmd == "json":
        json_check(args[0], args[1])
    elif cmd == "sha256":
        print(hashlib.sha256(args[0].encode()).hexdigest())
    else:
        sys.exit("unknown command %s" % cmd)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
