#!/usr/bin/env python3
"""Stand-ins for the subscription-login providers (python3 stdlib only): the token endpoints
and APIs of Anthropic (Claude), OpenAI (ChatGPT/Codex) and Google (Gemini CLI), on one TLS
port for every host (the proxy reaches them through [proxy.resolve]), with short token
lifetimes so that refreshes happen during a test.

    login_standin.py --cert C --key K --port-file F --control-port-file F2 --dir D [--lifetime S]

At start it writes each CLI's own login file into D (claude.json, codex.json, gemini.json),
each holding a fresh refresh token and an access token that is about to expire.

Token endpoints (POST): platform.claude.com /v1/oauth/token (JSON), auth.openai.com
/oauth/token (JSON), oauth2.googleapis.com /token (form). Claude's and OpenAI's refresh
tokens rotate: each works exactly once, a second use is a violation ("refresh token reused")
and is answered 401 the way the provider does; Google's stays valid (as Google's does). A refresh with a placeholder token, or a wrong client id, is a violation too.
Any other path on any host is "the API": it needs `Authorization: Bearer <an access token this
stand-in issued for that provider and that has not expired>` (chatgpt.com also the right
ChatGPT-Account-ID); a request without one is answered 401 and counted as a violation.

Control (plain HTTP on 127.0.0.1, its own port): GET /state -> JSON {refreshes, api_ok,
violations, issued (every token ever issued, for leak scans)}; POST /revoke?provider=P (every
refresh token of P refused from now on); POST /reject-access?provider=P (the current access
tokens of P answered 401 from now on, as a server-side revocation would); POST
/relogin?provider=P (a fresh login file for P in D, as logging in again on the host); POST
/reject-next?provider=P&n=N (the next N API requests of P with a valid token answered 401).
"""
import argparse
import json
import os
import secrets
import ssl
import threading
import time
import urllib.parse
import base64
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
LIFETIME = 4
DIR = "."
ACCOUNT = "acct-standin-42"
CLIENTS = {
    "claude": "9d1c250a-e61b-44d9-88ed-5944d1962f5e",
    "chatgpt": "app_EMoamEEZ73f0CkXaXp7hrann",
    "google": "681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com",
}
TOKEN_PATHS = {
    ("platform.claude.com", "/v1/oauth/token"): "claude",
    ("console.anthropic.com", "/v1/oauth/token"): "claude",
    ("auth.openai.com", "/oauth/token"): "chatgpt",
    ("oauth2.googleapis.com", "/token"): "google",
}
API_HOSTS = {
    "api.anthropic.com": "claude",
    "chatgpt.com": "chatgpt",
    "cloudcode-pa.googleapis.com": "google",
}

state = {
    "refreshes": {p: 0 for p in CLIENTS},
    "api_ok": {p: 0 for p in CLIENTS},
    "violations": [],
    "issued": [],
}
refresh_tokens = {}   # token -> {"provider", "used": bool}
access_tokens = {}    # token -> {"provider", "expires": t, "rejected": bool}
revoked = set()       # providers whose refresh tokens are all refused
reject_next = {}      # provider -> how many more valid API requests to answer 401 (server-side revocation)


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def new_access(provider, lifetime):
    exp = time.time() + lifetime
    if provider == "chatgpt":
        claims = {"exp": int(exp), "https://api.openai.com/auth": {"chatgpt_account_id": ACCOUNT}}
        tok = "%s.%s.%s" % (b64url(b'{"alg":"RS256"}'), b64url(json.dumps(claims).encode()),
                            b64url(b"real-sig-" + secrets.token_hex(8).encode()))
    else:
        tok = "real-%s-access-%s" % (provider, secrets.token_hex(12))
    access_tokens[tok] = {"provider": provider, "expires": exp, "rejected": False}
    state["issued"].append(tok)
    return tok, exp


def new_refresh(provider):
    tok = "real-%s-refresh-%s" % (provider, secrets.token_hex(12))
    refresh_tokens[tok] = {"provider": provider, "used": False}
    state["issued"].append(tok)
    return tok


def id_token():
    claims = {"email": "standin@example.com",
              "https://api.openai.com/auth": {"chatgpt_account_id": ACCOUNT, "chatgpt_plan_type": "pro"}}
    return "%s.%s.%s" % (b64url(b'{"alg":"RS256"}'), b64url(json.dumps(claims).encode()), b64url(b"sig"))


def write_login(provider):
    """The host CLI's login file, as if the user had just logged in (access token about to expire)."""
    access, exp = new_access(provider, 2)
    refresh = new_refresh(provider)
    if provider == "claude":
        doc = {"claudeAiOauth": {"accessToken": access, "refreshToken": refresh, "expiresAt": int(exp * 1000),
                                 "scopes": ["user:inference", "user:profile"], "subscriptionType": "max"}}
        name = "claude.json"
    elif provider == "chatgpt":
        doc = {"OPENAI_API_KEY": None, "tokens": {"id_token": id_token(), "access_token": access,
                                                  "refresh_token": refresh, "account_id": ACCOUNT},
               "last_refresh": "2026-11-27T00:00:00Z"}
        name = "codex.json"
    else:
        doc = {"access_token": access, "refresh_token": refresh, "scope": "https://www.googleapis.com/auth/cloud-platform",
               "token_type": "Bearer", "expiry_date": int(exp * 1000)}
        name = "gemini.json"
    path = os.path.join(DIR, name)
    with open(path + ".tmp", "w") as f:
        json.dump(doc, f)
    os.chmod(path + ".tmp", 0o600)
    os.replace(path + ".tmp", path)


