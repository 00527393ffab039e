#!/usr/bin/env python3
"""Local stand-ins for the npm registry and PyPI (python3 stdlib only), for agent_setup.sh.

    registry_standins.py serve --cert C --key K --port-file F --log L --token T
        One HTTPS server (the certificate names registry.npmjs.org, pypi.org and
        files.pythonhosted.org; [proxy.resolve] sends all three here) that serves one npm
        package and one Python package, both built here at start:
          GET /airlock-probe                         npm packument (dist.tarball on registry.npmjs.org)
          GET /airlock-probe/-/airlock-probe-1.0.0.tgz   the tarball
          GET /simple/airlock-probe/                 PEP 503 simple index (link on files.pythonhosted.org)
          GET /packages/airlock_probe-1.0.0-py3-none-any.whl   the wheel
        Every request is appended to L as one JSON line {host, path, user_agent,
        authorization_is_token, authorization_present} (never the header's value). A request
        whose Authorization is not "Bearer T" gets 401, so a package only installs when the
        proxy injected the real token.
"""
import base64
import gzip
import hashlib
import http.server
import io
import json
import ssl
import sys
import tarfile
import threading
import zipfile

NPM_NAME = "airlock-probe"
PY_NAME = "airlock_probe"


def npm_tarball():
    files = {
        "package/package.json": json.dumps({"name": NPM_NAME, "version": "1.0.0", "main": "index.js"}).encode(),
        "package/index.js": b"module.exports = 'airlock-probe from the local registry stand-in';\n",
    }
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 1700000000
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def wheel():
    dist = f"{PY_NAME}-1.0.0.dist-info"
    files = {
        f"{PY_NAME}/__init__.py": b"WHERE = 'airlock_probe from the local PyPI stand-in'\n",
        f"{dist}/METADATA": b"Metadata-Version: 2.1\nName: airlock-probe\nVersion: 1.0.0\n",
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: airlock-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = ("\n".join(record) + "\n").encode()
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w") as z:
        for name, data in files.items():
            z.writestr(zipfile.ZipInfo(name, (2023, 1, 1, 0, 0, 0)), data)
    return raw.getvalue()


def serve(args):
    opts = dict(zip(args[::2], args[1::2]))
    tgz, whl = npm_tarball(), wheel()
    whl_name = f"{PY_NAME}-1.0.0-py3-none-any.whl"
    packument = {
        "name": NPM_NAME,
        "dist-tags": {"latest": "1.0.0"},
        "versions": {
            "1.0.0": {
                "name": NPM_NAME,
                "version": "1.0.0",
                "main": "index.js",
                "dist": {
                    "tarball": f"https://registry.npmjs.org/{NPM_NAME}/-/{NPM_NAME}-1.0.0.tgz",
                    "shasum": hashlib.sha1(tgz).hexdigest(),
                    "integrity": "sha512-" + base64.b64encode(hashlib.sha512(tgz).digest()).decode(),
                },
            }
        },
    }
    index = (
        "<!DOCTYPE html><html><body>"
        f'<a href="https://files.pythonhosted.org/packages/{whl_name}#sha256={hashlib.sha256(whl).hexdigest()}">{whl_name}</a>'
        "</body></html>\n"
    )
    routes = {
        f"/{NPM_NAME}": ("application/json", json.dumps(packument).encode()),
        f"/{NPM_NAME}/-/{NPM_NAME}-1.0.0.tgz": ("application/octet-stream", tgz),
        f"/simple/{NPM_NAME}/": ("text/html", index.encode()),
        f"/simple/{PY_NAME}/": ("text/html", index.encode()),
        f"/packages/{whl_name}": ("application/octet-stream", whl),
    }
    lock = threading.Lock()
    want = "Bearer " + opts["--token"]

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_GET(self):
            auth = self.headers.get_all("Authorization") or []
            path = self.path.split("?")[0]
            with lock, open(opts["--log"], "a") as f:
                f.write(json.dumps({"host": self.headers.get("Host", ""), "path": path,
                                    "user_agent": self.headers.get("User-Agent", ""),
                                    "authorization_is_token": auth == [want],
                                    "authorization_present": bool(auth)}) + "\n")
            if auth != [want]:
                body, ctype, status = b'{"error": "unauthorized"}', "application/json", 401
            elif path in routes:
                (ctype, body), status = routes[path], 200
            else:
                body, ctype, status = b'{"error": "not found"}', "application/json", 404
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(opts["--cert"], opts["--key"])
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    with open(opts["--port-file"] + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    import os
    os.replace(opts["--port-file"] + ".tmp", opts["--port-file"])
    server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] != "serve":
        sys.exit(__doc__)
    try:
        serve(sys.argv[2:])
    except KeyboardInterrupt:
        pass
