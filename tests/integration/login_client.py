#!/usr/bin/env python3
"""A client shaped like the subscription CLIs (python3 stdlib only): through the proxy
($HTTPS_PROXY or --proxy), with the placeholder login files in --home (a session's home) or
built-in placeholders, it calls each provider's API the way the CLI does, and now and then
refreshes by itself the way the CLI would (POST to the token endpoint with its placeholder
refresh token), for --seconds.

    login_client.py [--proxy URL] [--ca FILE] [--seconds N] [--home DIR] [--providers a,b]
                    [--once PROVIDER]   # one API request; prints {"status", "x_airlock_error", "body"}

Prints one JSON line: {"api": {provider: {status: count}}, "own_refresh": {provider: count of
answers holding placeholders only}, "problems": [...]}.
"""
import argparse
import base64
import http.client
import json
import os
import ssl
import sys
import time
import urllib.parse

API = {
    "claude": ("api.anthropic.com", "/v1/messages"),
    "chatgpt": ("chatgpt.com", "/backend-api/codex/responses"),
    "google": ("cloudcode-pa.googleapis.com", "/v1internal:generateContent"),
}
TOKEN = {
    "claude": ("platform.claude.com", "/v1/oauth/token", "application/json"),
    "chatgpt": ("auth.openai.com", "/oauth/token", "application/json"),
    "google": ("oauth2.googleapis.com", "/token", "application/x-www-form-urlencoded"),
}


def jwt_claims(tok):
    part = tok.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def placeholders(home):
    """The placeholder access/refresh tokens (and account) from the session's login files."""
    out = {}
    if not home:
        return {"claude": ("sk-ant-oat01-airlock-placeholder", "sk-ant-ort01-airlock-placeholder", ""),
                "chatgpt": ("airlock-placeholder", "airlock-placeholder-refresh", "acct-standin-42"),
                "google": ("ya29.airlock-placeholder", "1//airlock-placeholder", "")}
    try:
        with open(os.path.join(home, ".claude/.credentials.json")) as f:
            c = json.load(f)["claudeAiOauth"]
            out["claude"] = (c["accessToken"], c["refreshToken"], "")
    except OSError:
        pass
    try:
        with open(os.path.join(home, ".codex/auth.json")) as f:
            t = json.load(f)["tokens"]
            out["chatgpt"] = (t["access_token"], t["refresh_token"], t["account_id"])
    except OSError:
        pass
    try:
        with open(os.path.join(home, ".gemini/oauth_creds.json")) as f:
            g = json.load(f)
            out["google"] = (g["access_token"], g["refresh_token"], "")
    except OSError:
        pass
    return out


class Via:
    """HTTPS connections through the proxy, one kept per host."""

    def __init__(self, proxy, ca):
        u = urllib.parse.urlsplit(proxy)
        self.host, self.port = u.hostname, u.port
        cred = "%s:%s" % (urllib.parse.unquote(u.username or ""), urllib.parse.unquote(u.password or ""))
        self.auth = {"Proxy-Authorization": "Basic " + base64.b64encode(cred.encode()).decode()}
        self.ctx = ssl.create_default_context(cafile=ca) if ca else ssl.create_default_context()
        self.conns = {}

    def request(self, host, method, path, headers, body=None):
        for attempt in range(2):
            c = self.conns.get(host)
            if c is None:
                c = http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=30)
                c.set_tunnel(host, 443, headers=self.auth)
                self.conns[host] = c
            try:
                c.request(method, path, body=body, headers=headers)
                r = c.getresponse()
                data = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    c.close()
                    self.conns.pop(host, None)
                return r.status, r.getheader("X-Airlock-Error", ""), data
            except (OSError, http.client.HTTPException):
                c.close()
                self.conns.pop(host, None)
                if attempt:
                    raise
        raise RuntimeError("unreachable")


def api_call(via, provider, ph):
    host, path = API[provider]
    access, _, account = ph[provider]
    headers = {"Authorization": "Bearer " + access, "Content-Type": "application/json"}
    if provider == "chatgpt":
        headers["ChatGPT-Account-ID"] = account or "placeholder-account"
    if provider == "claude":
        headers["anthropic-beta"] = "oauth-2025-04-20"
    return via.request(host, "POST", path, headers, b'{"model":"m","input":"hi"}')


def own_refresh(via, provider, ph, problems):
    host, path, ctype = TOKEN[provider]
    _, refresh, _ = ph[provider]
    if ctype == "application/json":
        body = json.dumps({"grant_type": "refresh_token", "refresh_token": refresh, "client_id": "cli"}).encode()
    else:
        body = urllib.parse.urlencode({"grant_type": "refresh_token", "refresh_token": refresh}).encode()
    status, _, data = via.request(host, "POST", path, {"Content-Type": ctype}, body)
    if status != 200:
        problems.append("%s own refresh: HTTP %d" % (provider, status))
        return False
    doc = json.loads(data)
    access = doc.get("access_token", "")
    if provider == "chatgpt":
        claims = jwt_claims(access)
        ok = claims.get("airlock") == "placeholder" and "placeholder" in doc.get("refresh_token", "")
    else:
        ok = "placeholder" in access and "placeholder" in doc.get("refresh_token", "")
    if "real-" in data.decode():
        ok = False
        problems.append("%s own refresh: a real token in the answer" % provider)
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--proxy", default=os.environ.get("HTTPS_PROXY", ""))
    ap.add_argument("--ca", default=os.environ.get("SSL_CERT_FILE", ""))
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--home", default="")
    ap.add_argument("--providers", default="claude,chatgpt,google")
    ap.add_argument("--once", default="")
    a = ap.parse_args()
    via = Via(a.proxy, a.ca)
    ph = placeholders(a.home)
    if a.once:
        status, err, data = api_call(via, a.once, ph)
        print(json.dumps({"status": status, "x_airlock_error": err, "body": data.decode(errors="replace")[:300]}))
        return
    providers = [p for p in a.providers.split(",") if p in ph]
    result = {"api": {p: {} for p in providers}, "own_refresh": {p: 0 for p in providers}, "problems": []}
    end = time.time() + a.seconds
    i = 0
    while time.time() < end:
        for p in providers:
            try:
                status, err, _ = api_call(via, p, ph)
            except Exception as e:  # noqa: BLE001 - reported, not raised
                result["problems"].append("%s: %s" % (p, e))
                continue
            key = str(status) + (" " + err if err else "")
            result["api"][p][key] = result["api"][p].get(key, 0) + 1
            if i % 10 == 3:
                try:
                    if own_refresh(via, p, ph, result["problems"]):
                        result["own_refresh"][p] += 1
                except Exception as e:  # noqa: BLE001
                    result["problems"].append("%s own refresh: %s" % (p, e))
        i += 1
        time.sleep(0.05)
    print(json.dumps(result))


if __name__ == "__main__":
    sys.exit(main())