class Api(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send_json(self, status, doc):
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def host(self):
        return (self.headers.get("Host") or "").split(":")[0].lower()

    def do_GET(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def handle_any(self):
        host = self.host()
        path = urllib.parse.urlsplit(self.path).path
        body = self.body()
        provider = TOKEN_PATHS.get((host, path))
        if provider and self.command == "POST":
            return self.refresh(provider, body)
        provider = API_HOSTS.get(host) or TOKEN_PATHS.get((host, path))
        auth = self.headers.get("Authorization") or ""
        tok = auth[7:] if auth.startswith("Bearer ") else ""
        with LOCK:
            info = access_tokens.get(tok)
            now = time.time()
            problem = None
            if provider is None:
                problem = "unknown host %s" % host
            elif info is None:
                problem = "%s %s%s: not an access token this stand-in issued (%s)" % (
                    provider, host, path, "a placeholder" if "airlock" in auth or "placeholder" in auth else tok[:12])
            elif info["provider"] != provider:
                problem = "%s: a %s token" % (provider, info["provider"])
            elif info["expires"] < now:
                problem = "%s: an expired access token (%.1f s ago)" % (provider, now - info["expires"])
            elif provider == "chatgpt" and self.headers.get("ChatGPT-Account-ID") != ACCOUNT:
                problem = "chatgpt: ChatGPT-Account-ID is %r" % self.headers.get("ChatGPT-Account-ID")
            if problem is None and reject_next.get(provider, 0) > 0:
                reject_next[provider] -= 1
                state.setdefault("rejected", []).append("%s %s" % (self.command, path))
                return self.send_json(401, {"error": {"code": "token_expired", "message": "expired"}})
            if info is not None and info["rejected"] and problem is None:
                # A server-side revocation: answered 401, not a violation of the proxy.
                return self.send_json(401, {"error": {"code": "token_revoked", "message": "revoked"}})
            if problem:
                state["violations"].append(problem)
                return self.send_json(401, {"error": {"code": "invalid_token", "message": problem}})
            state["api_ok"][provider] += 1
        state.setdefault("paths", []).append("%s %s%s" % (self.command, host, path))
        self.send_json(200, {"ok": True, "provider": provider, "path": path})

    def refresh(self, provider, body):
        if self.headers.get("Content-Type", "").startswith("application/json"):
            try:
                form = json.loads(body or b"{}")
            except ValueError:
                form = {}
        else:
            form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode()).items()}
        rt = form.get("refresh_token", "")
        with LOCK:
            if form.get("grant_type") != "refresh_token" or form.get("client_id") != CLIENTS[provider]:
                state["violations"].append("%s refresh: bad grant or client id %r" % (provider, form.get("client_id")))
                return self.send_json(400, {"error": "invalid_client"})
            if "placeholder" in rt:
                state["violations"].append("%s refresh: a placeholder refresh token reached the provider" % provider)
                return self.send_json(400, {"error": "invalid_grant"})
            info = refresh_tokens.get(rt)
            if info is None or info["provider"] != provider:
                state["violations"].append("%s refresh: unknown refresh token" % provider)
                return self.send_json(400, {"error": "invalid_grant"})
            if info["used"]:
                state["violations"].append("%s refresh: refresh token reused" % provider)
                return self.send_json(401, {"error": {"code": "refresh_token_reused"}})
            if provider in revoked:
                return self.send_json(400, {"error": "invalid_grant", "error_description": "Token has been revoked"})
            # Claude and OpenAI rotate refresh tokens (each works once); Google's stays valid.
            info["used"] = provider != "google"
            if provider == "google":
                state["google_refresh_uses"] = state.get("google_refresh_uses", 0) + 1
            access, exp = new_access(provider, LIFETIME)
            doc = {"access_token": access, "expires_in": LIFETIME, "token_type": "Bearer"}
            if provider != "google":  # Google keeps the refresh token; the others rotate it
                doc["refresh_token"] = new_refresh(provider)
            if provider == "chatgpt":
                doc["id_token"] = id_token()
            state["refreshes"][provider] += 1
        self.send_json(200, doc)


class Control(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, doc):
        body = json.dumps(doc).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with LOCK:
            self.reply(state)

    def do_POST(self):
        u = urllib.parse.urlsplit(self.path)
        provider = urllib.parse.parse_qs(u.query).get("provider", [""])[0]
        with LOCK:
            if u.path == "/revoke":
                revoked.add(provider)
            elif u.path == "/reject-access":
                for info in access_tokens.values():
                    if info["provider"] == provider:
                        info["rejected"] = True
            elif u.path == "/reject-next":
                reject_next[provider] = int(urllib.parse.parse_qs(u.query).get("n", ["1"])[0])
            elif u.path == "/relogin":
                revoked.discard(provider)
                write_login(provider)
        self.reply({"ok": True})


def main():
    global LIFETIME, DIR
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--control-port-file", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--lifetime", type=int, default=4)
    a = ap.parse_args()
    LIFETIME, DIR = a.lifetime, a.dir
    with LOCK:
        for p in CLIENTS:
            write_login(p)
    api = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    api.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    api.socket = ctx.wrap_socket(api.socket, server_side=True)
    control = ThreadingHTTPServer(("127.0.0.1", 0), Control)
    control.daemon_threads = True
    threading.Thread(target=control.serve_forever, daemon=True).start()
    for path, srv in ((a.port_file, api), (a.control_port_file, control)):
        with open(path + ".tmp", "w") as f:
            f.write(str(srv.server_address[1]))
        os.replace(path + ".tmp", path)
    api.serve_forever()


if __name__ == "__main__":
    main()
